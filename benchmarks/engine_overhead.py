"""Engine overhead: the same text VAE on the same data, bare PyTorch loop vs Ray Train + DeepSpeed.

CPU (default): median step time over steps 21-200 of
  (a) a bare loop in this process, torch threads = 2, torch Adam, same collate and grad clipping;
  (b) the engine, 1 worker holding 2 CPUs (2 torch threads), ZeRO 0, fp32;
  (c) the engine, 2 workers x 1 CPU (global batch twice as large: compare samples/s too).
GPU (``--gpu``): (a) bare with bf16 autocast + fused Adam vs the engine on 1 GPU with ZeRO 0 and 2.

Prints a table and writes benchmarks/results/engine_overhead.json (``--gpu``: gpu_check.json) with
``ratio_1_worker`` = (b) / (a). Config: configs/bench_engine.yaml.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kexue_dist.engine.config import load_train_config  # noqa: E402
from kexue_dist.engine.loop import build_optimizer  # noqa: E402
from kexue_dist.vae.task import TextVAETask, pad_batch  # noqa: E402

FIRST, LAST = 21, 200  # steps measured (1-based, inclusive)


def bare_step_times(cfg, paths, meta, device: str, threads: int) -> list[float]:
    """The loop a user would write by hand, with the same model, data, collate and optimizer."""
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.engine.seed)
    task = TextVAETask(cfg, meta)
    model = task.build_models()["vae"].to(device)
    opt = build_optimizer(model.parameters(), cfg)
    ids = pq.read_table(paths["train"], columns=["ids"]).column("ids").to_numpy(zero_copy_only=False)
    rng = np.random.default_rng(cfg.engine.seed)
    order = rng.permutation(len(ids))
    bs, use_bf16 = cfg.engine.batch_size, device == "cuda"
    times = []
    for step in range(1, LAST + 1):
        t0 = time.perf_counter()
        rows = ids[order[(step - 1) * bs : step * bs]]
        batch = pad_batch(rows, torch.device(device))
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=use_bf16):
            out = task.loss({"vae": model}, batch, step)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        opt.step()
        if step % cfg.engine.log_every == 0:
            float(out["loss"])  # the same host sync the engine does when it logs
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def engine_run(preset: str, overrides: list[str]) -> dict:
    from kexue_dist.engine.trainer import fit

    cfg = load_train_config(preset, overrides)
    t0 = time.perf_counter()
    res = fit(cfg)
    wall = time.perf_counter() - t0
    times = res.step_times
    return {"times": times, "wall_s": wall, "outside_steps_s": wall - sum(times), "workers": cfg.scaling.workers,
            "batch": cfg.engine.batch_size * cfg.scaling.workers}


def summarise(times: list[float], global_batch: int) -> dict:
    window = times[FIRST - 1 : LAST]
    med = statistics.median(window)
    return {"median_step_s": med, "samples_per_s": global_batch / med, "steps_measured": len(window)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="store_true", help="the GPU check (bf16; ZeRO 0 and 2)")
    ap.add_argument("--config", default="bench_engine")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--skip-two-workers", action="store_true")
    args = ap.parse_args()

    os.environ.setdefault("WANDB_MODE", "disabled")
    runs_dir = f"/tmp/kx-bench-{os.getpid()}"
    base = [f"run.out_dir={runs_dir}", "tracking.wandb=disabled", f"engine.steps={LAST}"]
    cfg = load_train_config(args.config, base)
    paths, meta = TextVAETask.prepare_data(cfg)
    rows, result = [], {"machine": f"{platform.node()} {os.cpu_count()} CPUs", "torch": torch.__version__, "config": args.config}

    if args.gpu:
        result["gpu"] = torch.cuda.get_device_name(0)
        bare = summarise(bare_step_times(cfg, paths, meta, "cuda", threads=4), cfg.engine.batch_size)
        rows.append(("bare PyTorch, bf16 autocast, fused Adam", bare))
        for stage in (0, 2):
            eng = engine_run(args.config, base + ["scaling.gpu=true", "scaling.workers=1", f"engine.zero_stage={stage}",
                                                  "engine.precision=bf16", f"run.name=gpu-z{stage}"])
            s = summarise(eng["times"], eng["batch"]) | {"startup_s": eng["outside_steps_s"]}
            rows.append((f"engine 1 GPU, bf16 autocast, ZeRO {stage}", s))
            result[f"ratio_zero{stage}"] = s["median_step_s"] / bare["median_step_s"]
        name = "gpu_check.json"
    else:
        bare = summarise(bare_step_times(cfg, paths, meta, "cpu", threads=2), cfg.engine.batch_size)
        rows.append(("(a) bare PyTorch, 2 threads", bare))
        one = engine_run(args.config, base + ["scaling.workers=1", "scaling.cpus_per_worker=2", "run.name=one"])
        s1 = summarise(one["times"], one["batch"]) | {"startup_s": one["outside_steps_s"]}
        rows.append(("(b) engine, 1 worker x 2 CPUs, ZeRO 0, fp32", s1))
        result["ratio_1_worker"] = s1["median_step_s"] / bare["median_step_s"]
        if not args.skip_two_workers:
            two = engine_run(args.config, base + ["scaling.workers=2", "scaling.cpus_per_worker=1", "run.name=two"])
            s2 = summarise(two["times"], two["batch"]) | {"startup_s": two["outside_steps_s"]}
            rows.append(("(c) engine, 2 workers x 1 CPU, ZeRO 0, fp32", s2))
            result["ratio_2_workers_samples_per_s"] = s2["samples_per_s"] / bare["samples_per_s"]
        name = "engine_overhead.json"

    result["runs"] = {label: stats for label, stats in rows}
    print(f"\n{'run':48s} {'median step ms':>15s} {'samples/s':>10s} {'startup+teardown s':>19s}")
    for label, stats in rows:
        startup = f"{stats['startup_s']:.1f}" if "startup_s" in stats else "-"
        print(f"{label:48s} {1000 * stats['median_step_s']:15.1f} {stats['samples_per_s']:10.1f} {startup:>19s}")
    for key in ("ratio_1_worker", "ratio_2_workers_samples_per_s", "ratio_zero0", "ratio_zero2"):
        if key in result:
            print(f"{key} = {result[key]:.3f}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / name).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
