"""Bad input: exit code 2, one stderr line naming the problem, before Ray starts, nothing written.

RAY_ADDRESS points at a closed port: if any of these reached Ray, it would fail differently (or hang)."""

import os
import subprocess
import sys

import pytest


def run_cli(args, tmp_path):
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9", "KEXUE_DIST_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "kexue_dist.cli", *args], capture_output=True, text=True, env=env, timeout=120)


def corrupt_parquet(tmp_path):
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"PAR1" + os.urandom(64) + b"PAR1")
    return str(path)


CASES = [
    (["--set", "model.hiden=3"], "model.hiden: unknown key"),
    (["--set", "engine.optim.lr=1"], "engine.optim: unknown key"),
    (["--set", "engine.steps=ten"], "engine.steps: expected an integer"),
    (["--workers", "0"], "--workers: must be >= 1"),
    (["--set", "data.corpus=/no/such/corpus.txt"], "data.corpus: '/no/such/corpus.txt' is neither"),
    (["--set", "data.corpus={corrupt}"], "is not a readable Parquet file"),
    (["--config", "nonexistent_preset"], "no such preset"),
]


@pytest.mark.parametrize("extra, message", CASES)
def test_train_bad_input(tmp_path, extra, message):
    extra = [a.format(corrupt=corrupt_parquet(tmp_path)) for a in extra]
    out = tmp_path / "runs"
    proc = run_cli(["train", "vae", "--config", "vae_smoke", "--out", str(out), *extra], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not out.exists()


def test_unknown_model(tmp_path):
    proc = run_cli(["train", "transformer"], tmp_path)
    assert proc.returncode == 2 and "unknown model 'transformer' (known: " in proc.stderr


def test_usage_errors_are_one_line(tmp_path):
    proc = run_cli(["train"], tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
