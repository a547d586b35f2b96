"""Metrics of restored pages: exact values on small cases and properties (hypothesis)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_dist.shred.metrics import adjusted_rand_index, relations, score, summarize

FAST = settings(max_examples=40, deadline=None)


def _grid(rows, cols, names=None):
    names = names or [f"{k:03d}" for k in range(rows * cols)]
    return [names[r * cols:(r + 1) * cols] for r in range(rows)]


def _two_sided(rows, cols, faces):
    """truth of a two-sided page: faces[k] is the face of piece k shown on the front."""
    grid = [[f"{r * cols + c:03d}{faces[r * cols + c]}" for c in range(cols)] for r in range(rows)]
    other = lambda x: x[:-1] + ("b" if x[-1] == "a" else "a")
    back = [[other(x) for x in reversed(row)] for row in grid]
    return {"layout": "two-sided", "grid": grid, "back": back}


@st.composite
def cases(draw, layouts=("strips", "grid", "two-sided")):
    layout = draw(st.sampled_from(layouts))
    rows = 1 if layout == "strips" else draw(st.integers(1, 5))
    cols = draw(st.integers(2, 6))
    if layout == "two-sided":
        faces = draw(st.lists(st.sampled_from("ab"), min_size=rows * cols, max_size=rows * cols))
        truth = _two_sided(rows, cols, faces)
    else:
        truth = {"layout": layout, "grid": _grid(rows, cols)}
    return truth


def _shuffle(truth, seed, nulls=0):
    """A random prediction: the truth's cells permuted, some set to null."""
    rng = np.random.default_rng(seed)
    cells = [x for row in truth["grid"] for x in row]
    perm = rng.permutation(len(cells))
    cells = [cells[i] for i in perm]
    for i in rng.choice(len(cells), size=min(nulls, len(cells)), replace=False):
        cells[i] = None
    cols = len(truth["grid"][0])
    return {"layout": truth["layout"], "grid": [cells[i:i + cols] for i in range(0, len(cells), cols)]}


def test_exact_values_small_grid():
    truth = {"layout": "grid", "grid": [["a", "b", "c"], ["d", "e", "f"]]}
    s = score(truth, truth)
    assert s["n_relations"] == 2 * 2 + 1 * 3 == 7
    assert s["direct"] == s["neighbour"] == 1 and s["perfect"]
    # rows swapped: no cell right, all right-relations kept, down-relations lost
    s = score({"layout": "grid", "grid": [["d", "e", "f"], ["a", "b", "c"]]}, truth)
    assert s["direct"] == 0 and s["neighbour"] == pytest.approx(4 / 7) and s["row_purity"] == 1
    assert s["row_ari"] == 1 and s["row_moves"] == 0 and s["order_breaks"] == 0
    # one swap inside a row
    s = score({"layout": "grid", "grid": [["b", "a", "c"], ["d", "e", "f"]]}, truth)
    assert s["direct"] == pytest.approx(4 / 6) and s["order_breaks"] == 2
    # pieces exchanged between rows
    s = score({"layout": "grid", "grid": [["a", "b", "f"], ["d", "e", "c"]]}, truth)
    assert s["row_moves"] == 2 and s["row_purity"] == pytest.approx(4 / 6)


def test_full_size_counts():
    t = {"layout": "grid", "grid": _grid(11, 19)}
    assert score(t, t)["n_relations"] == 388
    s = {"layout": "strips", "grid": _grid(1, 19)}
    r = score(s, s)
    assert r["n_relations"] == 18 and r["row_purity"] is None


def test_strips_reversed_and_rotated():
    t = {"layout": "strips", "grid": _grid(1, 5)}
    rev = {"layout": "strips", "grid": [list(reversed(t["grid"][0]))]}
    s = score(rev, t)
    assert s["neighbour"] == 0 and s["direct"] == pytest.approx(1 / 5)  # the middle stays
    rot = {"layout": "strips", "grid": [t["grid"][0][1:] + t["grid"][0][:1]]}
    s = score(rot, t)
    assert s["neighbour"] == pytest.approx(3 / 4) and s["direct"] == 0


def test_null_cells_and_unplaced():
    t = {"layout": "grid", "grid": _grid(2, 3)}
    p = {"layout": "grid", "grid": [["000", None, "002"], ["003", "004", None]], "unplaced": ["001", "005"]}
    s = score(p, t)
    assert s["direct"] == pytest.approx(4 / 6) and s["unplaced"] == 2 and s["n_placed"] == 4
    assert s["neighbour"] == pytest.approx(2 / 7)  # 003-004 and 000-003 survive
    assert score({"layout": "grid", "grid": []}, t)["direct"] == 0
    # smaller predicted grid is fine; extra cells are ignored
    s = score({"layout": "grid", "grid": [["000", "001", "002", None]]}, t)
    assert s["direct"] == pytest.approx(3 / 6)


def test_bad_input():
    t = {"layout": "grid", "grid": _grid(2, 3)}
    with pytest.raises(ValueError):
        score({"layout": "grid", "grid": [["000", "000", "002"]]}, t)
    with pytest.raises(ValueError):
        score({"layout": "grid", "grid": [["999"]]}, t)
    with pytest.raises(ValueError):
        score({"layout": "strips", "grid": [["000"]]}, t)


def test_ties_blank_pieces():
    blank = np.full((4, 3), 255, np.uint8)
    ink = lambda k: np.full((4, 3), k, np.uint8)
    t = {"layout": "strips", "grid": [["000", "001", "002", "003"]]}
    pieces = {"000": blank, "001": ink(1), "002": ink(2), "003": blank.copy()}
    p = {"layout": "strips", "grid": [["003", "001", "002", "000"]]}  # blanks exchanged
    s = score(p, t, pieces)
    assert s["direct"] == pytest.approx(0.5) and not s["perfect"]
    assert s["direct_tie"] == 1 and s["neighbour_tie"] == 1 and s["perfect_tie"]
    assert s["neighbour"] == pytest.approx(1 / 3)


def test_two_sided_flipped_is_correct():
    t = _two_sided(2, 3, "abbaab")
    # the solver shows the back page as its front: exactly truth["back"], and its back is truth's grid
    p = {"layout": "two-sided", "grid": t["back"], "back": t["grid"]}
    s = score(p, t)
    assert s["side"] == "flipped" and s["perfect"] and s["faces_correct"] == 1 and s["back_consistent"]
    s = score(t, t)
    assert s["side"] == "same" and s["perfect"] and s["back_consistent"]
    # front positions, every face turned: these are back-page faces, so the flipped reading wins
    # (only the middle column sits where the back page has it)
    wrong = [[x[:-1] + ("b" if x[-1] == "a" else "a") for x in row] for row in t["grid"]]
    s = score({"layout": "two-sided", "grid": wrong}, t)
    assert s["side"] == "flipped" and s["direct"] == pytest.approx(1 / 3) and s["faces_correct"] == 1
    assert s["back_consistent"] is None
    with pytest.raises(ValueError):  # both faces of one piece shown
        score({"layout": "two-sided", "grid": [["000a", "000b"]]}, t)


def test_ari_known_values():
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7]) == 1
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    assert relations([["a", "b"], ["c", None]]) == [("a", "b", "R"), ("a", "c", "D")]


def test_summarize():
    t = {"layout": "grid", "grid": _grid(2, 3)}
    m = summarize([score(t, t), score(_shuffle(t, 0), t)])
    assert m["pages"] == 2 and m["perfect"] in (0.5, 1.0) and 0 <= m["direct"] <= 1


# --------------------------------------------------------------------------------------- properties

@FAST
@given(cases())
def test_identity_scores_one(truth):
    s = score(copy.deepcopy(truth), truth)
    for k in ("direct", "neighbour", "direct_tie", "neighbour_tie"):
        assert s[k] == 1
    assert s["perfect"] and s["perfect_tie"] and s["order_breaks"] == 0 and s["unplaced"] == 0
    if truth["layout"] != "strips":
        assert s["row_purity"] == 1 and s["row_ari"] == 1 and s["row_moves"] == 0


@FAST
@given(cases(), st.integers(0, 2**32 - 1), st.integers(0, 3))
def test_perfect_iff_direct_one_and_bounds(truth, seed, nulls):
    p = _shuffle(truth, seed, nulls)
    s = score(p, truth)
    assert s["perfect"] == (s["direct"] == 1)
    for k in ("direct", "neighbour", "direct_tie", "neighbour_tie"):
        assert 0 <= s[k] <= 1
    if s["perfect"]:
        assert s["neighbour"] == 1
    if truth["layout"] != "strips":
        assert 0 <= s["row_purity"] <= 1 and -1 <= s["row_ari"] <= 1


@FAST
@given(cases(("strips", "grid")), st.integers(0, 2**32 - 1), st.integers(0, 2))
def test_invariant_under_renaming(truth, seed, nulls):
    p = _shuffle(truth, seed, nulls)
    names = [x for row in truth["grid"] for x in row]
    rng = np.random.default_rng(seed ^ 0xABC)
    new = dict(zip(names, [f"p{int(k)}" for k in rng.permutation(len(names))]))
    ren = lambda g: [[None if x is None else new[x] for x in row] for row in g]
    s1 = score(p, truth)
    s2 = score({"layout": p["layout"], "grid": ren(p["grid"])}, {"layout": truth["layout"], "grid": ren(truth["grid"])})
    assert s1 == s2


@FAST
@given(cases(), st.integers(0, 2**32 - 1), st.integers(0, 3))
def test_tie_aware_at_least_strict(truth, seed, n_blank):
    p = _shuffle(truth, seed)
    rng = np.random.default_rng(seed)
    faces = sorted({x for g in ("grid", "back") for row in truth.get(g, []) for x in row})
    pieces = {x: np.full((2, 2), int(rng.integers(0, 250)), np.uint8) for x in faces}
    for x in rng.choice(faces, size=min(n_blank * 2, len(faces)), replace=False):
        pieces[x] = np.full((2, 2), 255, np.uint8)  # blank: identical pixels
    s = score(p, truth, pieces)
    assert s["direct_tie"] >= s["direct"] and s["neighbour_tie"] >= s["neighbour"]
    assert s["perfect_tie"] >= s["perfect"]
    # with all pieces distinct the tie-aware metrics equal the strict ones
    distinct = {x: np.full((1, 1), k % 256, np.uint8) + np.zeros((1, 1 + k // 256), np.uint8)
                for k, x in enumerate(faces)}
    s = score(p, truth, distinct)
    assert s["direct_tie"] == s["direct"] and s["neighbour_tie"] == s["neighbour"]


@FAST
@given(st.integers(2, 6), st.integers(2, 6), st.integers(1, 5))
def test_rows_rotated_cyclically(rows, cols, k):
    k = k % rows or 1
    t = {"layout": "grid", "grid": _grid(rows, cols)}
    p = {"layout": "grid", "grid": t["grid"][k:] + t["grid"][:k]}
    s = score(p, t)
    # all right-relations survive; of the down-relations, only the one seam between row blocks breaks
    right, down = rows * (cols - 1), (rows - 1) * cols
    assert s["neighbour"] == pytest.approx((right + down - cols) / (right + down))
    assert s["direct"] == 0 and s["row_purity"] == 1 and s["row_ari"] == 1 and s["row_moves"] == 0
    assert s["neighbour_right"] == 1 and s["neighbour_down"] == pytest.approx((down - cols) / down)


@FAST
@given(st.integers(1, 5), st.integers(3, 7), st.integers(1, 6))
def test_columns_rotated_cyclically(rows, cols, k):
    k = k % cols or 1
    t = {"layout": "grid", "grid": _grid(rows, cols)}
    p = {"layout": "grid", "grid": [row[k:] + row[:k] for row in t["grid"]]}
    s = score(p, t)
    right, down = rows * (cols - 1), (rows - 1) * cols
    assert s["neighbour"] == pytest.approx((right - rows + down) / (right + down))
    assert s["order_breaks"] == rows and s["row_moves"] == 0


@FAST
@given(cases(("two-sided",)), st.integers(0, 2**32 - 1))
def test_two_sided_side_choice(truth, seed):
    p = _shuffle(truth, seed)
    s_same = score(p, truth)
    # the same arrangement, seen from the other side, scores the same with the side swapped
    other = lambda x: x[:-1] + ("b" if x[-1] == "a" else "a")
    turned = {"layout": "two-sided", "grid": [[other(x) for x in reversed(row)] for row in p["grid"]]}
    s_turn = score(turned, truth)
    for k in ("direct", "neighbour", "faces_correct", "row_purity", "row_moves"):
        assert s_turn[k] == pytest.approx(s_same[k])
    if s_same["side"] == "flipped":
        assert s_turn["side"] == "same"
