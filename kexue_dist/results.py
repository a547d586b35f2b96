"""`kexue-dist results NAME`: one command per issue that trains, measures and writes results/NAME.json.

Each workload registers a producer ``run(args) -> Path`` here; it trains through the engine, prints a
Markdown table (the README's) and returns the JSON it wrote. Imported lazily, so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib

from kexue_dist.errors import UserError

# name -> "module:function"
PRODUCERS = {
    "bn-vae": "kexue_dist.vae.results:run",
    "sentiment": "kexue_dist.sentiment.results:run",
}


def cmd_results(args: argparse.Namespace) -> int:
    if args.name not in PRODUCERS:
        raise UserError(f"results: unknown name {args.name!r} (known: {', '.join(PRODUCERS)})")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers: must be >= 1, got {args.workers}")
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds: must be >= 1, got {args.seeds}")
    module, func = PRODUCERS[args.name].split(":")
    path = getattr(importlib.import_module(module), func)(args)
    print(f"[kexue-dist] wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("results", help="train and measure one issue's results table (results/<name>.json)")
    p.add_argument("name", help=f"which results ({', '.join(PRODUCERS)})")
    p.add_argument("--out", default="results", help="folder for the JSON, plots and runs")
    p.add_argument("--budget", choices=["cpu", "gpu"], default="cpu",
                   help="cpu: the laptop-sized config; gpu: the larger config for GPU workers")
    p.add_argument("--seeds", type=int, default=None, help="runs per entry (default: the producer's)")
    p.add_argument("--workers", type=int, default=None, help="Ray Train workers per fit")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override every fit's config, e.g. engine.steps=100")
    p.set_defaults(func=cmd_results)
