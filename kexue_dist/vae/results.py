"""`kexue-dist results bn-vae`: every posterior variant on both corpora, plus the Fashion-MNIST VAE.

Writes ``OUT/bn_vae.json`` ({CORPUS: {VARIANT: {nll, ppl, kl, mi, au, kl_floor, k}}}, validation split,
NLL = importance-weighted bound in nats per sentence with k samples, kl_floor null where the variant
has none), ``OUT/bn_vae_fashion.json`` (the image VAE per variant), KL/MI curves and sample grids under
``OUT/bn_vae/``, and prints the README's tables. Each fit changes only the corpus and
``model.posterior`` of one preset, so the variants differ in the posterior alone.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

from kexue_dist.report import md_table, plot_curves

CORPORA = ("kjv", "peoples_daily")
VARIANTS = ("vanilla", "free_bits", "bn_fixed_gamma", "bn_su_tau")
PRESETS = {"cpu": ("bn_vae_results", "image_vae"), "gpu": ("bn_vae_results_gpu", "image_vae_gpu")}
TEXT_KEYS = {"nll": "valid/nll_iw", "ppl": "valid/ppl_iw", "kl": "valid/kl", "mi": "valid/mi", "au": "valid/au",
             "kl_floor": "valid/kl_floor", "k": "valid/iw_k"}
IMAGE_KEYS = {"nll_iw": "valid/nll_iw", "elbo": "valid/nll_elbo", "rec": "valid/rec", "kl": "valid/kl",
              "mi": "valid/mi", "au": "valid/au", "kl_floor": "valid/kl_floor", "k": "valid/iw_k"}


def plan(args) -> list[tuple[str, str, int, object]]:
    """Every fit's (dataset, variant, seed, config), all validated before the first one starts."""
    from kexue_dist.engine.config import load_train_config

    text_preset, image_preset = PRESETS[args.budget]
    runs_dir = Path(args.out).resolve() / "bn_vae" / "runs"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    fits = []
    for dataset in (*CORPORA, "fashion_mnist"):
        for variant in VARIANTS:
            for seed in range(args.seeds or 1):
                preset = image_preset if dataset == "fashion_mnist" else text_preset
                overrides = [f"model.posterior={variant}", f"engine.seed={seed}", f"run.out_dir={runs_dir}",
                             f"run.name={dataset}-{variant}-s{seed}-{stamp}"]
                if dataset != "fashion_mnist":
                    overrides.append(f"data.corpus={dataset}")
                cfg = load_train_config(preset, [*overrides, *args.overrides], scaling__workers=args.workers)
                fits.append((dataset, variant, seed, cfg))
    return fits


def summarise(finals: list[dict], keys: dict[str, str], variant: str) -> dict:
    """Mean over seeds of each reported metric; kl_floor is null for variants without one."""
    row = {name: round(statistics.fmean(f[key] for f in finals), 4) for name, key in keys.items()}
    row["au"] = round(row["au"], 2)
    row["k"] = int(row["k"])
    if variant in ("vanilla", "free_bits"):
        row["kl_floor"] = None
    return row


def run(args) -> Path:
    from kexue_dist.results import fit_all

    fits = plan(args)
    out = Path(args.out).resolve()
    plots = out / "bn_vae"
    plots.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = fit_all([cfg for *_, cfg in fits], args.parallel, label=lambda cfg: cfg.run.name)
    finals: dict[tuple[str, str], list[dict]] = {}
    histories: dict[tuple[str, str], list[dict]] = {}
    seconds = []
    for (dataset, variant, seed, _), res in zip(fits, results):
        finals.setdefault((dataset, variant), []).append(res.final)
        seconds.append(res.seconds)
        if seed == 0:
            histories[(dataset, variant)] = res.history
            for name in ("prior_samples", "reconstructions"):  # keep the grids beside the JSON, not only in runs/
                grid = res.run_dir / "samples" / f"{name}_last.png"
                if grid.is_file():
                    shutil.copy(grid, plots / f"{dataset}_{variant}_{name}.png")
    text = {c: {v: summarise(finals[(c, v)], TEXT_KEYS, v) for v in VARIANTS} for c in CORPORA}
    images = {v: summarise(finals[("fashion_mnist", v)], IMAGE_KEYS, v) for v in VARIANTS}
    meta = {"budget": args.budget, "seeds": args.seeds or 1, "parallel": args.parallel, "split": "valid",
            "wall_minutes": round((time.perf_counter() - started) / 60, 1),
            "fit_minutes": [round(s / 60, 2) for s in seconds], "host": platform.node(), "host_cpus": os.cpu_count()}
    path = _write_json(out / "bn_vae.json", text)
    _write_json(out / "bn_vae_fashion.json", {"fashion_mnist": images, "meta": meta})
    _write_json(out / "bn_vae_meta.json", meta)
    for dataset in (*CORPORA, "fashion_mnist"):
        merged = [{"step": r["step"], **{f"{v}:{k}": x for k, x in r.items() if k != "step"}}
                  for v in VARIANTS for r in histories[(dataset, v)]]
        plot_curves(merged, [f"{v}:valid/kl" for v in VARIANTS], plots / f"{dataset}_kl.png", f"{dataset}: validation KL (nats)")
        plot_curves(merged, [f"{v}:valid/mi" for v in VARIANTS], plots / f"{dataset}_mi.png", f"{dataset}: mutual information")
    print(text_table(text))
    print()
    print(image_table(images))
    return path


def text_table(results: dict) -> str:
    rows = [[c, v, *[r[k] if r[k] is not None else "-" for k in ("nll", "ppl", "kl", "kl_floor", "mi", "au", "k")]]
            for c, by_variant in results.items() for v, r in by_variant.items()]
    return md_table(["corpus", "variant", "IW NLL", "PPL", "KL", "KL floor", "MI", "AU", "k"], rows)


def image_table(results: dict) -> str:
    rows = [[v, *[r[k] if r[k] is not None else "-" for k in ("nll_iw", "elbo", "rec", "kl", "kl_floor", "mi", "au")]]
            for v, r in results.items()]
    return md_table(["variant", "IW NLL", "-ELBO", "rec", "KL", "KL floor", "MI", "AU"], rows)


def _write_json(path: Path, data: dict) -> Path:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    tmp.replace(path)
    return path
