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
from kexue_dist.tune.sweep import load_sweep, trial_overrides, unfinished_trials, validate_trials


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
    """Trials Tune has saved as ended (what --resume will read)."""
    experiment = out / "tune" / "sweep_smoke"
    return 3 - unfinished_trials(experiment, 3) if experiment.is_dir() else 0


def reports(out: Path, index: int) -> list[int]:
    """Line counts of the Tune result logs of trial ``index`` (one entry per trial directory)."""
    return [len(p.read_text().splitlines()) for p in out.glob(f"tune/sweep_smoke/_trial_*_{index:05d}_*/result.json")]


def test_sweep_interrupt_then_resume(tmp_path):
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(sweep_cmd(out), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 600
    while finished_trials(out) < 1 and first.poll() is None and time.time() < deadline:
        time.sleep(1)
    assert first.poll() is None and finished_trials(out) >= 1, (tmp_path / "first.log").read_text()[-3000:]
    os.kill(first.pid, signal.SIGINT)  # Ctrl-C on the driver: Tune saves its state and exits
    try:
        first.wait(120)
    finally:
        try:
            os.killpg(first.pid, signal.SIGKILL)  # whatever of that local Ray is left
        except ProcessLookupError:
            pass
    assert first.returncode == 130 and not (out / "sweep_smoke.json").exists()
    finished_at = (out / "runs" / "latent=2-seed0" / "summary.json").stat().st_mtime_ns
    assert reports(out, 0) == [3]

    proc = subprocess.run(sweep_cmd(out, "--resume"), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((out / "sweep_smoke.json").read_text())
    assert [r["value"] for r in rows] == [2, 8, 16] and not any(r["error"] for r in rows)
    assert rows[0]["steps"] == 30 and rows[0]["nll_elbo"] > 0
    # ASHA really stops: with 3 sequential trials at least one ends before its 30 steps
    assert any(r["stopped_early"] for r in rows), rows
    # the finished trial was not run again
    assert (out / "runs" / "latent=2-seed0" / "summary.json").stat().st_mtime_ns == finished_at
    assert reports(out, 0) == [3]
