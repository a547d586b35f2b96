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
                          capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "report.md").read_text(encoding="utf-8")
    for needle in ("BN-VAE", "plots/vae_kl.png", "attachment5", "shred/attachment3/restored.png", "Timings"):
        assert needle in report
    assert (out / "plots" / "vae_nll.png").stat().st_size > 5000
    assert "plots/vae_mi.png" in report and "bn_su_tau" in report
    for variant in ("vanilla", "bn_su_tau"):
        assert list((out / "vae" / variant / "wandb").glob("offline-run-*"))
    # GAN section (kexue_dist/gan/demo.py): the table, one grid per family, the committed sweep ranking
    from kexue_dist.gan.demo import DEMO_FAMILIES

    assert "GAN loss families" in report and "Committed sweep ranking" in report
    for family in DEMO_FAMILIES:
        assert f"| {family} |" in report and f"plots/gan_{family}.png" in report
        assert (out / "plots" / f"gan_{family}.png").stat().st_size > 1000
        assert list((out / "gan" / family / "wandb").glob("offline-run-*"))
    # sentiment section (kexue_dist/sentiment/demo.py): three fits, the committed table, predict on examples
    assert "Chinese review sentiment" in report and "plots/sentiment_valid_acc.png" in report
    for model, unit in (("char_onehot", "char"), ("char_embedding", "char"), ("word_embedding", "word")):
        assert f"| {model} | {unit} | " in report
        assert list((out / "sentiment" / model / "wandb").glob("offline-run-*"))
    assert "| char_cnn |" in report  # the committed results/sentiment.json table
    assert "predict bundle unavailable" not in report and "这家酒店很干净，服务也热情 |" in report
    # OCR section (kexue_dist/ocr/demo.py): the page image, truth vs read, CER; the restored contest page read
    assert "reading a printed Chinese page" in report and (out / "ocr" / "page.png").stat().st_size > 5000
    cer = float(report.split("Character error rate **")[1].split("**")[0])
    assert cer < 0.05, cer
    assert "attachment 1 page, as restored by the shred section" in report
    order = [report.index(s) for s in ("BN-VAE", "GAN loss families", "Chinese review sentiment", "attachment5",
                                       "reading a printed Chinese page")]
    assert order == sorted(order)


def test_demo_bad_section_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kexue_dist.cli", "demo", "--only", "nope", "--out", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown section 'nope'" in proc.stderr
    assert not (tmp_path / "d").exists()
