"""Sample grids in a few lines of numpy + PIL (no torchvision)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def make_grid(images, nrow: int | None = None, pad: int = 2, value: int = 255) -> np.ndarray:
    """(N, H, W) or (N, 1, H, W) images in [0, 1] (float) or uint8 -> one uint8 (rows*H', cols*W') image,
    ``pad`` pixels of ``value`` between tiles and around the border."""
    x = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images)
    if x.ndim == 4:
        x = x[:, 0]
    if x.dtype != np.uint8:
        x = (np.nan_to_num(np.clip(x, 0, 1), nan=0.0) * 255 + 0.5).astype(np.uint8)
    n, h, w = x.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = x[i]
    return grid


def save_png(grid: np.ndarray, path: Path | str, scale: int = 1) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(grid)
    if scale > 1:
        image = image.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    image.save(path)
    return path
