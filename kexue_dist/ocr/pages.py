"""Render a page of text lines with one font: the benchmark's input, with its line boxes as the truth.

Layout: left-aligned lines, one ``size_px`` font, line pitch ``round(line_spacing * size_px)``, a white
margin of ``margin`` pixels (default: one em) on every side; the page is as wide as the longest line.
Degradation is applied to the whole page after rendering, in this order:

* ``blur``: Gaussian blur, radius in pixels (PIL ``GaussianBlur``);
* ``noise``: that fraction of the pixels, drawn independently, is *flipped* to the opposite extreme
  (paper or grey >= 128 -> black pepper, ink < 128 -> white salt), so about ``noise`` of all pixels change.
  (``glyphs.salt_and_pepper`` instead sets its pixels to a random extreme, which changes only about half
  of them on white paper.)

The line boxes are the ink boxes of the *clean* render (before blur and noise): every pixel darker than
paper (< 255) of line ``i``'s text lies in ``boxes[i]`` (``[x0, y0, x1, y1]``, x1/y1 exclusive).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from kexue_dist.errors import UserError
from kexue_dist.ocr.fonts import Face


def flip_noise(img: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Flip about ``rate`` of the pixels: dark (< 128) -> 255, light (>= 128) -> 0."""
    if rate <= 0:
        return img
    mask = rng.random(img.shape) < rate
    out = img.copy()
    out[mask] = np.where(img[mask] < 128, 255, 0).astype(np.uint8)
    return out


def render_page(lines: list[str], face: Face, size_px: int, noise: float = 0.0, blur: float = 0.0, seed: int = 0,
                margin: int | None = None, line_spacing: float = 1.5) -> tuple[np.ndarray, list[list[int]]]:
    """Lines of text -> (grey page, uint8, paper 255 / ink 0; one ink box per line).

    A line with no ink (empty or blank) gets the empty box ``[x, y, x, y]`` at its pen position."""
    if size_px < 4:
        raise UserError(f"render_page: size_px must be >= 4 (got {size_px})")
    if not 0.0 <= noise <= 1.0 or blur < 0:
        raise UserError(f"render_page: noise must be in [0, 1] and blur >= 0 (got {noise}, {blur})")
    margin = size_px if margin is None else int(margin)
    if margin < 0 or line_spacing <= 0:
        raise UserError(f"render_page: margin must be >= 0 and line_spacing > 0 (got {margin}, {line_spacing})")
    font = face.load(size_px)
    ascent, descent = font.getmetrics()
    pitch = max(1, round(line_spacing * size_px))
    widths = [math.ceil(font.getlength(t)) for t in lines]
    width = 2 * margin + max(widths, default=0)
    height = 2 * margin + (len(lines) - 1) * pitch + ascent + descent if lines else 2 * margin
    page = np.full((max(1, height), max(1, width)), 255, dtype=np.uint8)

    pad = size_px  # room around each line's own canvas for glyphs that overhang their advance box
    boxes = []
    for i, (text, w) in enumerate(zip(lines, widths)):
        x, y = margin, margin + i * pitch  # pen position: left edge, top of the ascent
        canvas = Image.new("L", (w + 2 * pad, ascent + descent + 2 * pad), 255)
        ImageDraw.Draw(canvas).text((pad, pad), text, font=font, fill=0)
        ink = np.asarray(canvas)
        # the part of the canvas that falls on the page
        px0, py0 = x - pad, y - pad
        cx0, cy0 = max(0, -px0), max(0, -py0)
        cx1, cy1 = min(ink.shape[1], page.shape[1] - px0), min(ink.shape[0], page.shape[0] - py0)
        ink = ink[cy0:cy1, cx0:cx1]
        ox, oy = px0 + cx0, py0 + cy0
        region = page[oy : oy + ink.shape[0], ox : ox + ink.shape[1]]
        np.minimum(region, ink, out=region)
        rows = np.flatnonzero((ink < 255).any(axis=1))
        cols = np.flatnonzero((ink < 255).any(axis=0))
        if rows.size:
            boxes.append([int(ox + cols[0]), int(oy + rows[0]), int(ox + cols[-1] + 1), int(oy + rows[-1] + 1)])
        else:
            boxes.append([x, y, x, y])

    if blur > 0:
        page = np.asarray(Image.fromarray(page).filter(ImageFilter.GaussianBlur(blur)), dtype=np.uint8)
    if noise > 0:
        page = flip_noise(page, noise, np.random.default_rng(seed))
    return np.ascontiguousarray(page), boxes
