"""Page geometry: binarisation, text lines, and the over-segmentation that recognition picks from.

Su cut characters at empty columns and kept a cut only where neighbouring cuts were more than 1.2 line
heights apart; punctuation and Latin letters broke that rule. Here the cutter only proposes: empty
columns give atomic segments (a run wider than 1.3 line heights is split evenly, Su's rule for touching
characters), any run of consecutive segments no wider than ``MAX_CELL`` line heights is a candidate
character, and the decoder (``decode.py``) chooses the segmentation together with the characters, using
the recogniser's scores and the bigram LM. So 的 stays whole when 白+勺 scores worse, while "，" and
"i" stay single.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

MAX_CELL = 1.25  # widest candidate character, in line heights
MAX_MERGE = 4  # most atomic segments merged into one candidate


def to_grey(image) -> np.ndarray:
    """PIL image or array -> 2-D uint8, dark ink on light paper (a light-on-dark page is inverted)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("L"))
    grey = np.asarray(image)
    if grey.ndim == 3:
        grey = grey[..., :3].mean(axis=2)
    grey = grey.astype(np.uint8)
    return 255 - grey if np.median(grey) < 128 else grey


def denoise(grey: np.ndarray) -> np.ndarray:
    """Undo salt-and-pepper noise, and only that: when more than 0.2% of the pixels are isolated dark
    specks (no dark 8-neighbour; clean print has almost none, even thin 14 px serif strokes), pixels at
    the extremes that disagree with their 3x3 median by more than half the range take the median.
    A plain median filter would also erase the thin strokes of small light faces."""
    dark = grey < 128
    neighbours = ndimage.convolve(dark.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") - dark
    if np.mean(dark & (neighbours == 0)) <= 0.002:
        return grey
    med = ndimage.median_filter(grey, size=3)
    impulse = ((grey <= 16) | (grey >= 239)) & (np.abs(grey.astype(np.int16) - med) > 128)
    return np.where(impulse, med, grey).astype(np.uint8)


def binarise(grey: np.ndarray) -> np.ndarray:
    """Otsu's threshold -> boolean ink mask; specks (components under 0.2% of the median component area,
    at most 3 px) are dropped."""
    hist = np.bincount(grey.ravel(), minlength=256).astype(float)
    p = hist / max(hist.sum(), 1)
    omega, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    between = (mu[-1] * omega - mu) ** 2 / np.maximum(omega * (1 - omega), 1e-12)
    ink = grey <= int(np.argmax(between))
    labels, n = ndimage.label(ink)
    if n:
        sizes = np.bincount(labels.ravel())[1:]
        small = sizes <= min(3, max(1, 0.002 * np.median(sizes)))
        ink[np.isin(labels, np.flatnonzero(small) + 1)] = False
    return ink


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


@dataclass
class Line:
    x0: int
    y0: int
    x1: int
    y1: int  # exclusive

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def box(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


def find_lines(ink: np.ndarray) -> list[Line]:
    """Horizontal projection: bands of inked rows. A band much thinner than the median (a row of dots,
    a stray rule) joins its nearest neighbour when close, else is dropped if tiny."""
    bands = _runs(ink.any(axis=1))
    if not bands:
        return []
    median = float(np.median([b - a for a, b in bands]))
    merged: list[list[int]] = []
    for a, b in bands:
        if merged and (b - a < 0.4 * median or merged[-1][1] - merged[-1][0] < 0.4 * median) and a - merged[-1][1] < 0.3 * median:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    lines = []
    for a, b in merged:
        if b - a < 0.25 * median:
            continue
        cols = np.flatnonzero(ink[a:b].any(axis=0))
        lines.append(Line(int(cols[0]), int(a), int(cols[-1]) + 1, int(b)))
    return lines


def char_pitch(runs: list[tuple[int, int]], height: int) -> float:
    """The line's typical full-character ink width: the median width of inked runs between 0.6 and 1.3
    line heights (single hanzi); the line height when there are none."""
    widths = [b - a for a, b in runs if 0.6 * height <= b - a <= 1.3 * height]
    return float(np.median(widths)) if widths else float(height)


def segments(ink_line: np.ndarray) -> tuple[list[tuple[int, int]], float]:
    """Atomic column segments [x0, x1) of one line's ink, and the line's character pitch.

    A run wider than 1.1 pitches holds touching characters: it is cut at the columns with the least
    ink (Su split such runs evenly), one cut more than round(width / pitch) - 1, each at least a quarter
    pitch from the run's ends and from the other cuts; the decoder may merge pieces back."""
    h = ink_line.shape[0]
    runs = _runs(ink_line.any(axis=0))
    pitch = char_pitch(runs, h)
    profile = ink_line.sum(axis=0)
    out = []
    for a, b in runs:
        cuts = []
        if b - a > 1.1 * pitch:
            margin = max(1, int(0.25 * pitch))
            order = a + margin + np.argsort(profile[a + margin : b - margin], kind="stable")
            for x in order.tolist():
                if len(cuts) >= max(1, int(round((b - a) / pitch)) - 1) + 1:
                    break
                if all(abs(x - c) >= margin for c in cuts):
                    cuts.append(x)
        edges = [a, *sorted(cuts), b]
        out.extend(zip(edges[:-1], edges[1:]))
    return out, pitch


def candidates(segs: list[tuple[int, int]], height: int, pitch: float | None = None) -> list[tuple[int, int]]:
    """(i, j): segments i..j-1 merged into one candidate character, no wider than MAX_CELL line heights
    nor 1.15 character pitches (a merge wider than any character of the line is two characters)."""
    limit = min(MAX_CELL * height, 1.15 * (pitch or height))
    out = []
    for i in range(len(segs)):
        for j in range(i + 1, min(len(segs), i + MAX_MERGE) + 1):
            if j > i + 1 and segs[j - 1][1] - segs[i][0] > limit:
                break
            out.append((i, j))
    return out
