"""Markdown reports with PNG plots: what the demo (and each workload's results command) writes."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(history: list[dict], keys: list[str], path: Path, title: str, ylabel: str = "") -> Path:
    """One line per metric key against step; steps without the key are skipped."""
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    for key in keys:
        points = [(row["step"], row[key]) for row in history if key in row]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="." if len(xs) < 30 else None, label=key)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_json(path, obj, ensure_ascii: bool = True) -> None:
    """Write a results file atomically (a temp file, then rename): a killed run never leaves half a JSON."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=ensure_ascii, default=str) + "\n")
    os.replace(tmp, path)


def aligned_table(head: list[str], body: list[list[str]]) -> str:
    """A Markdown table of strings with padded columns, for benchmarks that print to a terminal."""
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(b.ljust(w) for b, w in zip(row, widths)) + " |" for row in body]
    return "\n".join(lines)


def md_table(header: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    """Accumulates Markdown; image paths are written relative to the report's directory."""

    def __init__(self, path: Path, title: str):
        self.path = Path(path)
        self.parts = [f"# {title}\n"]

    def section(self, title: str) -> None:
        self.parts.append(f"\n## {title}\n")

    def text(self, text: str) -> None:
        self.parts.append(text.rstrip() + "\n")

    def table(self, header: list[str], rows: list[list]) -> None:
        self.parts.append(md_table(header, rows) + "\n")

    def image(self, path: Path, alt: str) -> None:
        rel = os.path.relpath(path, self.path.parent)
        self.parts.append(f"![{alt}]({rel})\n")

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".md.tmp")
        tmp.write_text("\n".join(self.parts), encoding="utf-8")
        tmp.replace(self.path)
        return self.path


def image_grid(images, cols: int = 8, pad: int = 2, scale: int = 1):
    """(N, H, W) or (N, H, W, C) images (uint8, or floats in [0, 1]) -> one uint8 grid image, row-major,
    ``pad`` black pixels between tiles, each pixel repeated ``scale`` times (28-px tiles read badly)."""
    import numpy as np

    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = (np.clip(images, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w = images.shape[:3]
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), dtype=np.uint8)
    for i, tile in enumerate(images):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = tile
    return grid
