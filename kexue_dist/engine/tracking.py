"""Experiment tracking: W&B on rank 0 only, offline unless an API key is present.

Ray's own ``setup_wandb(rank_zero_only=True)`` did not stop rank 1 from logging in this Ray version, so
the gate is ours: every other rank gets a tracker whose methods do nothing.
"""

from __future__ import annotations

import os
from typing import Any


def wandb_mode(setting: str) -> str:
    """``auto`` -> online with WANDB_API_KEY, offline without (never blocks on the network)."""
    if os.environ.get("WANDB_MODE") == "disabled":  # e.g. a GPU node without wandb installed
        return "disabled"
    if setting == "auto":
        return "online" if os.environ.get("WANDB_API_KEY") else "offline"
    return setting


class Tracker:
    """Rank-0 W&B run; a no-op elsewhere or when disabled."""

    def __init__(self, enabled: bool, mode: str, project: str, name: str, run_dir: str, config: dict, resume_id: str | None):
        self.run = None
        if not enabled or mode == "disabled":
            return
        import wandb

        os.environ.setdefault("WANDB_SILENT", "true")
        os.makedirs(run_dir, exist_ok=True)
        self.run = wandb.init(
            project=project,
            name=name,
            id=resume_id,
            resume="allow" if resume_id else None,
            dir=run_dir,
            mode=mode,
            config=config,
            settings=wandb.Settings(console="off", x_disable_stats=True),
        )

    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run else None

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self.run:
            self.run.log(metrics, step=step)

    def log_samples(self, samples: dict[str, dict[str, Any]], step: int) -> None:
        """A task's samples: ``{"columns", "rows"}`` entries become W&B tables, ``{"image"}`` entries
        (uint8 H x W or H x W x 3 arrays, e.g. sample grids) W&B images."""
        if not self.run or not samples:
            return
        import wandb

        logged = {}
        for name, entry in samples.items():
            if "image" in entry:
                logged[name] = wandb.Image(entry["image"], caption=entry.get("caption"))
            else:
                logged[name] = wandb.Table(columns=entry["columns"], data=entry["rows"])
        self.run.log(logged, step=step)

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        if self.run:
            if summary:
                self.run.summary.update(summary)
            self.run.finish()
            self.run = None


def _wandb_log_records(path: str):
    """Raw records of a ``run-*.wandb`` transaction log (LevelDB log format behind a 7-byte header).

    wandb >= 0.2x no longer ships a Python reader for its own offline files; this is ~20 lines."""
    import struct

    data = open(path, "rb").read()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B transaction log")
    block, pos, pending = 32768, 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pos += 7
        chunk, pos = data[pos : pos + length], pos + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk
        elif kind == 0 and length == 0:
            pos += left - 7


def read_offline_run(run_dir: str) -> dict:
    """History rows, summary and config of an offline W&B run directory (``offline-run-*``)."""
    import glob
    import json

    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = glob.glob(os.path.join(run_dir, "run-*.wandb"))
    out: dict = {"history": [], "summary": {}, "config": {}}
    key = lambda item: item.key or "/".join(item.nested_key)  # noqa: E731
    for raw in _wandb_log_records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            out["history"].append({key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            out["summary"].update({key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "config":
            out["config"].update({key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "run":
            out["config"].update({key(i): json.loads(i.value_json) for i in record.run.config.update})
    return out


def save_sample_images(samples: dict[str, dict[str, Any]], directory, step: int) -> list[str]:
    """Write a task's image samples as PNG (``<name>_step<step>.png``, plus ``<name>_last.png``) beside the
    run, so grids exist even with W&B disabled. Returns the paths written."""
    from pathlib import Path

    from PIL import Image

    written = []
    for name, entry in samples.items():
        if "image" not in entry:
            continue
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(entry["image"])
        for path in (directory / f"{name}_step{step:08d}.png", directory / f"{name}_last.png"):
            image.save(path)
            written.append(str(path))
    return written
