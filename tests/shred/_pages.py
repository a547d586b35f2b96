"""Tiny clean synthetic pages with known answers (independent of the synth module)."""

import numpy as np

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def text_page(width=360, height=400, seed=0, size=18):
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    img = Image.new("L", (width, height), 255)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, size)
    words = ["restore", "shred", "page", "the", "of", "strip", "cut", "ink", "line", "seam", "order",
             "paper", "text", "glue", "every", "piece", "edge", "row"]
    y = 10
    while y < height - size:
        line = " ".join(rng.choice(words, 12))
        d.text((4 + int(rng.integers(0, 3)), y), line, fill=0, font=font)
        y += int(size * 1.6)
    return np.asarray(img)


def noise_page(width, height, seed=0):
    """A smooth random texture: every seam is unique, so restoration must be exact."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (height // 6 + 2, width // 6 + 2))
    from PIL import Image

    img = Image.fromarray(small.astype(np.uint8)).resize((width, height), Image.BICUBIC)
    return np.asarray(img)


def cut(page, rows, cols, seed=0):
    h, w = page.shape[0] // rows, page.shape[1] // cols
    rng = np.random.default_rng(seed)
    labels = rng.permutation(rows * cols)
    pieces, truth = {}, []
    for r in range(rows):
        row = []
        for c in range(cols):
            name = f"{labels[r * cols + c]:03d}"
            pieces[name] = np.ascontiguousarray(page[r * h:(r + 1) * h, c * w:(c + 1) * w])
            row.append(name)
        truth.append(row)
    return pieces, truth


def write(pieces, folder, ext=".png"):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for k, v in pieces.items():
        Image.fromarray(v).save(folder / f"{k}{ext}")
    return folder
