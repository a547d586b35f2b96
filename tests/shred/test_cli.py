import json

import numpy as np

from kexue_dist.cli import main

from ._pages import cut, text_page, write


def test_restore_cli_strips(tmp_path, shred_ray, capsys):
    page = text_page(width=24 * 8, height=240, seed=7)
    pieces, truth = cut(page, 1, 8, seed=7)
    d = write(pieces, tmp_path / "p")
    out = tmp_path / "out"
    rc = main(["shred", "restore", str(d), "--out", str(out), "--no-progress"])
    assert rc == 0
    res = json.loads((out / "result.json").read_text())
    assert res["layout"] == "strips"
    assert set(res) >= {"layout", "grid", "seam_confidence", "seconds"}
    want = np.concatenate([pieces[x] for x in truth[0]], axis=1)
    have = np.concatenate([pieces[x] for x in res["grid"][0]], axis=1)
    assert np.array_equal(want, have)
    assert (out / "restored.png").exists()
    assert truth[0][0] in capsys.readouterr().out


def test_restore_cli_pin_and_baseline(tmp_path, shred_ray):
    page = text_page(width=24 * 6, height=240, seed=9)
    pieces, truth = cut(page, 1, 6, seed=9)
    d = write(pieces, tmp_path / "p")
    a, b = truth[0][0], truth[0][3]
    out = tmp_path / "o2"
    assert main(["shred", "restore", str(d), "--out", str(out), "--no-progress", "--pin", f"{a}>{b}"]) == 0
    g = json.loads((out / "result.json").read_text())["grid"][0]
    assert g[g.index(a) + 1] == b
    out3 = tmp_path / "o3"
    assert main(["shred", "restore", str(d), "--out", str(out3), "--solver", "baseline", "--no-progress"]) == 0
    assert json.loads((out3 / "result.json").read_text())["solver"] == "baseline"


def test_batch_job_rejects_bad_input_before_ray(tmp_path, capsys):
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location(
        "shred_batch", os.path.join(os.path.dirname(__file__), "..", "..", "jobs", "shred_batch.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_write_outputs_replaces_atomically(tmp_path):
    from kexue_dist.shred import restore

    pieces = {"000": np.zeros((10, 4), np.uint8), "001": np.full((10, 4), 255, np.uint8)}
    res = {"layout": "strips", "grid": [["000", "001"]], "seam_confidence": 1.0, "seconds": 0.1}
    out = tmp_path / "out"
    restore.write_outputs(res, pieces, str(out))
    restore.write_outputs(res, pieces, str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert json.loads((out / "result.json").read_text())["grid"] == [["000", "001"]]
