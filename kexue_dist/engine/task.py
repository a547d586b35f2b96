"""The task interface: everything model-specific the engine needs, and nothing else.

A task builds its models, turns a Ray Data batch into tensors, does one training step through the
DeepSpeed engines it is handed, evaluates, and returns W&B artifacts. The engine owns the rest:
devices, precision, DeepSpeed, data streaming, checkpoints, tracking, fault tolerance.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import torch

from kexue_dist.engine.config import DataConfig
from kexue_dist.errors import UserError

# name -> "module:Class"; imported lazily so a task's dependencies load only when it is used.
TASKS = {
    "vae": "kexue_dist.vae.task:TextVAETask",
    "sentiment": "kexue_dist.sentiment.task:SentimentTask",
    "image_vae": "kexue_dist.vae.image:ImageVAETask",
    "gan": "kexue_dist.gan.task:GANTask",
    "gan_classifier": "kexue_dist.gan.classifier:ClassifierTask",
    "ocr": "kexue_dist.ocr.task:OCRTask",
}


def unwrap(engine) -> torch.nn.Module:
    """The model inside a DeepSpeed engine, or the model itself (bare loops and benchmarks pass it)."""
    return getattr(engine, "module", engine)


def engine_state_dict(checkpoint_dir, tag: str) -> dict[str, torch.Tensor]:
    """One model's weights (floating tensors as fp32) from an engine checkpoint directory: the DeepSpeed
    checkpoint tag is the task's model name. ZeRO 0-2 only (ZeRO-3 shards need zero_to_fp32)."""
    from pathlib import Path

    path = Path(checkpoint_dir) / tag / "mp_rank_00_model_states.pt"
    if not path.is_file():
        raise UserError(f"checkpoint {checkpoint_dir}: no {tag}/mp_rank_00_model_states.pt "
                        f"(not a run with a {tag!r} model, or a ZeRO-3 checkpoint that needs zero_to_fp32)")
    state = torch.load(path, map_location="cpu", weights_only=False)["module"]
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Eval mode for the block (dropout off, batch norm on running statistics and never updated from
    validation data), then back to whatever mode the model was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def get_task_class(name: str) -> type["Task"]:
    if name not in TASKS:
        raise UserError(f"task: unknown model {name!r} (known: {', '.join(sorted(TASKS))})")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)


class Task:
    """Subclass per model family. ``engines`` below maps model names to DeepSpeed engines."""

    name: ClassVar[str]
    model_config: ClassVar[type]  # dataclass of the `model:` config section
    data_config: ClassVar[type] = DataConfig  # dataclass of the `data:` section (text corpora by default)

    def __init__(self, cfg, data_meta: dict):
        self.cfg, self.model_cfg, self.data_meta = cfg, cfg.model, data_meta

    # -- driver side (before Ray starts) -------------------------------------------------------
    @classmethod
    def prepare_data(cls, cfg) -> tuple[dict[str, str], dict]:
        """Build datasets if needed; return ({split: parquet path}, metadata such as the vocab).

        Runs on the driver before Ray starts, so bad data paths fail with exit code 2 early."""
        raise NotImplementedError

    # -- worker side ----------------------------------------------------------------------------
    def build_models(self) -> dict[str, torch.nn.Module]:
        raise NotImplementedError

    def optim_config(self, model_name: str):
        """The optimiser settings of one model (an OptimConfig); GANs give G and D their own."""
        return self.cfg.optim

    def collate(self, batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
        """A numpy batch from Ray Data -> tensors on ``device``."""
        raise NotImplementedError

    def loss(self, engines: dict, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Single-model tasks: return {"loss": scalar, other metrics...}; the default step uses it."""
        raise NotImplementedError

    def train_step(self, engines: dict, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One optimisation step. Multi-model tasks (GANs) override this and drive each engine."""
        (engine,) = engines.values()
        out = self.loss(engines, batch, step)
        engine.backward(out["loss"])
        engine.step()
        return out

    @torch.no_grad()
    def eval_sums(self, engines: dict, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Summed (not averaged) eval statistics for one batch, including a ``count`` entry; the engine
        adds them across batches and workers, then :meth:`eval_metrics` turns totals into metrics."""
        raise NotImplementedError

    def eval_metrics(self, totals: dict[str, float]) -> dict[str, float]:
        return {k: v / totals["count"] for k, v in totals.items() if k != "count"}

    @torch.no_grad()
    def samples(self, engines: dict, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Rank 0 only: {name: {"columns": [...], "rows": [[...]]}} tables (or images) to log."""
        return {}
