"""Driver side: validate, build data, then fit a Ray Train ``TorchTrainer`` running the engine loop.

Order matters for users: every check that can fail on bad input runs before Ray starts and before the
run directory exists, so a typo costs a second and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from kexue_dist.cluster import ensure_ray
from kexue_dist.engine.config import TrainConfig
from kexue_dist.engine.task import get_task_class
from kexue_dist.errors import UserError


@dataclass
class FitResult:
    run_dir: Path
    history: list[dict]
    final: dict
    step_times: list[float]
    resumed_from: list[int]
    seconds: float
    checkpoint: str | None


def worker_env(use_gpu: bool) -> dict[str, str]:
    """Environment every worker needs before DeepSpeed is imported."""
    # RAY_TRAIN_ENABLE_PRINT_PATCH=0: Train V2 reroutes print() through its logger, which echoed
    # every progress line twice on the driver.
    env = {"PYTHONUNBUFFERED": "1", "TORCH_EXTENSIONS_DIR": torch_extensions_dir(), "RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}
    if not use_gpu:
        env["DS_ACCELERATOR"] = "cpu"
    for key in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL", "KEXUE_DIST_CACHE"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    return env


def torch_extensions_dir() -> str:
    """DeepSpeed's JIT cache key includes the venv path: give each venv its own cache."""
    return os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(sys.prefix, ".torch_extensions")


def new_run_dir(cfg: TrainConfig, allow_existing: bool = False) -> Path:
    name = cfg.run.name or f"{cfg.task}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir = Path(cfg.run.out_dir).resolve() / name
    if not allow_existing and run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"run.name: {run_dir} already exists (pick another run.name, or --resume a checkpoint)")
    return run_dir


def check_resume(path: str | None) -> None:
    if path and not Path(path, "engine_state.json").is_file():
        raise UserError(f"--resume {path}: not an engine checkpoint (no engine_state.json)")


MATERIALIZE_BELOW_BYTES = 256 * 2**20


def should_materialize(splits: dict[str, str], reserved_cpus: float, available_cpus: float) -> bool:
    """Read small corpora into the object store before the workers start; stream big ones lazily.

    The workers stream their shards (``get_dataset_shard``) either way. Lazy reads need a free CPU
    while training runs: when the workers (plus a Tune trial's driver, or an ASHA-stopped trial whose
    actors are still being torn down) hold every CPU, Ray Data cannot schedule one read task and the fit
    waits forever (num_cpus=0 reads hung the same way in Ray 2.60). Reading first waits only until CPUs
    free up, and costs little below a few hundred MB."""
    size = sum(os.path.getsize(path) for split, path in splits.items() if split in ("train", "valid"))
    return size < MATERIALIZE_BELOW_BYTES or available_cpus - reserved_cpus < 1


def fit(cfg: TrainConfig, resume: str | None = None, quiet_ray: bool = True, callbacks: list = (),
        continue_existing: bool = False) -> FitResult:
    """Train ``cfg`` through Ray Train + DeepSpeed and return rank 0's history.

    ``callbacks`` go to Ray Train's RunConfig (a Tune trial passes TuneReportCallback).
    ``continue_existing``: an existing run directory of the same name is continued from its latest
    checkpoint (Ray Train resumes a run whose name and storage path it has seen) instead of refused."""
    check_resume(resume)
    task_cls = get_task_class(cfg.task)
    splits, data_meta = task_cls.prepare_data(cfg)  # may raise UserError; writes only to the data cache
    run_dir = new_run_dir(cfg, allow_existing=continue_existing)
    if cfg.scaling.gpu:
        import torch

        import ray

        # Inside a Ray task (a Tune trial) CUDA is hidden from this process but the workers get GPUs.
        if not torch.cuda.is_available() and not os.environ.get("RAY_ADDRESS") and not ray.is_initialized():
            raise UserError("--gpu: no CUDA device on this machine and no RAY_ADDRESS cluster to send the job to")

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
    os.environ.update(worker_env(cfg.scaling.gpu))  # the driver imports DeepSpeed-free code, but keep parity
    ensure_ray()
    import ray.data
    import ray.train
    from ray.train.torch import TorchTrainer

    from kexue_dist.engine.loop import train_loop_per_worker

    if quiet_ray:
        ray.data.DataContext.get_current().enable_progress_bars = False
    datasets = {split: ray.data.read_parquet(path) for split, path in splits.items() if split in ("train", "valid")}
    if should_materialize(splits, cfg.scaling.workers * cfg.scaling.cpus(), ray.available_resources().get("CPU", 0)):
        datasets = {split: ds.materialize() for split, ds in datasets.items()}
    resources = {"CPU": cfg.scaling.cpus()}
    if cfg.scaling.gpu:
        resources["GPU"] = cfg.scaling.gpus_per_worker
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "config": asdict(cfg),
            "run_dir": str(run_dir),
            "run_name": run_dir.name,
            "data_meta": data_meta,
            "resume": str(Path(resume).resolve()) if resume else None,
        },
        scaling_config=ray.train.ScalingConfig(num_workers=cfg.scaling.workers, use_gpu=cfg.scaling.gpu, resources_per_worker=resources),
        run_config=ray.train.RunConfig(
            name=run_dir.name,
            storage_path=cfg.run.storage_path or str(run_dir / "ray"),
            failure_config=ray.train.FailureConfig(max_failures=cfg.run.max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=cfg.engine.keep_checkpoints),
            worker_runtime_env={"env_vars": worker_env(cfg.scaling.gpu)},
            callbacks=list(callbacks),
        ),
        datasets=datasets,
        dataset_config=ray.train.DataConfig(datasets_to_split=["train"]),
    )
    start = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - start
    out = result.return_value or {}
    checkpoint = result.checkpoint.path if result.checkpoint else None
    fit_result = FitResult(run_dir, out.get("history", []), out.get("final", {}), out.get("step_times", []), out.get("resumed_from", []), seconds, checkpoint)
    write_run_outputs(fit_result)
    return fit_result


def write_run_outputs(res: FitResult) -> None:
    """metrics.jsonl (one line per logged step) and summary.json next to the W&B run."""
    with open(res.run_dir / "metrics.jsonl", "w") as handle:
        for row in res.history:
            handle.write(json.dumps(row) + "\n")
    summary = {"final": res.final, "seconds": res.seconds, "checkpoint": res.checkpoint}
    (res.run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
