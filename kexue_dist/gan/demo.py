"""The GAN section of `kexue-dist demo`: a short loss-family comparison (sample grids and scores).

Registered as the demo's "gan" section (kexue_dist/demo.py). Three families (the original
GAN, least squares, WGAN-GP) train the small DCGAN through the engine (two DeepSpeed engines each) for
the same number of steps; the report shows their sample grids side by side and FD / KID / precision /
recall against the validation split, followed by the committed sweep ranking when there is one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEMO_FAMILIES = ("gan", "least-squares", "wgan-gp")
REPO = Path(__file__).resolve().parent.parent.parent


def demo_configs(out: Path, args: argparse.Namespace) -> dict:
    """{family: validated TrainConfig} for the section's fits (the demo checks them before anything starts)."""
    from kexue_dist.engine.config import load_train_config

    steps = 60 if getattr(args, "quick", False) else 400
    base = ["model.width=16", "model.z_dim=32", "model.kid_subsets=3", f"engine.steps={steps}", "engine.batch_size=64",
            f"engine.eval_every={steps}", f"engine.log_every={max(10, steps // 10)}", "engine.eval_batches=8",
            f"engine.checkpoint_every={steps}", f"run.out_dir={Path(out) / 'gan'}"]
    workers = getattr(args, "workers", None)
    return {family: load_train_config("gan", [*base, f"model.family={family}", f"run.name={family}"],
                                      scaling__workers=workers, scaling__cpus_per_worker=1 if not workers else None)
            for family in DEMO_FAMILIES}


def demo_section(report, out: Path, args: argparse.Namespace) -> None:
    from kexue_dist.engine.trainer import fit
    from kexue_dist.gan.grid import save_png
    from kexue_dist.gan.metrics import classifier_info
    from kexue_dist.gan.results import ranking_table

    configs = demo_configs(out, args)
    steps = next(iter(configs.values())).engine.steps
    rows, images = [], []
    for family, cfg in configs.items():
        res = fit(cfg)
        f = res.final
        rows.append([family, f.get("valid/fd"), f.get("valid/kid"), f.get("valid/precision"), f.get("valid/recall"),
                     "yes" if f.get("valid/diverged") else "", round(res.seconds)])
        grid = res.run_dir / "samples" / "samples_last.png"
        if grid.is_file():
            images.append((family, grid))
    info = classifier_info()
    report.section("GAN loss families on Fashion-MNIST (DCGAN, two DeepSpeed engines)")
    report.text(
        f"Each family trains the same small DCGAN (width 16) for {steps} steps of batch 64 through Ray Train + "
        "DeepSpeed (one engine for G, one for D; WGAN-GP adds its gradient penalty). Scores: Frechet distance, "
        "KID and precision/recall on the features of our own Fashion-MNIST classifier "
        f"(sha256 {info['sha256'][:12]}, test accuracy {info['test_accuracy']:.4f}), 512 generated images against "
        "the validation split. " + ("--quick: a smoke check, not a comparison. " if steps < 100 else "")
        + "A few hundred CPU steps only separate the families roughly; see the sweep below."
    )
    report.table(["family", "FD", "KID", "precision", "recall", "diverged", "fit s"], rows)
    import numpy as np
    from PIL import Image

    for family, grid in images:
        copy = save_png(np.asarray(Image.open(grid)), Path(out) / "plots" / f"gan_{family}.png", scale=2)
        report.image(copy, f"{family} samples")
    ranking_path = REPO / "results" / "gan_ranking.json"
    if ranking_path.is_file():
        ranking = json.loads(ranking_path.read_text())
        report.text("Committed sweep ranking (`kexue-dist sweep gan-loss --budget smoke`, results/gan_ranking.json):")
        report.text(ranking_table(ranking))
