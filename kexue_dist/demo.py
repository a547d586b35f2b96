"""`kexue-dist demo`: every workload once, end to end, on a local Ray, into one Markdown report.

Each workload contributes a section function ``(report, out_dir, args) -> None``; the demo runs them in
order on one Ray instance and writes ``OUT/report.md`` with PNG plots beside the W&B offline runs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from kexue_dist.errors import UserError
from kexue_dist.report import Report, plot_curves

DEFAULT_SHRED_DATA = os.environ.get(
    "KEXUE_DIST_SHRED_DATA", str(Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cumcm2013b")
)


VAE_VARIANTS = {"vanilla": "demo_vae", "bn_su_tau": "bn_vae_demo"}  # label -> preset (same model otherwise)


def vae_section(report: Report, out: Path, args: argparse.Namespace) -> None:
    """The text VAE twice through the engine: plain (collapses) and Su's BN posterior (keeps a KL floor)."""
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.engine.trainer import fit

    runs = {}
    for label, preset in VAE_VARIANTS.items():
        overrides = [f"run.out_dir={out / 'vae'}", f"run.name={label}", *args.overrides]
        if args.quick:
            overrides = ["engine.steps=60", "engine.eval_every=30", "engine.log_every=10", "engine.checkpoint_every=60", *overrides]
        cfg = load_train_config(preset, overrides, scaling__workers=args.workers)
        runs[label] = (cfg, fit(cfg))
    cfg = runs["vanilla"][0]
    plots = out / "plots"
    report.section("Text VAE on the King James Bible: plain vs Su's BN posterior (Ray Train + DeepSpeed)")
    report.text(
        f"Both runs: {cfg.scaling.workers} worker(s), ZeRO stage {cfg.engine.zero_stage}, {cfg.engine.steps} steps of "
        f"batch {cfg.engine.batch_size}, latent {cfg.model.latent}, KL warm-up over {cfg.model.kl_warmup_steps} steps; "
        "they differ only in `model.posterior`. W&B offline runs: "
        + ", ".join(f"`{_wandb_dir(res.run_dir)}`" for _, res in runs.values())
        + " (upload with `wandb sync`)."
    )
    merged = _merge_histories({label: res.history for label, (_, res) in runs.items()})
    report.image(plot_curves(merged, [f"{v}:train/loss" for v in runs] + [f"{v}:valid/nll_iw" for v in runs],
                             plots / "vae_loss.png", "loss and IW NLL (nats / sentence)"), "loss")
    report.image(plot_curves(merged, [f"{v}:valid/kl" for v in runs] + [f"{v}:valid/kl_floor" for v in runs],
                             plots / "vae_kl.png", "validation KL(q(z|x) || p(z)) and its floor (nats)"), "KL")
    report.image(plot_curves(merged, [f"{v}:valid/mi" for v in runs], plots / "vae_mi.png", "mutual information I_q(x; z)"), "MI")
    keys = ["valid/nll_iw", "valid/ppl_iw", "valid/rec", "valid/kl", "valid/kl_floor", "valid/mi", "valid/au", "valid/iw_k"]
    report.table(["variant", *[k.split("/")[1] for k in keys], "fit s"],
                 [[label, *[res.final.get(k) for k in keys], round(res.seconds)] for label, (_, res) in runs.items()])
    report.text(
        "The plain VAE's KL sinks towards 0 once the warm-up ends (posterior collapse: MI and active units fall to "
        "0); Su's scheme holds the KL above latent * tau / 2 by construction, so z keeps carrying information. "
        "At this small CPU budget the BN model pays for it in NLL; see the BN-VAE issue for the full comparison."
    )


def _merge_histories(histories: dict[str, list[dict]]) -> list[dict]:
    """{label: rows} -> rows keyed "label:metric", for plotting several runs on one axis."""
    return [{"step": row["step"], **{f"{label}:{k}": v for k, v in row.items() if k != "step"}}
            for label, rows in histories.items() for row in rows]


def _wandb_dir(run_dir: Path) -> str:
    found = sorted((run_dir / "wandb").glob("offline-run-*")) + sorted((run_dir / "wandb").glob("run-*"))
    return str(found[-1]) if found else "(W&B disabled)"


def shred_section(report: Report, out: Path, args: argparse.Namespace) -> None:
    from kexue_dist.shred import io as shred_io
    from kexue_dist.shred.restore import format_table, restore_pieces, write_outputs

    data = Path(args.shred_data)
    report.section("Shredded pages: the five CUMCM 2013 attachments, restored with no human help")
    done = []
    for attachment in sorted(p for p in data.iterdir() if p.is_dir() and p.name.startswith("attachment")):
        pieces, layout = shred_io.load_dir(str(attachment))
        start = time.perf_counter()
        result = restore_pieces(pieces, None, lay=layout, progress=False)
        result["seconds"] = round(time.perf_counter() - start, 3)
        target = out / "shred" / attachment.name
        write_outputs(result, pieces, str(target))
        done.append((attachment.name, len(pieces), result, target))
    report.table(
        ["attachment", "layout", "pieces", "seam confidence", "seconds"],
        [[name, r["layout"], n, r["seam_confidence"], r["seconds"]] for name, n, r, _ in done],
    )
    for name, _, result, target in done:
        report.text(f"### {name}\n")
        report.image(target / "restored.png", f"{name} restored")
        if (target / "back.png").exists():
            report.image(target / "back.png", f"{name} back")
        report.text("```\n" + format_table(result) + "\n```")


SECTIONS = {"vae": vae_section, "shred": shred_section}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo_out", help="output directory (report.md, plots, W&B runs)")
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections ({', '.join(SECTIONS)})")
    p.add_argument("--workers", type=int, default=None, help="Ray Train workers for the training sections")
    p.add_argument("--quick", action="store_true", help="a few steps per section (a smoke check, not results)")
    p.add_argument("--shred-data", default=DEFAULT_SHRED_DATA, help="folder with attachment1..5 of CUMCM 2013 B")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override the VAE config (e.g. engine.steps=200)")


def run(args: argparse.Namespace) -> int:
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise UserError(f"--only: unknown section {unknown[0]!r} (known: {', '.join(SECTIONS)})")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers: must be >= 1, got {args.workers}")
    if "shred" in sections and not Path(args.shred_data, "attachment1").is_dir():
        raise UserError(f"--shred-data: {args.shred_data} has no attachment1..5 folders")
    if "vae" in sections:  # validate the config (and overrides) before anything starts
        from kexue_dist.engine.config import load_train_config

        for preset in VAE_VARIANTS.values():
            load_train_config(preset, args.overrides)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = Report(out / "report.md", "kexue_dist demo")
    report.text(f"Generated {time.strftime('%Y-%m-%d %H:%M')} by `kexue-dist demo`{' --quick' if args.quick else ''}.")
    started = time.perf_counter()
    timings = {}
    for name in sections:
        t0 = time.perf_counter()
        print(f"[kexue-dist demo] {name} ...", flush=True)
        SECTIONS[name](report, out, args)
        timings[name] = round(time.perf_counter() - t0, 1)
        report.write()  # a partial report survives a later failure
    report.section("Timings")
    report.table(["section", "seconds"], [[k, v] for k, v in timings.items()] + [["total", round(time.perf_counter() - started, 1)]])
    path = report.write()
    (out / "timings.json").write_text(json.dumps(timings, indent=1))
    print(f"[kexue-dist demo] report: {path}")
    return 0
