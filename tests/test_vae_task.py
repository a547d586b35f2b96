"""The VAE task's loss / eval wiring (without Ray or DeepSpeed), presets, and the CLI's bad-input exit."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from kexue_dist.engine.config import load_train_config
from kexue_dist.vae.task import TextVAETask, pad_batch

class FakeEngine(torch.nn.Module):
    """What the task sees of a DeepSpeed engine: callable, with ``.module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def batch(seed, n=8):
    rng = np.random.default_rng(seed)
    ids = np.empty(n, dtype=object)
    ids[:] = [rng.integers(4, 40, size=rng.integers(1, 9)) for _ in range(n)]
    return pad_batch(ids, torch.device("cpu"))


def make_task(*overrides):
    cfg = load_train_config("vae_smoke", list(overrides))
    task = TextVAETask(cfg, {"vocab": [f"w{i}" for i in range(40)]})
    torch.manual_seed(0)
    model = task.build_models()["vae"]
    return task, {"vae": FakeEngine(model)}, model


@pytest.mark.parametrize("posterior", ["vanilla", "free_bits", "bn_fixed_gamma", "bn_su_tau"])
def test_loss_and_eval_metrics(posterior):
    task, engines, model = make_task(f"model.posterior={posterior}", "model.iw_samples=4")
    out = task.loss(engines, batch(0), step=1000)
    out["loss"].backward()
    assert out["beta"] == 1.0 and torch.isfinite(out["loss"])
    if posterior == "free_bits":
        assert out["kl_term"] >= 0.5 * 8 - 1e-5
    else:
        assert torch.isclose(out["kl_term"], out["kl"])
    if posterior.startswith("bn"):
        assert out["kl"] >= model.kl_floor * 0.99
    model.eval()
    totals: dict[str, float] = {}
    for seed in (1, 2):  # what the engine does: add float sums over batches
        for k, v in task.eval_sums(engines, batch(seed)).items():
            totals[k] = totals.get(k, 0.0) + float(v)
    m = task.eval_metrics(totals)
    assert set(m) == {"rec", "kl", "nll_elbo", "ppl_elbo", "nll_iw", "ppl_iw", "iw_k", "mi", "au", "kl_floor"}
    assert all(math.isfinite(v) for v in m.values())
    assert m["iw_k"] == 4 and 0 <= m["au"] <= 8 and m["mi"] <= math.log(8) + 1e-6
    assert m["nll_elbo"] == pytest.approx(m["rec"] + m["kl"])
    assert m["ppl_iw"] == pytest.approx(math.exp(m["nll_iw"] * totals["count"] / totals["tokens"]))
    assert m["kl_floor"] == {"bn_su_tau": 8 * 0.5 / 2, "bn_fixed_gamma": 8 * 0.36 / 2}.get(posterior, 0.0)


def test_samples_use_running_stats_and_restore_train_mode():
    task, engines, model = make_task("model.posterior=bn_su_tau")
    model.train()
    task.loss(engines, batch(0), step=1)  # one batch of running statistics
    before = model.posterior.bn_mu.running_mean.clone()
    out = task.samples(engines, {k: v[:1] for k, v in batch(3).items()})  # a batch of one works in eval mode
    assert model.training and torch.equal(model.posterior.bn_mu.running_mean, before)
    assert out["samples"]["columns"] == ["kind", "input", "output"] and len(out["samples"]["rows"]) == 2


@pytest.mark.parametrize(
    "preset, posterior",
    [("vae", "bn_su_tau"), ("vae_smoke", "bn_su_tau"), ("vae_gpu", "bn_su_tau"), ("bn_vae_results", "vanilla"), ("image_vae", "bn_su_tau"),
     ("demo_vae", "vanilla"), ("bench_engine", "vanilla")],
)
def test_presets(preset, posterior):
    assert load_train_config(preset).model.posterior == posterior


def test_cli_rejects_bad_tau_before_ray(tmp_path):
    """RAY_ADDRESS points at a closed port, as in test_cli_errors: reaching Ray would fail differently."""
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9", "KEXUE_DIST_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "kexue_dist.cli", "train", "vae", "--out", str(tmp_path / "runs"),
                           "--set", "model.posterior=bn_su_tau", "--set", "model.tau=1.5"],
                          capture_output=True, text=True, timeout=120, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "model.tau: must be in (0, 1)" in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()
