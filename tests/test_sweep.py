"""Ray Tune sweep: ASHA stops trials; an interrupted sweep resumes without redoing finished trials."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kexue_dist.errors import UserError
from kexue_dist.tune.sweep import load_sweep, trial_overrides, validate_trials


def test_trials_expand_and_validate_before_ray(tmp_path):
    sweep = load_sweep("sweep_smoke")
    trials = trial_overrides(sweep)
    assert [t["value"] for t in trials] == [2, 8, 16]
    bad = load_sweep("sweep_smoke", ["params=[{name: latent, key: model.latent, values: [0]}]"])
    with pytest.raises(UserError, match="model.latent"):
        validate_trials(bad, tmp_path)
    assert not (tmp_path / "tune").exists()


def sweep_cmd(out, *extra):
    return [sys.executable, "-m", "kexue_dist.cli", "sweep", "smoke", "--out", str(out), *extra]


def finished_trials(out: Path) -> int:
    """Trials whose Tune result log holds all 3 reports (30 steps, eval every 10)."""
    done = 0
    for log in out.glob("tune/sweep_smoke/*/result.json"):
        if len(log.read_text().splitlines()) >= 3:
            done += 1
    return done


def test_sweep_interrupt_then_resume(tmp_path):
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    first = subprocess.Popen(sweep_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 400
    while finished_trials(out) < 1 and first.poll() is None and time.time() < deadline:
        time.sleep(1)
    assert first.poll() is None, "the sweep ended before it could be interrupted"
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C: Tune saves its state and exits
    first.wait(120)
    assert not (out / "sweep_smoke.json").exists()
    finished_at = (out / "runs" / "latent=2-seed0" / "summary.json").stat().st_mtime_ns

    proc = subprocess.run(sweep_cmd(out, "--resume"), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((out / "sweep_smoke.json").read_text())
    assert [r["value"] for r in rows] == [2, 8, 16] and not any(r["error"] for r in rows)
    assert rows[0]["steps"] == 30 and rows[0]["nll_elbo"] > 0
    # ASHA really stops: with 3 sequential trials at least one ends before its 30 steps
    assert any(r["stopped_early"] for r in rows), rows
    # the finished trial was not run again
    assert (out / "runs" / "latent=2-seed0" / "summary.json").stat().st_mtime_ns == finished_at
