"""The OCR systems a user would pick instead, wrapped as ``image -> text`` for the benchmark.

Each factory returns a callable taking a PIL image or a 2-D uint8 array (dark text on light paper) and
returning the page's text, lines top to bottom joined by ``"\\n"``. A peer that is not installed raises
:class:`kexue_dist.errors.UserError` naming what to install.

* :func:`rapidocr_reader`: RapidOCR (``rapidocr-onnxruntime==1.4.4``: PP-OCRv4 detector + recogniser, ONNX
  weights inside the wheel, offline). Install: ``pip install -e ".[ocr-bench]"``.
* :func:`tesseract_reader`: Tesseract 5 with ``chi_sim`` via its command line (Debian ``tesseract-ocr``,
  ``tesseract-ocr-chi-sim``). Page segmentation mode 6 ("one uniform block of text") is the default:
  on validation pages (corpus split "valid", the held-out font, 32/18/14 px, clean and noisy) it gave a
  lower CER than the automatic mode 3, which drops or splits lines of a plain text block
  (``benchmarks/ocr_vs_peers.py --psm`` reruns the comparison's tesseract with another mode).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from typing import Callable

import numpy as np

from kexue_dist.errors import UserError

RAPIDOCR_HINT = 'pip install -e ".[ocr-bench]" (rapidocr-onnxruntime==1.4.4 and its onnxruntime, opencv-python)'
TESSERACT_HINT = "apt-get install tesseract-ocr tesseract-ocr-chi-sim (Debian packages, listed in debian-packages.txt)"
TESSERACT_PSM = 6

Reader = Callable[[object], str]


def _gray(image) -> np.ndarray:
    """PIL image or array -> 2-D uint8 array."""
    if isinstance(image, np.ndarray):
        arr = image
    else:
        arr = np.asarray(image.convert("L"))
    if arr.ndim == 3:
        from PIL import Image

        arr = np.asarray(Image.fromarray(arr).convert("L"))
    if arr.ndim != 2:
        raise UserError(f"OCR input must be a 2-D grey image (got shape {arr.shape})")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def group_lines(items: list[tuple[list[float], str]]) -> list[str]:
    """``[(box [x0, y0, x1, y1], text), ...]`` in any order -> line texts, top to bottom.

    A box joins a line when its vertical centre lies inside the line's vertical span (a detector may cut
    one printed line into several boxes); pieces of a line are joined left to right without a space."""
    lines: list[dict] = []
    for box, text in sorted(items, key=lambda it: (it[0][1] + it[0][3]) / 2):
        cy = (box[1] + box[3]) / 2
        for line in lines:
            if line["y0"] <= cy <= line["y1"]:
                line["parts"].append((box[0], text))
                break
        else:
            lines.append({"y0": box[1], "y1": box[3], "parts": [(box[0], text)]})
    lines.sort(key=lambda ln: ln["y0"])
    return ["".join(t for _, t in sorted(ln["parts"], key=lambda p: p[0])) for ln in lines]


def rapidocr_reader(threads: int | None = None) -> Reader:
    """RapidOCR (PP-OCRv4) with its default settings; ``threads`` = ONNX Runtime intra-op threads (None: all)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as err:
        raise UserError(f"RapidOCR is not installed ({err}): {RAPIDOCR_HINT}") from None
    kwargs = {}
    if threads:
        kwargs = {"intra_op_num_threads": int(threads), "inter_op_num_threads": 1}
    engine = RapidOCR(**kwargs)

    def read(image) -> str:
        result, _elapsed = engine(_gray(image))
        items = []
        for quad, text, _score in result or []:
            xs, ys = [p[0] for p in quad], [p[1] for p in quad]
            items.append(([min(xs), min(ys), max(xs), max(ys)], text))
        return "\n".join(group_lines(items))

    return read


_CJK = "\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef\u2014\u2026\u00b7\u201c\u201d\u2018\u2019"
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])[ \t]+|[ \t]+(?=[{_CJK}])")


def clean_tesseract(text: str) -> str:
    """Drop the spaces tesseract puts next to hanzi and full-width punctuation, and empty lines."""
    lines = (_SPACE_NEXT_TO_CJK.sub("", ln).strip() for ln in text.splitlines())
    return "\n".join(ln for ln in lines if ln)


def tesseract_reader(psm: int = TESSERACT_PSM, threads: int | None = None, lang: str = "chi_sim") -> Reader:
    """Tesseract via ``tesseract IMAGE stdout -l chi_sim --psm PSM``; ``threads`` sets OMP_THREAD_LIMIT."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise UserError(f"tesseract is not installed (not on PATH): {TESSERACT_HINT}")
    try:
        langs = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError) as err:
        raise UserError(f"tesseract does not run ({err}): {TESSERACT_HINT}") from None
    if lang not in langs:
        raise UserError(f"tesseract has no {lang} language data: {TESSERACT_HINT}")
    env = dict(os.environ)
    if threads:
        env["OMP_THREAD_LIMIT"] = str(int(threads))

    def read(image) -> str:
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="kx_tess_") as tmp:
            path = os.path.join(tmp, "page.png")
            Image.fromarray(_gray(image)).save(path, compress_level=1)
            proc = subprocess.run([exe, path, "stdout", "-l", lang, "--psm", str(int(psm))],
                                  capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"tesseract failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
        return clean_tesseract(proc.stdout)

    return read
