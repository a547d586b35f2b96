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
    if args.parallel < 1:
        raise UserError(f"--parallel: must be >= 1, got {args.parallel}")
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds: must be >= 1, got {args.seeds}")
    module, func = PRODUCERS[args.name].split(":")
    path = getattr(importlib.import_module(module), func)(args)
    print(f"[kexue-dist] wrote {path}")
    return 0


def fit_all(configs: list, parallel: int = 1, label=str) -> list:
    """Fit every TrainConfig through the engine, ``parallel`` at a time; returns their FitResults in order.

    parallel == 1 fits in this process, one after another. Otherwise each fit's driver runs as a Ray
    task (no resources of its own: its Train workers hold them), as Tune runs its trials, so the fits
    share the cluster, e.g. a 16-core GPU node running twelve 1-CPU fits, or several on one GPU."""
    import time

    from kexue_dist.engine.trainer import fit

    started = time.perf_counter()

    def progress(done: int, what: str) -> None:
        elapsed = time.perf_counter() - started
        eta = f", about {elapsed / done * (len(configs) - done) / 60:.0f} min left" if done else ""
        print(f"[kexue-dist results] {what} ({done}/{len(configs)} done{eta})", flush=True)

    if parallel == 1:
        results = []
        for i, cfg in enumerate(configs):
            progress(i, f"fit {i + 1}: {label(cfg)}")
            results.append(fit(cfg))
        return results

    from dataclasses import asdict

    from kexue_dist.cluster import ensure_ray

    ray = ensure_ray()

    @ray.remote(num_cpus=0, max_retries=0)
    def remote_fit(raw: dict):
        from kexue_dist.engine.config import build_train_config
        from kexue_dist.engine.trainer import fit as fit_here

        return fit_here(build_train_config(raw))

    pending, results, queue = {}, {}, list(enumerate(configs))
    while queue or pending:
        while queue and len(pending) < parallel:
            i, cfg = queue.pop(0)
            pending[remote_fit.remote(asdict(cfg))] = i
            progress(len(results), f"started fit {i + 1}: {label(cfg)}")
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(ready)
        results[i] = ray.get(ready)
        progress(len(results), f"finished fit {i + 1}: {label(configs[i])}")
    return [results[i] for i in range(len(configs))]


def register(sub) -> None:
    p = sub.add_parser("results", help="train and measure one issue's results table (results/<name>.json)")
    p.add_argument("name", help=f"which results ({', '.join(PRODUCERS)})")
    p.add_argument("--out", default="results", help="folder for the JSON, plots and runs")
    p.add_argument("--budget", choices=["cpu", "gpu"], default="cpu",
                   help="cpu: the laptop-sized config; gpu: the larger config for GPU workers")
    p.add_argument("--seeds", type=int, default=None, help="runs per entry (default: the producer's)")
    p.add_argument("--workers", type=int, default=None, help="Ray Train workers per fit")
    p.add_argument("--parallel", type=int, default=1,
                   help="fits in flight at once (each a Ray task driving its own TorchTrainer); size the "
                        "fits' scaling.cpus_per_worker / gpus_per_worker so they fit the cluster together")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override every fit's config, e.g. engine.steps=100")
    p.set_defaults(func=cmd_results)
