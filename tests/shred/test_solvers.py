import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_dist.shred import restore, solvers

from ._pages import cut, noise_page, text_page


def _brute(C, start):
    n = C.shape[0]
    best = None
    for perm in itertools.permutations([i for i in range(n) if i != start]):
        p = [start, *perm]
        c = solvers.path_cost(C, p)
        if best is None or c < best:
            best = c
    return best


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 7), st.integers(0, 10_000))
def test_held_karp_is_exact(n, seed):
    rng = np.random.default_rng(seed)
    C = rng.uniform(0, 10, (n, n))
    start = int(rng.integers(n))
    path, cost = solvers.held_karp(C, start)
    assert sorted(path) == list(range(n)) and path[0] == start
    assert np.isclose(cost, _brute(C, start))
    assert np.isclose(solvers.path_cost(C, path), cost)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.integers(4, 12), st.integers(0, 1000))
def test_strips_cut_shuffle_restore_identity(n, seed):
    page = text_page(width=24 * n, height=240, seed=seed)
    pieces, truth = cut(page, 1, n, seed=seed)
    res = restore.restore_pieces(pieces, "strips", use_ray=False, progress=False)
    got = ["".join(map(str, pieces[x].ravel()[:0])) or x for x in res["grid"][0]]
    # identical strips (blank) are interchangeable: compare the restored image
    want = np.concatenate([pieces[x] for x in truth[0]], axis=1)
    have = np.concatenate([pieces[x] for x in got], axis=1)
    assert np.array_equal(want, have)
    assert res["layout"] == "strips" and len(res["grid"]) == 1


@settings(max_examples=3, deadline=None)
@given(st.integers(0, 1000))
def test_grid_cut_shuffle_restore_identity(seed):
    page = noise_page(24 * 5, 60 * 3, seed=seed)
    pieces, truth = cut(page, 3, 5, seed=seed)
    res = restore.restore_pieces(pieces, "grid", rows=3, use_ray=False, progress=False)
    assert res["grid"] == truth


def test_baseline_solver_runs():
    page = text_page(width=24 * 8, height=240, seed=3)
    pieces, truth = cut(page, 1, 8, seed=3)
    res = restore.restore_pieces(pieces, "strips", solver="baseline", use_ray=False, progress=False)
    assert sorted(res["grid"][0]) == sorted(pieces)


def test_two_sided_small_noise():
    front = noise_page(24 * 4, 60 * 2, seed=1)
    back = noise_page(24 * 4, 60 * 2, seed=2)
    pf, truth = cut(front, 2, 4, seed=5)
    pieces = {}
    for r, row in enumerate(truth):
        for c, name in enumerate(row):
            pieces[name + "a"] = pf[name]
            # the back face seen directly: the page turned over about its vertical axis
            bw = back[:, ::-1]
            pieces[name + "b"] = np.ascontiguousarray(bw[r * 60:(r + 1) * 60, (3 - c) * 24:(4 - c) * 24][:, ::-1][:, ::-1])
    res = restore.restore_pieces(pieces, "two-sided", use_ray=False, progress=False)
    assert res["layout"] == "two-sided"
    assert len(res["grid"]) == 2 and len(res["back"]) == 2
    assert res["back"][0] == [n[:-1] + ("b" if n[-1] == "a" else "a") for n in res["grid"][0][::-1]]
    assert 0 <= res["seam_confidence"] <= 1


@pytest.mark.xfail(reason="known model error: on this small page the text runs to the right edge, so no "
                   "strip is preferred as the last one and moving two strips to the front is cheaper",
                   strict=False)
def test_strips_known_model_error_small_page():
    page = text_page(width=24 * 10, height=240, seed=1)
    pieces, truth = cut(page, 1, 10, seed=1)
    res = restore.restore_pieces(pieces, "strips", use_ray=False, progress=False)
    assert res["grid"] == truth
