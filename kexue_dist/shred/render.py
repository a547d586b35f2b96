"""Assemble restored pages as images."""

from __future__ import annotations

import numpy as np


def assemble(grid: list[list[str | None]], pieces: dict[str, np.ndarray], mirror_name=None) -> np.ndarray:
    """Paste pieces (by name) into a page; None cells stay mid-grey."""
    some = next(iter(pieces.values()))
    h, w = some.shape
    R = len(grid)
    C = max(len(r) for r in grid) if grid else 0
    page = np.full((R * h, C * w), 200, np.uint8)
    for r, row in enumerate(grid):
        for c, name in enumerate(row):
            if name is None:
                continue
            page[r * h:(r + 1) * h, c * w:(c + 1) * w] = pieces[name]
    return page


def save_png(arr: np.ndarray, path: str) -> None:
    from PIL import Image

    Image.fromarray(arr).save(path)
