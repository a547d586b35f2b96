"""GAN workload: metrics, grids, models, CLI error paths, and one end-to-end fit with two DeepSpeed engines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kexue_dist.cli import main
from kexue_dist.gan.grid import make_grid, save_png
from kexue_dist.gan.losses import FAMILY_NAMES
from kexue_dist.gan.metrics import frechet_distance, kid, mean_cov, precision_recall, stats_from_sums
from kexue_dist.gan.models import DCGANDiscriminator, DCGANGenerator, ToyCritic, ToyGenerator
from kexue_dist.gan.results import ranking_from_rows


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 6))
    mu, sigma = mean_cov(a)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)
    # diagonal covariances: FD = |dmu|^2 + sum (s1 - s2)^2 over standard deviations
    s1, s2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    fd = frechet_distance(np.zeros(3), s1, np.ones(3), s2)
    assert fd == pytest.approx(3 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2)
    # the summed-moment form used across workers equals np.cov
    m2, c2 = stats_from_sums(a.sum(0), a.T @ a, len(a))
    assert np.allclose(m2, mu) and np.allclose(c2, sigma)


def test_kid_and_precision_recall():
    rng = np.random.default_rng(1)
    real, same, shifted = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)), rng.normal(3.0, 1.0, size=(300, 8))
    assert abs(kid(real, same, subsets=2, subset_size=300)) < 0.05
    assert kid(real, shifted, subsets=2, subset_size=300) > 1.0
    p, r = precision_recall(real, same)
    assert p > 0.8 and r > 0.8
    p, r = precision_recall(real, shifted)
    assert p < 0.2 and r < 0.2
    collapsed = np.repeat(real[:1], 300, 0) + 1e-3 * rng.normal(size=(300, 8))  # mode collapse
    p, r = precision_recall(real, collapsed)
    assert p == 1.0 and r < 0.1


def test_grid(tmp_path):
    images = torch.linspace(0, 1, 5 * 28 * 28).view(5, 1, 28, 28)
    grid = make_grid(images, nrow=3, pad=2)
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2) and grid.dtype == np.uint8
    assert grid[2, 2] == 0 and grid[0, 0] == 255 and grid[-3, -3] == 255  # empty sixth tile stays white
    from PIL import Image

    path = save_png(grid, tmp_path / "g.png", scale=2)
    assert Image.open(path).size == (2 * grid.shape[1], 2 * grid.shape[0])


def test_models_shapes_and_su_toy_spec():
    g, d = ToyGenerator(10), ToyCritic()
    x = g(torch.rand(4, 10) * 2 - 1).detach()
    assert x.shape == (4, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert d(x).shape == (4,)
    sizes = [tuple(m.weight.shape) for m in list(g.modules()) + list(d.modules()) if isinstance(m, torch.nn.Linear)]
    assert sizes == [(32, 10), (128, 32), (784, 128), (128, 784), (32, 128), (1, 32)]
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, torch.nn.Linear):
            assert float(m.weight.abs().max()) <= 0.05 and float(m.bias.abs().max()) == 0
    G, D = DCGANGenerator(16, 8), DCGANDiscriminator(8)
    y = G(torch.randn(3, 16))
    assert y.shape == (3, 1, 28, 28) and float(y.abs().max()) <= 1 and D(y).shape == (3,)


def test_ranking_aggregates_seeds_and_flags_divergence():
    rows = [
        {"value": "gan", "seed": 0, "fd": 10.0, "kid": 1.0, "precision": 0.5, "recall": 0.4, "diverged": 0.0, "steps": 400},
        {"value": "gan", "seed": 1, "fd": 14.0, "kid": 3.0, "precision": 0.7, "recall": 0.2, "diverged": 0.0, "steps": 200},
        {"value": "kl", "seed": 0, "fd": 1e4, "kid": None, "precision": 0.0, "recall": 0.0, "diverged": 1.0, "steps": 100},
        {"value": "lsif", "seed": 0, "fd": None, "error": "RuntimeError: boom", "steps": None},
    ]
    ranking = ranking_from_rows(rows, "non-saturating")
    assert [e["family"] for e in ranking] == ["gan", "kl", "lsif"]
    top = ranking[0]
    assert {"family", "generator", "fd", "kid", "precision", "recall", "seeds", "diverged"} <= set(top)
    assert top["fd"] == 12.0 and top["seeds"] == 2 and not top["diverged"] and top["precision"] == pytest.approx(0.6)
    assert ranking[1]["diverged"] and ranking[2]["diverged"] and ranking[2]["fd"] is None


def test_cli_families_and_error_paths(capsys, tmp_path):
    assert main(["gan", "families"]) == 0
    assert capsys.readouterr().out.split() == FAMILY_NAMES
    out = tmp_path / "sweep"
    assert main(["sweep", "gan-loss", "--families", "gan,wasserstein", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'wasserstein'" in err and "valid: tv, kl, reverse-kl" in err and "wgan-gp" in err
    assert main(["sweep", "gan-loss", "--budget", "huge", "--out", str(out)]) == 2
    assert "smoke" in capsys.readouterr().err
    assert main(["sweep", "gan-loss", "--generator", "minimax", "--out", str(out)]) == 2
    assert main(["train", "gan", "--config", "gan_smoke", "--set", "model.family=wgan"]) == 2
    assert "valid: tv" in capsys.readouterr().err
    assert not out.exists()


def test_gan_fit_two_engines_end_to_end(ray_local, tmp_path):
    """WGAN-GP (gradient penalty + 2 critic steps per generator step) on the tiny DCGAN through Ray Train:
    both engines step, evaluation scores generated images, the grid lands as PNG and in W&B (offline)."""
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.engine.tracking import read_offline_run
    from kexue_dist.engine.trainer import fit

    cfg = load_train_config("gan_smoke", ["model.family=wgan-gp", "model.d_steps=2", f"run.out_dir={tmp_path}", "run.name=gan-e2e",
                                          "run.max_failures=0"])
    res = fit(cfg)
    final = res.final
    for key in ("train/d_loss", "train/g_loss", "train/gp", "valid/fd", "valid/kid", "valid/precision", "valid/recall"):
        assert np.isfinite(final[key]), key
    assert final["valid/samples"] == 64 and final["valid/diverged"] == 0.0 and final["valid/fd"] > 0
    evals = [row for row in res.history if "valid/fd" in row]
    assert [row["step"] for row in evals] == [4, 8]
    grid = res.run_dir / "samples" / "samples_last.png"
    assert grid.is_file() and (res.run_dir / "samples" / "samples_step00000004.png").is_file()
    (wandb_dir,) = (res.run_dir / "wandb").glob("offline-run-*")
    logged = read_offline_run(str(wandb_dir))
    assert any("valid/fd" in row for row in logged["history"]) and logged["config"]["model"]["family"] == "wgan-gp"
    # both models changed: the checkpoint holds a G and a D engine
    assert {p.name for p in Path(res.checkpoint).iterdir()} >= {"G", "D"}
    summary = json.loads((res.run_dir / "summary.json").read_text())
    assert summary["final"]["valid/fd"] == final["valid/fd"]


@pytest.mark.slow
def test_gan_loss_sweep_ranks_families_and_asha_stops(tmp_path):
    """`kexue-dist sweep gan-loss` end to end (about 3 minutes on 2 cores): three families through Tune,
    ASHA on the validation FD, then the ranking and one grid per family."""
    import os

    out = tmp_path / "sweep"
    tiny = ('overrides=["model.width=8","model.z_dim=16","model.kid_subsets=2","engine.steps=30","engine.batch_size=32",'
            '"engine.eval_every=10","engine.log_every=10","engine.eval_batches=4","scaling.cpus_per_worker=1","tracking.wandb=offline"]')
    env = {**os.environ}
    env.pop("RAY_ADDRESS", None)
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "kexue_dist.cli", "sweep", "gan-loss", "--families", "gan,kl,least-squares",
                           "--out", str(out), "--set", tiny], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranking = json.loads((out / "gan_ranking.json").read_text())
    assert sorted(e["family"] for e in ranking) == ["gan", "kl", "least-squares"]
    assert all(e["generator"] == "non-saturating" and e["seeds"] == 1 for e in ranking)
    fds = [e["fd"] for e in ranking]
    assert fds == sorted(fds)
    assert {p.name for p in (out / "gan_grids").glob("*.png")} == {"gan.png", "kl.png", "least-squares.png"}
    rows = json.loads((out / "gan_loss_sweep.json").read_text())
    assert any(r["stopped_early"] for r in rows), rows  # sequential trials: ASHA stops at least one
    for r in rows:
        assert list((out / "runs" / f"family={r['value']}-seed0" / "wandb").glob("offline-run-*"))
