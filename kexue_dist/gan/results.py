"""Results of the GAN workload: the loss-family ranking (after `kexue-dist sweep gan-loss`) and Su's toy.

``sweep_post`` is the sweep's ``post`` hook: it turns the per-trial rows into OUT/gan_ranking.json
(one entry per family: {"family", "generator", "fd", "kid", "precision", "recall", "seeds", "diverged"}
plus per-seed details) and copies each family's final sample grid (its best seed) to
OUT/gan_grids/<family>.png.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

RANKING = "gan_ranking.json"
GRIDS = "gan_grids"


def _mean(values: list) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else None


def trial_diverged(row: dict) -> bool:
    return bool(row.get("error")) or row.get("fd") is None or bool(row.get("diverged"))


def ranking_from_rows(rows: list[dict], generator: str) -> list[dict]:
    by_family: dict[str, list[dict]] = {}
    for row in rows:
        by_family.setdefault(row["value"], []).append(row)
    ranking = []
    for family, runs in by_family.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        ranking.append({
            "family": family,
            "generator": generator,
            "fd": _mean([r.get("fd") for r in runs]),
            "kid": _mean([r.get("kid") for r in runs]),
            "precision": _mean([r.get("precision") for r in runs]),
            "recall": _mean([r.get("recall") for r in runs]),
            "seeds": len(runs),
            "diverged": any(trial_diverged(r) for r in runs),
            "fd_per_seed": [r.get("fd") for r in runs],
            "best_fd_per_seed": [r.get("best_fd") for r in runs],
            "steps_per_seed": [r.get("steps") for r in runs],
            "stopped_early_per_seed": [bool(r.get("stopped_early")) for r in runs],
            "errors": [r["error"] for r in runs if r.get("error")],
        })
    # finite FD first (ascending); a family with no FD at all goes last
    ranking.sort(key=lambda e: (e["fd"] is None, e["fd"] if e["fd"] is not None else 0.0))
    return ranking


def sweep_post(sweep, rows: list[dict], out_dir: Path) -> Path:
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.gan.metrics import classifier_info

    out_dir = Path(out_dir)
    base = load_train_config(sweep.base, sweep.overrides)
    ranking = ranking_from_rows(rows, base.model.generator)
    (out_dir / RANKING).write_text(json.dumps(ranking, indent=1) + "\n")
    grids = out_dir / GRIDS
    grids.mkdir(parents=True, exist_ok=True)
    for entry in ranking:
        runs = [r for r in rows if r["value"] == entry["family"]]
        best = min(runs, key=lambda r: r["fd"] if r.get("fd") is not None else math.inf)
        name = f"family={entry['family']}-seed{best['seed']}"
        grid = out_dir / "runs" / name / "samples" / "samples_last.png"
        if grid.is_file():
            shutil.copyfile(grid, grids / f"{entry['family']}.png")
    info = classifier_info()
    meta = {
        "sweep": sweep.name, "base": sweep.base, "overrides": list(sweep.overrides), "seeds": list(sweep.seeds),
        "arch": base.model.arch, "width": base.model.width, "steps": base.engine.steps, "batch_size": base.engine.batch_size,
        "eval_samples": base.engine.eval_batches * base.engine.batch_size, "eval_split": "valid",
        "classifier_sha256": info["sha256"], "classifier_test_accuracy": info["test_accuracy"],
        "asha": {"metric": sweep.metric, "grace_period": sweep.grace_period, "reduction_factor": sweep.reduction_factor},
        "written": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    (out_dir / "gan_ranking.meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(ranking_table(ranking))
    return out_dir / RANKING


def ranking_table(ranking: list[dict]) -> str:
    from kexue_dist.report import md_table

    header = ["rank", "family", "generator", "FD", "KID", "precision", "recall", "seeds", "diverged", "steps"]
    rows = [[i + 1, e["family"], e["generator"], e["fd"], e["kid"], e["precision"], e["recall"], e["seeds"],
             "yes" if e["diverged"] else "", "/".join(str(s) for s in e.get("steps_per_seed", []))]
            for i, e in enumerate(ranking)]
    return md_table(header, rows)


def run_toy(cfg, out: Path) -> Path:
    """Su's toy through the engine; writes OUT/gan_toy.json and OUT/gan_grids/toy_*.png."""
    from kexue_dist.engine.trainer import fit

    out = Path(out)
    res = fit(cfg)
    grids = out / GRIDS
    grids.mkdir(parents=True, exist_ok=True)
    samples = res.run_dir / "samples"
    evals = [row for row in res.history if "valid/fd" in row]
    copied = []
    for row in evals:
        src = samples / f"samples_step{row['step']:08d}.png"
        if src.is_file():
            dst = grids / f"toy_step{row['step']:05d}.png"
            shutil.copyfile(src, dst)
            copied.append(dst.name)
    if (samples / "samples_last.png").is_file():
        shutil.copyfile(samples / "samples_last.png", grids / "toy_wgan_gp.png")
    keys = ["fd", "kid", "precision", "recall", "v_real", "v_fake"]
    summary = {
        "config": {"arch": cfg.model.arch, "family": cfg.model.family, "gp_form": cfg.model.gp_form, "d_steps": cfg.model.d_steps,
                   "steps": cfg.engine.steps, "batch_size": cfg.engine.batch_size, "lr": cfg.model.g_lr},
        "evals": [{"step": r["step"], **{k: r.get(f"valid/{k}") for k in keys}} for r in evals],
        "final": {k: res.final.get(f"valid/{k}") for k in keys},
        "seconds": round(res.seconds, 1),
        "grids": copied,
        "run_dir": str(res.run_dir),
    }
    path = out / "gan_toy.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return path
