"""The engine end to end on real Ray Train + DeepSpeed + W&B (offline): one fit per behaviour.

Each fit costs ~15-60 s on 2 cores, so every fit here checks several things at once.
"""

import glob
import json
import os

import pytest

from kexue_dist.engine.config import load_train_config
from kexue_dist.engine.loop import deepspeed_config, lr_lambda
from kexue_dist.engine.tracking import read_offline_run
from kexue_dist.engine.trainer import fit


def smoke(tmp_path, name, *overrides, workers=1):
    return load_train_config("vae_smoke", [f"run.out_dir={tmp_path}", f"run.name={name}", *overrides], scaling__workers=workers)


def test_lr_schedule_and_deepspeed_config():
    assert lr_lambda(0, 10, 100, "constant") == pytest.approx(0.1)
    assert lr_lambda(50, 10, 100, "constant") == 1.0
    assert lr_lambda(100, 0, 100, "cosine") == pytest.approx(0.1)
    cfg = load_train_config("vae_smoke", ["engine.zero_stage=2", "optim.grad_clip=1.5"])
    cpu, gpu = deepspeed_config(cfg, use_gpu=False), deepspeed_config(cfg, use_gpu=True)
    assert cpu["zero_optimization"]["stage"] == 2 and cpu["gradient_clipping"] == 1.5
    assert "torch_autocast" not in cpu and gpu["torch_autocast"] == {"enabled": True, "dtype": "bfloat16"}


def test_fit_logs_to_wandb_checkpoints_and_resumes(ray_local, tmp_path):
    first = fit(smoke(tmp_path, "first", "engine.steps=20", "engine.checkpoint_every=10"))
    assert [row["step"] for row in first.history] == [5, 10, 15, 20]
    assert first.final["valid/nll_elbo"] > 0 and first.resumed_from == []
    assert (first.run_dir / "metrics.jsonl").read_text().count("\n") == 4
    # the W&B offline run, read back from its transaction log
    (wandb_dir,) = glob.glob(str(first.run_dir / "wandb" / "offline-run-*"))
    run = read_offline_run(wandb_dir)
    logged = [row for row in run["history"] if "valid/nll_elbo" in row]
    assert [row["_step"] for row in logged] == [15, 20]
    assert logged[-1]["valid/nll_elbo"] == pytest.approx(first.final["valid/nll_elbo"])
    assert any("samples" in k for k in run["history"][-1])  # the sample table
    assert run["config"]["engine"]["steps"] == 20

    # continue the same model for 10 more steps from its last DeepSpeed checkpoint
    second = fit(smoke(tmp_path, "second", "engine.steps=30", "engine.checkpoint_every=10"), resume=first.checkpoint)
    assert second.resumed_from == [20]
    assert [row["step"] for row in second.history] == [5, 10, 15, 20, 25, 30]
    assert len(second.step_times) == 10  # only the new steps ran


def test_worker_death_resumes_from_last_checkpoint(ray_local, tmp_path):
    """Rank 1 dies by os._exit at step 17 (a real process death); Ray Train restarts the group,
    which loads the step-10 ZeRO-2 checkpoint and finishes all 30 steps."""
    cfg = smoke(tmp_path, "faulty", "engine.steps=30", "engine.checkpoint_every=10", "engine.die_at_step=17",
                "engine.zero_stage=2", workers=2)
    res = fit(cfg)
    assert (res.run_dir / ".died_once").read_text() == "17"
    assert res.resumed_from == [10]
    assert res.history[-1]["step"] == 30 and len(res.step_times) == 20  # steps 11..30 after the restart
    steps = [row["step"] for row in res.history]
    assert steps == sorted(set(steps))  # nothing logged twice: steps 1-10 were not redone
    ckpts = sorted(os.listdir(res.run_dir / "ray" / "faulty"))
    assert "checkpoint_step_00000030" in ckpts[-1]
