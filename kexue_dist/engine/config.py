"""The training config: one dataclass tree shared by every task; ``model`` is the task's own dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from kexue_dist.config import deep_merge, from_dict, load_yaml, parse_overrides, resolve_preset
from kexue_dist.errors import UserError


def _positive(where: str, name: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise UserError(f"{where + '.' if where else ''}{name}: must be {'>= 0' if allow_zero else '> 0'}, got {value}")


@dataclass
class DataConfig:
    corpus: str = "kjv"  # a built-in corpus (kjv, peoples_daily) or a path to .txt / .parquet
    max_len: int = 32  # tokens per sentence, longer ones are dropped
    min_len: int = 3
    vocab_size: int = 10000
    valid_fraction: float = 0.05
    test_fraction: float = 0.05

    def validate(self, where: str) -> None:
        for name in ("max_len", "min_len", "vocab_size"):
            _positive(where, name, getattr(self, name))
        if self.min_len > self.max_len:
            raise UserError(f"{where}.min_len: must be <= max_len ({self.max_len}), got {self.min_len}")
        for name in ("valid_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 0.5:
                raise UserError(f"{where}.{name}: must be in (0, 0.5), got {getattr(self, name)}")


@dataclass
class OptimConfig:
    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"  # rmsprop: Keras' (rho 0.9, eps 1e-7)
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # 0 disables clipping
    warmup_steps: int = 0
    schedule: Literal["constant", "cosine"] = "constant"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # Adam/AdamW (GANs: [0.5, 0.999])

    def validate(self, where: str) -> None:
        _positive(where, "lr", self.lr)
        _positive(where, "weight_decay", self.weight_decay, allow_zero=True)
        _positive(where, "grad_clip", self.grad_clip, allow_zero=True)
        _positive(where, "warmup_steps", self.warmup_steps, allow_zero=True)


@dataclass
class EngineConfig:
    steps: int = 500
    batch_size: int = 32  # per worker (DeepSpeed's micro batch)
    zero_stage: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on GPU, fp32 on CPU
    log_every: int = 10
    eval_every: int = 100
    eval_batches: int = 10
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    seed: int = 0
    # Test hook for fault tolerance: rank 1 dies (os._exit) once at this step; 0 = never.
    die_at_step: int = 0
    # Early stopping on a validation metric (off unless a metric is named, e.g. "valid/accuracy"): stop
    # after `early_stop_patience` evaluations without improvement. The best step and value land in the
    # result's final metrics (early_stop/*); checkpoint at every evaluation and keep > patience of them
    # to find the best weights among the checkpoints.
    early_stop_metric: str = ""
    early_stop_mode: Literal["max", "min"] = "max"
    early_stop_patience: int = 3

    def validate(self, where: str) -> None:
        for name in ("steps", "batch_size", "log_every", "eval_every", "eval_batches", "checkpoint_every", "keep_checkpoints"):
            _positive(where, name, getattr(self, name))
        if self.zero_stage not in (0, 1, 2, 3):
            raise UserError(f"{where}.zero_stage: must be 0, 1, 2 or 3, got {self.zero_stage}")
        if self.early_stop_metric:
            _positive(where, "early_stop_patience", self.early_stop_patience)
            if not self.early_stop_metric.startswith("valid/"):
                raise UserError(f"{where}.early_stop_metric: must be a validation metric (valid/...), got {self.early_stop_metric!r}")


@dataclass
class ScalingConfig:
    workers: int = 1
    gpu: bool = False
    cpus_per_worker: float = 0.0  # 0 = share this machine's cores evenly (torch threads follow)
    gpus_per_worker: float = 1.0  # with gpu: a fraction packs several small trials onto one GPU

    def validate(self, where: str) -> None:
        if self.workers < 1:
            raise UserError(f"{where}.workers: must be >= 1, got {self.workers}")
        _positive(where, "cpus_per_worker", self.cpus_per_worker, allow_zero=True)
        if not 0 < self.gpus_per_worker <= 1:
            raise UserError(f"{where}.gpus_per_worker: must be in (0, 1], got {self.gpus_per_worker}")

    def cpus(self) -> float:
        if self.cpus_per_worker:
            return self.cpus_per_worker
        return max(1, (os.cpu_count() or 1) // self.workers)


@dataclass
class TrackingConfig:
    wandb: Literal["auto", "offline", "online", "disabled"] = "auto"  # auto: online iff WANDB_API_KEY is set
    project: str = "kexue-dist"
    samples: int = 8  # rows in the sample tables


@dataclass
class RunConfig:
    name: str = ""  # default: <task>-<timestamp>
    out_dir: str = "runs"
    storage_path: str = ""  # Ray Train storage (shared FS / s3:// on a cluster); default <run dir>/ray
    max_failures: int = 2

    def validate(self, where: str) -> None:
        _positive(where, "max_failures", self.max_failures, allow_zero=True)
        if "/" in self.name or self.name.startswith("."):
            raise UserError(f"{where}.name: must be a plain name, got {self.name!r}")


@dataclass
class TrainConfig:
    task: str = "vae"
    model: Any = field(default_factory=dict)  # replaced by the task's model dataclass
    data: Any = field(default_factory=dict)  # replaced by the task's data dataclass (DataConfig for text)
    optim: OptimConfig = field(default_factory=OptimConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    run: RunConfig = field(default_factory=RunConfig)


def build_train_config(raw: dict) -> TrainConfig:
    """Validate a raw dict (YAML + overrides) into a TrainConfig whose ``model`` is the task's dataclass."""
    from kexue_dist.engine.task import get_task_class

    cfg = from_dict(TrainConfig, raw)
    task_cls = get_task_class(cfg.task)
    cfg.model = from_dict(task_cls.model_config, raw.get("model") or {}, "model")
    cfg.data = from_dict(task_cls.data_config, raw.get("data") or {}, "data")
    return cfg


def load_train_config(preset: str, overrides: list[str] = (), **direct: Any) -> TrainConfig:
    """Preset YAML -> ``--set`` overrides -> direct CLI flags (``scaling.workers=...``) -> validated config."""
    raw = load_yaml(resolve_preset(preset))
    raw = deep_merge(raw, parse_overrides(list(overrides)))
    for dotted, value in direct.items():
        if value is not None:
            raw = deep_merge(raw, _nest(dotted.split("__"), value))
    return build_train_config(raw)


def _nest(keys: list[str], value: Any) -> dict:
    out: dict = {}
    node = out
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return out
