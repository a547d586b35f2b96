"""`kexue-dist results sentiment`: Su's three LSTMs and a char CNN, several seeds each, through the engine.

Every fit trains on the train split and early-stops on the validation split (CPU budget); the weights of
the best validation step are then scored ONCE on the test split, on the driver. The test split never
feeds a decision: not the stopping step, not the choice of the exported predict weights.
Writes OUT/sentiment.json ({"models": {NAME: {"test_accuracy", "test_accuracy_std", "runs"}}}),
OUT/sentiment/details.json (every run), the predict bundle OUT/sentiment/weights/char_cnn.*, and prints
the README's Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from kexue_dist.errors import UserError

# name -> (description, overrides on the preset, Su's test accuracy)
VARIANTS: dict[str, tuple[str, list[str], float | None]] = {
    "char_onehot": ("chars, one-hot -> LSTM 128, RMSprop", ["model.input=onehot", "optim.name=rmsprop"], 0.8921),
    "char_embedding": ("chars, Embedding 256 -> LSTM 128, Adam", [], 0.8955),
    "word_embedding": ("jieba words, Embedding 256 -> LSTM 128, Adam",
                       ["data.unit=word", "data.max_len=100", "data.min_count=5"], 0.8903),
    "char_cnn": ("chars (count >= 5), Embedding 128 -> masked CNN 3x128 (widths 2-4) -> max pool, Adam",
                 ["model.arch=cnn", "model.emb=128", "data.min_count=5"], None),
}
PRESETS = {"cpu": "sentiment", "gpu": "sentiment_gpu"}
# Su trained the one-hot model 3x longer (90 vs 30 epochs); the GPU budget follows him.
GPU_STEP_FACTOR = {"char_onehot": 3}
PREDICT_MODEL = "char_cnn"
DEFAULT_SEEDS = 3


def variant_config(name: str, budget: str, seed: int, out_dir: Path, run_name: str, overrides=(), workers=None):
    from kexue_dist.engine.config import load_train_config

    extra = list(VARIANTS[name][1])
    if budget == "gpu" and name in GPU_STEP_FACTOR:
        from kexue_dist.config import load_yaml, resolve_preset

        steps = load_yaml(resolve_preset(PRESETS[budget]))["engine"]["steps"]
        extra.append(f"engine.steps={steps * GPU_STEP_FACTOR[name]}")
    return load_train_config(PRESETS[budget], [*extra, f"engine.seed={seed}", f"run.out_dir={out_dir}",
                                               f"run.name={run_name}", *overrides], scaling__workers=workers)


def best_checkpoint(res) -> Path:
    """The checkpoint of the best validation step (early stopping), else the last one."""
    if res.checkpoint is None:
        raise RuntimeError(f"run {res.run_dir}: no checkpoint")
    last = Path(res.checkpoint)
    best_step = res.final.get("early_stop/best_step")
    if not best_step:
        return last
    path = last.parent / f"checkpoint_step_{int(best_step):08d}"
    if not path.is_dir():
        raise RuntimeError(f"run {res.run_dir}: best checkpoint {path.name} was not kept (raise engine.keep_checkpoints)")
    return path


@torch.no_grad()
def split_accuracy(model, cfg, dataset_dir: str, split: str, batch_size: int = 256) -> float:
    from kexue_dist.sentiment.task import collate_ids

    table = pq.read_table(Path(dataset_dir) / f"{split}.parquet", columns=["label", "ids"]).to_pydict()
    model.eval()
    correct = 0
    for start in range(0, len(table["label"]), batch_size):
        ids, lengths = collate_ids(table["ids"][start : start + batch_size], cfg.model.arch, cfg.data.max_len)
        logits = model(torch.from_numpy(ids), torch.from_numpy(lengths)).float()
        labels = torch.tensor(table["label"][start : start + batch_size])
        correct += int(((logits > 0).long() == labels).sum())
    return correct / len(table["label"])


def load_run_model(cfg, vocab: list[str], checkpoint: Path):
    from kexue_dist.sentiment.model import build_model
    from kexue_dist.sentiment.predict import checkpoint_state_dict

    state = checkpoint_state_dict(checkpoint)
    model = build_model(len(vocab), cfg.model)
    model.load_state_dict(state)
    return model, state


def export_run(run_dir: Path, out: Path, name: str, info: dict | None = None) -> Path:
    """A finished run directory -> predict bundle (best checkpoint under early stopping, else the last)."""
    from types import SimpleNamespace

    import yaml

    from kexue_dist.engine.config import build_train_config
    from kexue_dist.sentiment.predict import export_bundle
    from kexue_dist.sentiment.task import SentimentTask

    try:
        raw = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except OSError:
        raise UserError(f"export: {run_dir} is not a finished run (config.yaml and summary.json expected)") from None
    cfg = build_train_config(raw)
    if cfg.task != "sentiment":
        raise UserError(f"export: {run_dir} trained {cfg.task!r}, not sentiment")
    res = SimpleNamespace(run_dir=run_dir, checkpoint=summary.get("checkpoint"), final=summary.get("final", {}))
    if res.checkpoint is None:
        raise UserError(f"export: {run_dir} has no checkpoint")
    checkpoint = best_checkpoint(res)
    _, meta = SentimentTask.prepare_data(cfg)
    model, state = load_run_model(cfg, meta["vocab"], checkpoint)
    info = {"run": run_dir.name, "checkpoint": checkpoint.name, "seed": cfg.engine.seed,
            "valid_accuracy": res.final.get("early_stop/best", res.final.get("valid/accuracy")), **(info or {})}
    return export_bundle(state, cfg.model, cfg.data, meta["vocab"], out, name, info)


def run(args: argparse.Namespace) -> Path:
    from kexue_dist.engine.trainer import fit
    from kexue_dist.sentiment.task import SentimentTask

    seeds = args.seeds or DEFAULT_SEEDS
    out = Path(args.out).resolve()
    base = out / "sentiment"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in VARIANTS:  # every config (and --set override) is validated before anything trains
        variant_config(name, args.budget, 0, base / "runs", "check", args.overrides, args.workers)
    started = time.perf_counter()
    details: dict = {"budget": args.budget, "seeds": seeds, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": []}
    for name in VARIANTS:
        for seed in range(seeds):
            cfg = variant_config(name, args.budget, seed, base / "runs", f"{name}-seed{seed}-{stamp}", args.overrides, args.workers)
            print(f"[kexue-dist results] {name} seed {seed} ...", flush=True)
            res = fit(cfg)
            _, meta = SentimentTask.prepare_data(cfg)  # cached: just the manifest
            checkpoint = best_checkpoint(res)
            model, _ = load_run_model(cfg, meta["vocab"], checkpoint)
            steps_per_epoch = meta["rows"]["train"] / (cfg.engine.batch_size * cfg.scaling.workers)
            row = {
                "model": name, "seed": seed, "run_dir": str(res.run_dir), "checkpoint": checkpoint.name,
                "best_step": int(res.final.get("early_stop/best_step") or res.final.get("step") or cfg.engine.steps),
                "last_step": int(res.final.get("early_stop/last_step") or cfg.engine.steps),
                "valid_accuracy": res.final.get("early_stop/best", res.final.get("valid/accuracy")),
                "test_accuracy": split_accuracy(model, cfg, meta["dataset"], "test"),
                "vocab": len(meta["vocab"]), "seconds": round(res.seconds, 1),
            }
            row["best_epoch"] = round(row["best_step"] / steps_per_epoch, 2)
            row["epochs_trained"] = round(row["last_step"] / steps_per_epoch, 2)
            details["runs"].append(row)
            print(f"[kexue-dist results] {name} seed {seed}: valid {row['valid_accuracy']:.4f} test {row['test_accuracy']:.4f} "
                  f"(best epoch {row['best_epoch']}, {row['seconds']}s)", flush=True)
            _write_json(base / "details.json", details)
    details["seconds"] = round(time.perf_counter() - started, 1)
    summary = summarize(details["runs"])
    details["dataset"] = {"rows": meta["rows"], "dataset": meta["dataset"]}
    _write_json(base / "details.json", details)
    # the predict bundle: the char CNN seed with the best VALIDATION accuracy (never chosen on test)
    candidates = [r for r in details["runs"] if r["model"] == PREDICT_MODEL]
    if candidates:
        chosen = max(candidates, key=lambda r: (r["valid_accuracy"], -r["seed"]))
        export_run(Path(chosen["run_dir"]), base / "weights", PREDICT_MODEL,
                   {"test_accuracy": chosen["test_accuracy"], "produced_by": f"kexue-dist results sentiment --budget {args.budget}"})
    print(markdown_table(summary, details["runs"]))
    print(f"[kexue-dist results] {len(details['runs'])} fits in {details['seconds'] / 60:.1f} min; predict bundle in {base / 'weights'}")
    path = out / "sentiment.json"
    _write_json(path, {"models": summary})
    return path


def summarize(runs: list[dict]) -> dict:
    out = {}
    for name in VARIANTS:
        accs = [r["test_accuracy"] for r in runs if r["model"] == name]
        if accs:
            out[name] = {"test_accuracy": round(statistics.fmean(accs), 4),
                         "test_accuracy_std": round(statistics.stdev(accs), 4) if len(accs) > 1 else 0.0,
                         "runs": len(accs)}
    return out


def markdown_table(summary: dict, runs: list[dict]) -> str:
    rows = []
    for name, s in summary.items():
        mine = [r for r in runs if r["model"] == name]
        su = VARIANTS[name][2]
        rows.append([
            f"`{name}`", VARIANTS[name][0], f"{100 * s['test_accuracy']:.2f} ± {100 * s['test_accuracy_std']:.2f}",
            s["runs"], f"{100 * float(np.mean([r['valid_accuracy'] for r in mine])):.2f}",
            f"{np.mean([r['best_epoch'] for r in mine]):.1f} / {np.mean([r['epochs_trained'] for r in mine]):.1f}",
            f"{np.mean([r['seconds'] for r in mine]):.0f}", f"{100 * su:.2f}" if su else "-",
        ])
    return md_table(["model", "input -> network", "test acc % (mean ± std)", "seeds", "valid acc %",
                     "best / trained epochs", "fit s", "Su's test acc %"], rows)


def md_table(header: list[str], rows: list[list]) -> str:
    """kexue_dist.report's table without its matplotlib import (GPU images may lack it)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(v) for v in row) + " |" for row in rows])


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
