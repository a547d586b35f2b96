"""Tune the OCR decoder's two weights (LM weight, per-character bonus) on VALIDATION pages.

Pages: text from the corpus's "valid" split (never the benchmark's "test" split), rendered with the
TRAINING font families (never the held-out family), at 32-14 px, clean and with noise + blur. The
recogniser runs once per page; only the Viterbi decode is repeated over the grid. Prints a table, writes
JSON; the chosen values are LM_WEIGHT / CHAR_BONUS in kexue_dist/ocr/read.py.

    .venv/bin/python benchmarks/ocr_tune.py [--model convnet] [--pages 2] [--out results/ocr_tune.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from kexue_dist.ocr import fonts
from kexue_dist.ocr.corpus import page_lines
from kexue_dist.ocr.metrics import cer
from kexue_dist.ocr.pages import render_page
from kexue_dist.ocr.read import Reader

SIZES = (32, 24, 18, 14)
CONDITIONS = {"clean": (0.0, 0.0), "noisy": (0.05, 0.6)}
LM_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
CHAR_BONUSES = (0.0, 1.0, 2.0, 3.0, 4.0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="default")
    p.add_argument("--pages", type=int, default=2, help="pages per size x condition x family")
    p.add_argument("--out", default="results/ocr_tune.json")
    args = p.parse_args()
    reader = Reader.load(args.model)
    train_families = [f for f in fonts.FAMILIES if f != fonts.HELD_OUT]
    analysed = []  # (reference text, analysis)
    seed = 0
    for size in SIZES:
        for cond, (noise, blur) in CONDITIONS.items():
            for k in range(args.pages):
                family = train_families[seed % len(train_families)]
                lines = page_lines("valid", 8, 24, seed=seed)
                img, _ = render_page(lines, fonts.faces(family)[0], size, noise=noise, blur=blur, seed=seed)
                analysed.append(("\n".join(lines), reader.analyse(img)))
                seed += 1
        print(f"[ocr_tune] analysed {len(analysed)} pages", file=sys.stderr, flush=True)
    grid = []
    for w in LM_WEIGHTS:
        for b in CHAR_BONUSES:
            scores = [cer(ref, reader.decode(a, w, b)["text"]) for ref, a in analysed]
            grid.append({"lm_weight": w, "char_bonus": b, "cer": float(np.mean(scores))})
    best = min(grid, key=lambda r: r["cer"])
    print("| lm_weight | " + " | ".join(f"bonus {b}" for b in CHAR_BONUSES) + " |")
    print("|---" * (len(CHAR_BONUSES) + 1) + "|")
    for w in LM_WEIGHTS:
        print(f"| {w} | " + " | ".join(f"{r['cer']:.4f}" for r in grid if r["lm_weight"] == w) + " |")
    print(f"best: lm_weight {best['lm_weight']}, char_bonus {best['char_bonus']}, validation CER {best['cer']:.4f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"model": args.model, "pages": len(analysed), "sizes": SIZES,
                                          "conditions": CONDITIONS, "grid": grid, "best": best,
                                          "date": time.strftime("%Y-%m-%d")}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
