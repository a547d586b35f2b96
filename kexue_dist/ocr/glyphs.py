"""One character image in, one normalised glyph out: the same function for training data and pages.

Su's code rendered training glyphs at the font origin but cropped page characters to their ink box;
the mismatch cost accuracy. Here :func:`normalise_cell` is the only normaliser: a *cell* is a crop that
spans the text line's full height and the character's ink columns. Training cells are rendered so that
they look like what the page cutter produces (line-height cell, ink-tight columns, jittered margins);
both then go through the same pad-to-square and resize. Vertical position survives, so "，" (bottom),
"·" (middle) and "'" (top) stay distinguishable.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from kexue_dist.ocr.fonts import Face

INK_THRESHOLD = 96  # ink value (255 - grey) above which a column counts as inked


def normalise_cell(cell: np.ndarray, side: int) -> np.ndarray:
    """Grey cell (dark ink on light paper, any size) -> ``side x side`` uint8 ink map (255 = ink).

    Columns are cropped to the ink; rows are kept (they carry the line's geometry); the result is padded
    to a centred square and resized with area averaging."""
    ink = 255 - np.asarray(cell, dtype=np.uint8)
    cols = np.flatnonzero(ink.max(axis=0) > INK_THRESHOLD)
    if cols.size:
        ink = ink[:, cols[0] : cols[-1] + 1]
    h, w = ink.shape
    n = max(h, w, 1)
    square = np.zeros((n, n), dtype=np.uint8)
    top, left = (n - h) // 2, (n - w) // 2
    square[top : top + h, left : left + w] = ink
    return np.asarray(Image.fromarray(square).resize((side, side), Image.Resampling.BOX if n >= side else Image.Resampling.BILINEAR))


def salt_and_pepper(img: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Flip ``rate`` of the pixels to pure black or white (Su's test noise at 15%)."""
    if rate <= 0:
        return img
    out = img.copy()
    mask = rng.random(img.shape) < rate
    out[mask] = rng.choice(np.array([0, 255], dtype=np.uint8), size=int(mask.sum()))
    return out


@lru_cache(maxsize=1024)
def em_box(face: Face, size: int) -> tuple[int, int]:
    """The vertical extent (top, bottom) of a full-height hanzi drawn at the origin: the line box of a line
    of Chinese text in this face. Measured from 国 (its frame fills the em square)."""
    _, top, _, bottom = face.load(size).getbbox("国")
    return top, bottom


def render_cell(char: str, face: Face, size: int, rng: np.random.Generator | None = None, *,
                noise: float = 0.0, blur: float = 0.0, augment: bool = False) -> np.ndarray:
    """A grey (paper 255, ink 0) cell for one character as the page cutter would see it.

    ``augment`` adds what printing and scanning do: margins of the line box jittered by up to 12% of
    the size, a small rotation/shear, stroke weight (dilate/erode on larger sizes), blur and noise."""
    rng = rng or np.random.default_rng(0)
    font = face.load(size)
    top, bottom = em_box(face, size)
    pad = size // 2 + 2
    canvas = Image.new("L", (size * 2 + 2 * pad, size * 2 + 2 * pad), 255)
    ImageDraw.Draw(canvas).text((pad, pad), char, font=font, fill=0)
    if augment:
        angle, shear = rng.uniform(-3, 3), rng.uniform(-0.08, 0.08)
        cx, cy = pad + size / 2, pad + (top + bottom) / 2
        canvas = canvas.transform(canvas.size, Image.Transform.AFFINE, (1, shear, -shear * cy, 0, 1, 0),
                                  resample=Image.Resampling.BILINEAR, fillcolor=255)
        canvas = canvas.rotate(angle, resample=Image.Resampling.BILINEAR, center=(cx, cy), fillcolor=255)
        if size >= 24 and rng.random() < 0.3:
            canvas = canvas.filter(ImageFilter.MinFilter(3))  # heavier strokes (thinning would erase light faces)
        jitter = rng.uniform(-0.04, 0.12, size=2) * size
    else:
        jitter = np.zeros(2)
    y0 = int(round(pad + top - jitter[0]))
    y1 = int(round(pad + bottom + jitter[1]))
    cell = np.asarray(canvas)[max(0, y0) : max(y0 + 1, y1)]
    cols = np.flatnonzero((255 - cell).max(axis=0) > INK_THRESHOLD)
    if cols.size:  # the page cutter finds columns on the clean (denoised) ink: crop before blur and noise
        cell = cell[:, max(0, cols[0] - 1) : cols[-1] + 2]
    if blur > 0:
        cell = np.asarray(Image.fromarray(cell).filter(ImageFilter.GaussianBlur(blur)))
    if noise > 0:
        cell = salt_and_pepper(cell, noise, rng)
    return cell


def render_glyph(char: str, face: Face, size: int, side: int, rng: np.random.Generator | None = None, **kw) -> np.ndarray:
    """:func:`render_cell` then :func:`normalise_cell`: one training/test sample."""
    return normalise_cell(render_cell(char, face, size, rng, **kw), side)
