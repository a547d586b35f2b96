"""OCR: charset, glyph normalisation, bigram LM, lattice Viterbi, page geometry, CLI errors, the reader."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_dist.ocr.charset import charset, char_index, gb2312_level1, normalise_text
from kexue_dist.ocr.decode import viterbi
from kexue_dist.ocr.glyphs import normalise_cell
from kexue_dist.ocr.lm import count_bigrams


def test_charset_is_gb2312_level1_plus_alphanumerics_and_punctuation():
    chars = charset()
    assert len(gb2312_level1()) == 3755 and chars[:3755] == tuple(gb2312_level1())
    for c in "0123456789azAZ，。！？：；、“”（）":
        assert c in char_index()
    assert normalise_text("１９９８年, Ａ") == "1998年，A"


@settings(max_examples=40, deadline=None)
@given(h=st.integers(8, 40), w=st.integers(2, 40), left=st.integers(0, 20), right=st.integers(0, 20), seed=st.integers(0, 999))
def test_normalise_cell_ignores_blank_columns_but_keeps_vertical_position(h, w, left, right, seed):
    """Blank margins left/right never change the glyph; ink in the top half stays in the top half."""
    rng = np.random.default_rng(seed)
    cell = np.full((h, w), 255, np.uint8)
    cell[: max(1, h // 3), rng.integers(0, w)] = 0  # a stroke in the top third
    padded = np.pad(cell, ((0, 0), (left, right)), constant_values=255)
    a, b = normalise_cell(cell, 32), normalise_cell(padded, 32)
    assert a.shape == (32, 32) and np.array_equal(a, b)
    assert a[:16].sum() > 0 and a[20:].sum() == 0


@settings(max_examples=20, deadline=None)
@given(texts=st.lists(st.text(alphabet="的一是了不在有人这中大为上个国，。ab", min_size=1, max_size=30), min_size=1, max_size=8),
       prev=st.sampled_from(["的", "国", "a", "，", None]))
def test_bigram_lm_is_a_distribution_for_every_context(texts, prev):
    lm = count_bigrams(texts)
    p = -1 if prev is None else char_index()[prev]
    total = np.exp(lm.log_prob(np.full(lm.vocab, p), np.arange(lm.vocab))).sum()
    assert total == pytest.approx(1.0, abs=1e-9)


def _brute_force(n, edges, lm, lm_weight, bonus):
    """Every segmentation x every class choice, scored directly."""
    best, best_path = -np.inf, None
    for cuts in itertools.product([0, 1], repeat=n - 1):
        bounds = [0] + [k + 1 for k, c in enumerate(cuts) if c] + [n]
        spans = list(zip(bounds[:-1], bounds[1:]))
        if any(s not in edges for s in spans):
            continue
        for choice in itertools.product(*[range(len(edges[s][0])) for s in spans]):
            prev, score = -1, 0.0
            for s, k in zip(spans, choice):
                c = int(edges[s][0][k])
                score += edges[s][1][k] + bonus + lm_weight * float(lm.log_prob(prev, c))
                prev = c
            if score > best:
                best, best_path = score, [(s[0], s[1], int(edges[s][0][k])) for s, k in zip(spans, choice)]
    return best, best_path


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 10_000), lm_weight=st.floats(0, 2), bonus=st.floats(-3, 3))
def test_viterbi_finds_the_best_segmentation_and_labels(n, seed, lm_weight, bonus):
    rng = np.random.default_rng(seed)
    lm = count_bigrams(["的一是了不在有人", "是了的一", "人在有"])
    edges = {}
    for i in range(n):
        for j in range(i + 1, min(n, i + 3) + 1):
            picks = rng.choice(8, size=3, replace=False)
            classes = np.array([char_index()["的一是了不在有人"[k]] for k in picks])
            edges[(i, j)] = (classes, np.log(rng.dirichlet(np.ones(3))))
    path = viterbi(n, edges, lm, lm_weight, bonus)
    score = sum(edges[(i, j)][1][list(edges[(i, j)][0]).index(c)] + bonus for i, j, c in path)
    prev = -1
    for _, _, c in path:
        score += lm_weight * float(lm.log_prob(prev, c))
        prev = c
    best, _ = _brute_force(n, edges, lm, lm_weight, bonus)
    assert path[0][0] == 0 and path[-1][1] == n
    assert score == pytest.approx(best, abs=1e-9)


# -- page geometry and the reader ------------------------------------------------------------------------

from kexue_dist.ocr import fonts, page  # noqa: E402
from kexue_dist.ocr.corpus import page_lines  # noqa: E402
from kexue_dist.ocr.pages import render_page  # noqa: E402


def test_lines_found_where_the_renderer_put_them():
    lines = page_lines("valid", 5, 16, seed=3)
    img, boxes = render_page(lines, fonts.faces("noto_serif")[0], 24, seed=3)
    found = page.find_lines(page.binarise(page.to_grey(img)))
    assert len(found) == len(boxes)
    for line, box in zip(found, boxes):
        assert np.abs(np.array(line.box()) - np.array(box)).max() <= 2


def test_candidates_cover_every_segment_and_stay_narrow():
    segs = [(0, 5), (7, 12), (14, 30), (33, 60), (61, 64)]
    cands = page.candidates(segs, 24, pitch=22)
    assert {(i, i + 1) for i in range(len(segs))} <= set(cands)
    assert all(segs[j - 1][1] - segs[i][0] <= 1.15 * 22 or j == i + 1 for i, j in cands)
    assert (0, 2) in cands and (0, 3) not in cands and (2, 4) not in cands


@pytest.fixture(scope="module")
def reader():
    from kexue_dist.ocr.read import Reader

    return Reader.load()


def test_reader_reads_an_unseen_font_page(reader):
    """Benchmark-style text (the corpus's test split) in the held-out family: nearly every character right."""
    from kexue_dist.ocr.metrics import cer

    lines = page_lines("test", 4, 18, seed=11)
    img, boxes = render_page(lines, fonts.faces(fonts.HELD_OUT)[0], 28, seed=11)
    result = reader.read(img)
    assert len(result["lines"]) == 4
    assert cer("\n".join(lines), result["text"]) < 0.1
    for got, box in zip(result["lines"], boxes):
        assert np.abs(np.array(got["box"]) - np.array(box)).max() <= 2


def test_cli_read_json_and_bad_inputs(tmp_path, capsys):
    """One real `kexue-dist ocr read --json` subprocess; the text mode and bad inputs through main() in-process."""
    from PIL import Image

    from kexue_dist.cli import main

    lines = page_lines("test", 2, 10, seed=5)
    img, _ = render_page(lines, fonts.faces(fonts.HELD_OUT)[0], 32, seed=5)
    Image.fromarray(img).save(tmp_path / "page.png")
    proc = subprocess.run([sys.executable, "-m", "kexue_dist", "ocr", "read", str(tmp_path / "page.png"), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["text"] == "\n".join(line["text"] for line in out["lines"]) and len(out["lines"]) == 2
    for line in out["lines"]:
        x0, y0, x1, y1 = line["box"]
        assert all(isinstance(v, int) for v in line["box"]) and 0 <= x0 < x1 <= img.shape[1] and 0 <= y0 < y1 <= img.shape[0]
    assert main(["ocr", "read", str(tmp_path / "page.png")]) == 0
    assert capsys.readouterr().out.strip() == out["text"]

    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    Image.new("1", (8000, 5001), 1).save(tmp_path / "huge.png")  # 40.008 megapixels, 1-bit so the file is small
    for name, says in [("notes.png", "not a readable image"), ("empty.png", "empty file"), ("blank.png", "empty image"),
                       ("huge.png", "megapixels"), ("missing.png", "no such file")]:
        assert main(["ocr", "read", str(tmp_path / name)]) == 2, name
        captured = capsys.readouterr()
        assert says in captured.err and len(captured.err.strip().splitlines()) == 1, (name, captured.err)
        assert captured.out == ""


# -- glyph data and the task (the engine itself is tested in test_engine.py) --------------------------------


def test_glyph_dataset_renders_in_ray_tasks_and_holds_the_family_out(ray_local, tmp_path):
    import pyarrow.parquet as pq

    from kexue_dist.data.cache import load_manifest
    from kexue_dist.ocr.dataset import SPLITS, OCRDataConfig, glyph_dataset

    cfg = OCRDataConfig(sizes=[20], copies=2, test_copies=1, families=["noto_sans"], max_classes=30, shard_rows=100)
    directory = glyph_dataset(cfg, root=tmp_path, progress=False)
    manifest = load_manifest(directory)  # verifies every shard's sha256
    assert manifest["rows"] == {"train": 30 * 2 * 2, "valid": 30, "test_seen": 30 * 2, "test_unseen": 30, "test_unseen_noise": 30}
    for split in SPLITS:
        table = pq.read_table(directory / split)
        faces = set(table.column("face").to_pylist())
        assert (faces == {f"{fonts.HELD_OUT}:0"}) == split.startswith("test_unseen"), (split, faces)
        assert set(table.column("label").to_pylist()) == set(range(30))
    train = pq.read_table(directory / "train").column("label").to_pylist()
    assert train != sorted(train)  # shuffled across classes before sharding
    assert glyph_dataset(cfg, root=tmp_path, progress=False) == directory  # built once


def test_ocr_task_step_eval_and_samples_on_real_glyphs():
    import torch

    from kexue_dist.engine.config import load_train_config
    from kexue_dist.ocr.glyphs import render_glyph
    from kexue_dist.ocr.task import OCRTask

    cfg = load_train_config("ocr_smoke", [])
    task = OCRTask(cfg, {})
    model = task.build_models()["recogniser"]
    chars = "的一是国，A"
    images = [render_glyph(c, fonts.faces("noto_sans")[0], 24, cfg.data.side).tobytes() for c in chars]
    batch = task.collate({"image": np.array(images, dtype=object), "label": np.array([char_index()[c] for c in chars])},
                         torch.device("cpu"))
    assert batch["x"].shape == (len(chars), 1, cfg.data.side, cfg.data.side) and 0 <= batch["x"].min() and batch["x"].max() <= 1
    out = task.loss({"recogniser": model}, batch, 0)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and out["loss"].item() > 0
    sums = task.eval_sums({"recogniser": model}, batch)
    metrics = task.eval_metrics({k: float(v) for k, v in sums.items()})
    assert sums["count"] == len(chars) and 0 <= metrics["accuracy"] <= metrics["top5"] <= 1
    samples = task.samples({"recogniser": model}, batch)
    assert samples["glyphs"]["image"].dtype == np.uint8 and samples["glyphs"]["image"].ndim == 2
    assert [row[0] for row in samples["predictions"]["rows"]] == list(chars)
