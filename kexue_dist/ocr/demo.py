"""The demo's OCR section: a benchmark-style page (unseen font, unseen text, noise and blur) read with the
committed weights, shown as image + recognised text + CER; then, when the shred section ran first, the
restored CUMCM 2013 Chinese page read end to end (no ground truth there: the text is shown, not scored)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from kexue_dist.report import Report

PAGE = {"lines": 6, "chars": 22, "size": 20, "noise": 0.03, "blur": 0.5, "seed": 2013}


def overlay(grey: np.ndarray, lines: list[dict], path: Path) -> Path:
    """The page with each recognised line's box drawn on it."""
    img = Image.fromarray(grey).convert("RGB")
    draw = ImageDraw.Draw(img)
    for line in lines:
        x0, y0, x1, y1 = line["box"]
        draw.rectangle([x0 - 1, y0 - 1, x1, y1], outline=(220, 40, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def demo_section(report: Report, out: Path, args: argparse.Namespace) -> None:
    from kexue_dist.ocr import fonts
    from kexue_dist.ocr.corpus import page_lines
    from kexue_dist.ocr.metrics import cer
    from kexue_dist.ocr.pages import render_page
    from kexue_dist.ocr.read import Reader, weights_path

    reader = Reader.load()
    meta = json.loads(weights_path("default").with_suffix(".json").read_text())
    lines = page_lines("test", PAGE["lines"], PAGE["chars"], seed=PAGE["seed"])
    grey, _ = render_page(lines, fonts.faces(fonts.HELD_OUT)[0], PAGE["size"], noise=PAGE["noise"], blur=PAGE["blur"], seed=PAGE["seed"])
    start = time.perf_counter()
    result = reader.read(grey)
    seconds = time.perf_counter() - start
    score = cer("\n".join(lines), result["text"])
    report.section("OCR: reading a printed Chinese page (CNN + bigram LM, `kexue-dist ocr read`)")
    report.text(
        f"A page the recogniser never saw: the held-out font family ({fonts.HELD_OUT}), text from the corpus split "
        f"the LM was not counted on, {PAGE['size']} px with {PAGE['noise']:.0%} salt-and-pepper noise and blur "
        f"{PAGE['blur']} px. Recogniser: `{meta['arch']}` (sha256 {meta['sha256'][:12]}), top-5 per candidate cell, "
        "Viterbi over segmentation and characters with the bigram LM. Red boxes: the lines found."
    )
    report.image(overlay(grey, result["lines"], out / "ocr" / "page.png"), "test page with line boxes")
    report.table(["line", "truth", "read"], [[k + 1, ref, got["text"]] for k, (ref, got) in enumerate(zip(lines, result["lines"]))])
    report.text(f"Character error rate **{score:.4f}**, read in {seconds:.2f} s on this machine. "
                "The measured comparison with RapidOCR and Tesseract is in the README (benchmarks/ocr_vs_peers.py).")
    restored = out / "shred" / "attachment1" / "restored.png"
    if restored.is_file():
        text = reader.read(Image.open(restored))["text"]
        report.text("The CUMCM 2013 attachment 1 page, as restored by the shred section above, read end to end "
                    "(no ground truth: judge by eye against the image there):")
        report.text("```\n" + text + "\n```")
