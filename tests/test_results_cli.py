"""`kexue-dist results`: the BN-VAE plan and summary (without training), and bad input."""

import argparse
import json
import os
import subprocess
import sys

import pytest

from kexue_dist.errors import UserError
from kexue_dist.vae import results as bn


def args(**kw):
    base = {"out": "/tmp/kx-results-test", "budget": "cpu", "seeds": None, "workers": None, "overrides": [], "parallel": 1}
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize("budget", ["cpu", "gpu"])
def test_plan_covers_every_corpus_and_variant_and_changes_only_the_posterior(budget):
    fits = bn.plan(args(budget=budget, seeds=2))
    assert len(fits) == 3 * 4 * 2
    text = [(d, v, s, cfg) for d, v, s, cfg in fits if d != "fashion_mnist"]
    assert {(d, v) for d, v, _, _ in text} == {(c, v) for c in bn.CORPORA for v in bn.VARIANTS}
    for dataset, variant, seed, cfg in text:
        assert (cfg.data.corpus, cfg.model.posterior, cfg.engine.seed) == (dataset, variant, seed)
        assert cfg.scaling.gpu == (budget == "gpu")
    # apart from corpus, posterior, seed and run name, every text fit has the same config
    from dataclasses import asdict

    def core(cfg):
        d = asdict(cfg)
        d["data"].pop("corpus"), d["model"].pop("posterior"), d["engine"].pop("seed"), d.pop("run")
        return json.dumps(d, sort_keys=True)

    assert len({core(cfg) for *_, cfg in text}) == 1


def test_plan_rejects_a_bad_override_before_training():
    with pytest.raises(UserError, match="model.tau"):
        bn.plan(args(overrides=["model.tau=1.5"]))


def test_summary_means_over_seeds_and_nulls_missing_floors():
    finals = [{key: 2.0 for key in bn.TEXT_KEYS.values()}, {key: 4.0 for key in bn.TEXT_KEYS.values()}]
    row = bn.summarise(finals, bn.TEXT_KEYS, "vanilla")
    assert row == {"nll": 3.0, "ppl": 3.0, "kl": 3.0, "mi": 3.0, "au": 3.0, "kl_floor": None, "k": 3}
    assert bn.summarise(finals, bn.TEXT_KEYS, "bn_su_tau")["kl_floor"] == 3.0


@pytest.mark.parametrize("argv, message", [
    (["results", "nope"], "unknown name 'nope'"),
    (["results", "bn-vae", "--parallel", "0"], "--parallel: must be >= 1"),
    (["results", "bn-vae", "--set", "model.latent=0"], "model.latent: must be >= 1"),
])
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path):
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9"}  # reaching Ray would fail differently
    proc = subprocess.run([sys.executable, "-m", "kexue_dist", *argv, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
