"""The README's main command, in its quick form: every section runs and lands in the report."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHRED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cumcm2013b"


@pytest.mark.skipif(not SHRED_DATA.is_dir(), reason="needs ../shared/data/cumcm2013b")
def test_demo_quick_writes_report(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-m", "kexue_dist.cli", "demo", "--quick", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "report.md").read_text()
    for needle in ("BN-VAE", "plots/vae_kl.png", "attachment5", "shred/attachment3/restored.png", "Timings"):
        assert needle in report
    assert (out / "plots" / "vae_nll.png").stat().st_size > 5000
    assert "plots/vae_mi.png" in report and "bn_su_tau" in report
    for variant in ("vanilla", "bn_su_tau"):
        assert list((out / "vae" / variant / "wandb").glob("offline-run-*"))


def test_demo_bad_section_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kexue_dist.cli", "demo", "--only", "gan", "--out", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown section 'gan'" in proc.stderr
    assert not (tmp_path / "d").exists()
