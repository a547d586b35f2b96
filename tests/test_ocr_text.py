"""OCR text side: edit distance / CER, the corpus split, the page renderer, the peers' install errors and
the benchmark's quick run (tesseract only; RapidOCR forced missing)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_dist.errors import UserError
from kexue_dist.ocr import corpus, fonts, metrics, pages, peers
from kexue_dist.ocr.charset import gb2312_level1, in_charset, normalise_text

ROOT = Path(__file__).resolve().parents[1]
HANZI = gb2312_level1()[:200]


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


small = st.text(alphabet="ab国中，", max_size=12)
hanzi_text = st.lists(st.sampled_from(HANZI), min_size=1, max_size=40).map("".join)


# ---- edit distance and CER ---------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(small, small)
def test_edit_distance_matches_reference_and_is_symmetric(a, b):
    d = metrics.edit_distance(a, b)
    assert d == _levenshtein(a, b) == metrics.edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))


@settings(max_examples=100, deadline=None)
@given(small)
def test_identity_is_zero(a):
    assert metrics.edit_distance(a, a) == 0
    assert metrics.cer(a, a) == 0.0


@settings(max_examples=150, deadline=None)
@given(small, small, small)
def test_triangle_inequality(a, b, c):
    assert metrics.edit_distance(a, c) <= metrics.edit_distance(a, b) + metrics.edit_distance(b, c)


@settings(max_examples=50, deadline=None)
@given(hanzi_text, st.data())
def test_cer_of_one_substitution(ref, data):
    pos = data.draw(st.integers(0, len(ref) - 1))
    new = data.draw(st.sampled_from([h for h in HANZI[:20] if h != ref[pos]]))
    hyp = ref[:pos] + new + ref[pos + 1 :]
    assert metrics.cer(ref, hyp) == pytest.approx(1 / len(ref))


@settings(max_examples=50, deadline=None)
@given(hanzi_text, hanzi_text, st.lists(st.tuples(st.integers(0, 60), st.sampled_from([" ", "\n", "\t", "\u3000", " \n "])), max_size=8))
def test_cer_ignores_whitespace_and_newlines(ref, hyp, inserts):
    spaced = hyp
    for pos, ws in inserts:
        pos = min(pos, len(spaced))
        spaced = spaced[:pos] + ws + spaced[pos:]
    assert metrics.cer(ref, spaced) == metrics.cer(ref, hyp)
    assert metrics.cer("\n".join(ref), hyp) == metrics.cer(ref, hyp)


def test_cer_normalises_full_width_forms_and_long_pages():
    assert metrics.cer("１９９８年（附图）", "1998年(附图)") == 0.0
    assert metrics.cer("", "") == 0.0 and metrics.cer("", "abc") == 3.0
    rng = np.random.default_rng(0)
    a = "".join(rng.choice(HANZI, 2000))
    b = list(a)
    for i in rng.choice(2000, 50, replace=False):
        b[i] = "某" if b[i] != "某" else "甲"
    assert metrics.edit_distance(a, "".join(b)) == 50


# ---- corpus ------------------------------------------------------------------------------------------

def test_corpus_splits_are_disjoint_and_lm_is_most():
    paras = corpus.paragraphs()
    splits = {s: corpus.split_paragraphs(s) for s in corpus.SPLITS}
    sets = {s: set(v) for s, v in splits.items()}
    assert sum(len(v) for v in splits.values()) == len(paras) == len(set(paras))
    assert not (sets["lm"] & sets["valid"]) and not (sets["lm"] & sets["test"]) and not (sets["valid"] & sets["test"])
    assert len(splits["lm"]) >= 0.85 * len(paras)
    assert len(splits["test"]) > 500 and len(splits["valid"]) > 500
    assert splits["test"][0] == paras[0] and splits["valid"][0] == paras[1]
    assert all(" " not in p and p == normalise_text(p) for p in paras[:2000])
    with pytest.raises(UserError):
        corpus.split_paragraphs("train")


def test_corpus_fast_normalisation_equals_normalise_text():
    raw = corpus.corpus_path().read_text(encoding="utf-8").splitlines()[:400]
    slow = {normalise_text("".join(t.rsplit("/", 1)[0] for t in line.split())) for line in raw}
    assert slow - {""} <= set(corpus.paragraphs())


def test_page_lines_exact_in_charset_deterministic_and_from_the_split():
    lines = corpus.page_lines("test", 12, 30, seed=5)
    assert len(lines) == 12 and all(len(ln) == 30 for ln in lines)
    assert all(in_charset(ln) for ln in lines)
    assert lines == corpus.page_lines("test", 12, 30, seed=5)
    assert lines != corpus.page_lines("test", 12, 30, seed=6)
    stream = "".join(corpus.strip_to_charset(p) for p in corpus.split_paragraphs("test"))
    assert "".join(lines) in stream + stream  # consecutive text of the test split (it may wrap around)
    lm_stream = "".join(corpus.split_paragraphs("lm"))
    assert "".join(lines[:2]) not in lm_stream
    with pytest.raises(UserError):
        corpus.page_lines("test", 0, 30, seed=0)


# ---- page renderer -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def face():
    try:
        return fonts.faces(fonts.HELD_OUT)[0]
    except UserError as err:
        pytest.skip(str(err))


@pytest.mark.parametrize("size", [14, 24])
def test_render_page_boxes_hold_the_ink(face, size):
    lines = corpus.page_lines("valid", 5, 12, seed=1) + ["", "ab12，。"]
    img, boxes = pages.render_page(lines, face, size)
    assert img.dtype == np.uint8 and img.ndim == 2 and len(boxes) == len(lines)
    h, w = img.shape
    mask = np.zeros_like(img, dtype=bool)
    for text, (x0, y0, x1, y1) in zip(lines, boxes):
        assert 0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h
        assert all(isinstance(v, int) for v in (x0, y0, x1, y1))
        if text:
            assert x1 > x0 and y1 > y0
            box = img[y0:y1, x0:x1]  # tight: ink on every border row/column
            assert box[0].min() < 255 and box[-1].min() < 255 and box[:, 0].min() < 255 and box[:, -1].min() < 255
        else:
            assert x1 == x0 and y1 == y0
        mask[y0:y1, x0:x1] = True
    assert (img[~mask] == 255).all()  # no ink outside the boxes
    assert img.min() == 0 and img.max() == 255
    tops = [b[1] for b, t in zip(boxes, lines) if t]
    assert tops == sorted(tops)


def test_render_page_noise_and_blur(face):
    lines = corpus.page_lines("valid", 4, 20, seed=2)
    clean, boxes = pages.render_page(lines, face, 18)
    for rate in (0.02, 0.1):
        noisy, boxes2 = pages.render_page(lines, face, 18, noise=rate, seed=3)
        assert boxes2 == boxes and noisy.shape == clean.shape
        assert abs((noisy != clean).mean() - rate) < 0.01
    again, _ = pages.render_page(lines, face, 18, noise=0.1, seed=3)
    assert (again == noisy).all()
    blurred, _ = pages.render_page(lines, face, 18, blur=1.0)
    assert not (blurred == clean).all() and ((blurred > 0) & (blurred < 255)).sum() > ((clean > 0) & (clean < 255)).sum()
    with pytest.raises(UserError):
        pages.render_page(lines, face, 18, noise=1.5)


# ---- peers -------------------------------------------------------------------------------------------

def test_rapidocr_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import now raises ImportError
    with pytest.raises(UserError, match=r"ocr-bench.*rapidocr-onnxruntime==1\.4\.4"):
        peers.rapidocr_reader()


def test_tesseract_missing_names_the_debian_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="tesseract-ocr tesseract-ocr-chi-sim"):
        peers.tesseract_reader()


def test_tesseract_without_chi_sim(monkeypatch, tmp_path):
    fake = tmp_path / "tesseract"
    fake.write_text('#!/bin/sh\necho "List of available languages (1):"\necho eng\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="no chi_sim.*tesseract-ocr-chi-sim"):
        peers.tesseract_reader()


def test_peer_output_cleaning():
    assert peers.clean_tesseract("人 民 日 报 ， 1998 年\n\n  Hello world 。\n") == "人民日报，1998年\nHello world。"
    items = [([200, 52, 300, 80], "乙"), ([10, 10, 300, 40], "第一行"), ([10, 50, 190, 82], "甲")]
    assert peers.group_lines(items) == ["第一行", "甲乙"]


def test_benchmark_quick_run_reports_missing_peer(monkeypatch, tmp_path):
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract not installed")
    spec = importlib.util.spec_from_file_location("ocr_vs_peers", ROOT / "benchmarks" / "ocr_vs_peers.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    out = tmp_path / "ocr.json"
    assert bench.main(["--quick", "--sizes", "20", "--lines", "3", "--chars", "12", "--systems", "rapidocr,tesseract",
                       "--threads", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert "ocr-bench" in res["summary"]["rapidocr"]["missing"]
    tess = res["summary"]["tesseract chi_sim"]
    assert [c["name"] for c in res["settings"]["conditions"]] == ["20px clean", "20px noisy"]
    assert res["settings"]["pages"] == 1 and res["settings"]["noise"] == bench.NOISE
    assert tess["20px clean"]["cer"] < 0.2 and tess["20px clean"]["pages_per_s"] > 0
    assert res["machine"]["cpus"] == os.cpu_count() and "missing" in res["table"]
