"""Load and validate a folder of shredded pieces; detect the layout.

Everything here runs before Ray starts and before any output exists: bad input raises
:class:`kexue_dist.errors.UserError` with one clear line.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from kexue_dist.errors import UserError

IMAGE_EXTS = (".bmp", ".png")
LAYOUTS = ("strips", "grid", "two-sided")
PAGE_ASPECT = 1.414  # height / width of a typical page (A4); the contest page is 1.447
_FACE_RE = re.compile(r"^(.*\d)([ab])$")


@dataclass
class Layout:
    kind: str  # strips | grid | two-sided
    rows: int
    cols: int
    pieces: list[str] = field(default_factory=list)  # physical piece ids (two-sided: without a/b)


def _to_grey(img, name: str) -> np.ndarray:
    mode = img.mode
    if mode in ("L", "1", "P", "RGB", "RGBA", "LA", "I;16", "I", "F"):
        if mode in ("RGBA", "LA"):
            from PIL import Image

            bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
            bg.alpha_composite(img.convert("RGBA"))
            img = bg
        if mode in ("I;16", "I", "F"):
            arr = np.asarray(img, dtype=np.float64)
            top = 65535.0 if mode == "I;16" or arr.max() > 255 else 255.0
            return np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return np.asarray(img.convert("L"), dtype=np.uint8)
    raise UserError(f"piece {name!r} has image mode {mode!r}, which cannot be converted to greyscale")


def read_pieces(path: str) -> dict[str, np.ndarray]:
    """Read every BMP/PNG in ``path`` as a uint8 greyscale array keyed by file stem."""
    if not os.path.isdir(path):
        raise UserError(f"{path}: not a directory of pieces")
    from PIL import Image, UnidentifiedImageError

    pieces: dict[str, np.ndarray] = {}
    origin: dict[str, str] = {}
    entries = sorted(e for e in os.listdir(path) if not e.startswith("."))
    for entry in entries:
        full = os.path.join(path, entry)
        if os.path.isdir(full):
            continue
        stem, ext = os.path.splitext(entry)
        if ext.lower() not in IMAGE_EXTS:
            raise UserError(f"{full}: not a BMP or PNG piece (only .bmp and .png files may be in the folder)")
        if stem in pieces:
            raise UserError(f"repeated piece name {stem!r}: {origin[stem]} and {entry}")
        try:
            with Image.open(full) as img:
                img.load()
                arr = _to_grey(img, entry)
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise UserError(f"{full}: not a readable image ({err.__class__.__name__})") from None
        pieces[stem] = arr
        origin[stem] = entry
    if not pieces:
        raise UserError(f"{path}: no .bmp or .png pieces found")
    return pieces


def check_sizes(pieces: dict[str, np.ndarray]) -> tuple[int, int]:
    sizes: dict[tuple[int, int], list[str]] = {}
    for name, arr in pieces.items():
        if arr.ndim != 2:
            raise UserError(f"piece {name!r} is not a greyscale image")
        sizes.setdefault(arr.shape, []).append(name)
    if len(sizes) > 1:
        common = max(sizes, key=lambda s: len(sizes[s]))
        odd = next(n for s, ns in sizes.items() if s != common for n in ns)
        h, w = common
        oh, ow = pieces[odd].shape
        raise UserError(
            f"mixed piece sizes: {len(sizes[common])} pieces are {w}x{h} but {odd!r} is {ow}x{oh}"
        )
    (h, w), = sizes
    if h < 4 or w < 4:
        raise UserError(f"pieces of {w}x{h} pixels are too small to restore (need at least 4x4)")
    return h, w


def _faces(names) -> dict[str, dict[str, str]] | None:
    """Group names as two-sided faces {piece: {"a": name, "b": name}}; None if names are not faces."""
    groups: dict[str, dict[str, str]] = {}
    for n in names:
        m = _FACE_RE.match(n)
        if not m:
            return None
        groups.setdefault(m.group(1), {})[m.group(2)] = n
    return groups


def best_grid(n: int, h: int, w: int) -> tuple[int, int]:
    """Rows x cols for n pieces of h x w whose page is closest to a portrait page shape."""
    best = None
    for rows in range(1, n + 1):
        if n % rows:
            continue
        cols = n // rows
        if cols < 2 and n > 1:
            continue
        aspect = (rows * h) / (cols * w)
        score = abs(math.log(aspect / PAGE_ASPECT))
        if best is None or score < best[0]:
            best = (score, rows, cols)
    if best is None:
        return 1, n
    return best[1], best[2]


def detect_layout(pieces: dict[str, np.ndarray], layout: str | None = None,
                  rows: int | None = None) -> Layout:
    """Validate the piece set and decide strips / grid / two-sided and the grid shape."""
    if layout is not None and layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    h, w = check_sizes(pieces)
    names = sorted(pieces)
    faces = _faces(names)
    two_sided = layout == "two-sided" or (layout is None and faces is not None and len(faces) >= 2
                                          and all(len(f) == 2 for f in faces.values()))
    if layout is None and faces is not None and not two_sided:
        # names all look like faces but some partner is missing: say so instead of guessing
        partial = [p for p, f in faces.items() if len(f) == 1]
        if partial and len(partial) < len(faces):
            p = partial[0]
            have = next(iter(faces[p]))
            miss = "b" if have == "a" else "a"
            raise UserError(f"missing face: {p}{have} has no partner {p}{miss}")
    if two_sided:
        if faces is None:
            bad = next(n for n in names if not _FACE_RE.match(n))
            raise UserError(f"two-sided pieces must be named like 012a/012b; {bad!r} is not")
        for p, f in sorted(faces.items()):
            if len(f) != 2:
                have = next(iter(f))
                miss = "b" if have == "a" else "a"
                raise UserError(f"missing face: {p}{have} has no partner {p}{miss}")
        ids = sorted(faces)
    else:
        ids = names
    n = len(ids)
    if n < 2:
        raise UserError(f"need at least 2 pieces, found {n}")
    if rows is not None:
        if rows < 1 or n % rows:
            raise UserError(f"{n} pieces do not fill {rows} rows evenly")
        r, c = rows, n // rows
    elif layout == "strips":
        r, c = 1, n
    else:
        r, c = best_grid(n, h, w)
    if layout == "strips" and r != 1:
        raise UserError(f"--layout strips needs one row, got {r}")
    if layout == "grid" and r == 1:
        # a grid whose best shape is a single row: pick the next best factorisation if any
        alts = [(abs(math.log((k * h) / ((n // k) * w) / PAGE_ASPECT)), k) for k in range(2, n) if n % k == 0]
        if not alts:
            raise UserError(f"{n} pieces cannot form a grid with more than one row")
        r = min(alts)[1]
        c = n // r
    if two_sided:
        kind = "two-sided"
    elif layout is not None:
        kind = layout
    else:
        kind = "strips" if r == 1 else "grid"
    if kind == "strips" and r != 1:
        kind = "grid"
    return Layout(kind=kind, rows=r, cols=c, pieces=ids)


def load_dir(path: str, layout: str | None = None, rows: int | None = None):
    """Read and validate a folder: returns (pieces, Layout)."""
    pieces = read_pieces(path)
    lay = detect_layout(pieces, layout, rows)
    return pieces, lay
