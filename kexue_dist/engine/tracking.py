"""Experiment tracking: W&B on rank 0 only, offline unless an API key is present.

Ray's own ``setup_wandb(rank_zero_only=True)`` did not stop rank 1 from logging in this Ray version, so
the gate is ours: every other rank gets a tracker whose methods do nothing.
"""

from __future__ import annotations

import os
from typing import Any


def wandb_mode(setting: str) -> str:
    """``auto`` -> online with WANDB_API_KEY, offline without (never blocks on the network)."""
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

    def log_tables(self, tables: dict[str, dict[str, Any]], step: int) -> None:
        if not self.run or not tables:
            return
        import wandb

        self.run.log({name: wandb.Table(columns=t["columns"], data=t["rows"]) for name, t in tables.items()}, step=step)

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        if self.run:
            if summary:
                self.run.summary.update(summary)
            self.run.finish()
            self.run = None
