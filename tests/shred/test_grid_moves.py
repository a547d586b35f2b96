"""Fast tests of the grid search parts on planted cost matrices (the truth costs 0, anything else more)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_dist.shred import costs, solvers


def planted(R, C, seed, O=1):
    """A Problem whose unique optimum is the grid arange(R*C) (one-sided) or its oriented version."""
    rng = np.random.default_rng(seed)
    n = R * C
    nO = n * O
    T = np.arange(n).reshape(R, C) * O
    H = 1.0 + rng.uniform(0, 1, (nO, nO))
    V = 1.0 + rng.uniform(0, 1, (nO, nO))
    np.fill_diagonal(H, np.inf)
    np.fill_diagonal(V, np.inf)
    H[T[:, :-1], T[:, 1:]] = 0.0
    V[T[:-1], T[1:]] = 0.0
    if O == 2:  # the page seen from the back: reversed rows, other faces
        B = T[:, ::-1] ^ 1
        H[B[:, :-1], B[:, 1:]] = 0.0
        V[B[:-1], B[1:]] = 0.0
    sp = np.ones(nO)
    ep = np.ones(nO)
    tp = np.ones(nO)
    bp = np.ones(nO)
    sp[T[:, 0]] = ep[T[:, -1]] = tp[T[0]] = bp[T[-1]] = 0.0
    if O == 2:
        sp[T[:, -1] ^ 1] = ep[T[:, 0] ^ 1] = tp[T[0] ^ 1] = bp[T[-1] ^ 1] = 0.0
    z = np.zeros(nO)
    pb = solvers.Problem(R, C, n, O, H, V, np.zeros((nO, 4)), z, z, z, z, sp, ep, tp, bp,
                         np.zeros((nO, 1, 4, 4), np.float16))
    return pb, T


def test_line_pitch_recovers_period():
    for pitch in (36.0, 47.5, 60.0, 88.0):
        y = np.arange(180)
        prof = np.stack([(np.cos(2 * np.pi * (y + ph) / pitch) > 0.3).astype(float) for ph in (0, 7, 19, 30)])
        assert abs(costs.line_pitch(prof) - pitch) < 1.5


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 4), st.integers(4, 9), st.integers(0, 10_000))
def test_path_cover_partitions_into_rows(R, C, seed):
    pb, T = planted(R, C, seed)
    rng = np.random.default_rng(seed)
    nodes = list(rng.permutation(R * C))
    rows = solvers.path_cover(pb, nodes, R, C)
    assert len(rows) == R and all(len(r) == C for r in rows)
    assert sorted(v for r in rows for v in r) == sorted(nodes)
    # planted rows have free seams and margin starts: the cover finds them exactly
    assert sorted(map(list, T)) == sorted(rows)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 4), st.integers(4, 8), st.integers(0, 10_000))
def test_exchange_rows_never_worse(R, C, seed):
    pb, T = planted(R, C, seed)
    rng = np.random.default_rng(seed)
    rows = [list(r) for r in rng.permutation(R * C).reshape(R, C)]
    before = sum(solvers.row_cost(pb, r) for r in rows)
    out = solvers.exchange_rows(pb, rows)
    assert sorted(v for r in out for v in r) == list(range(R * C))
    assert all(len(r) == C for r in out)
    assert sum(solvers.row_cost(pb, r) for r in out) <= before + 1e-9


@settings(max_examples=10, deadline=None)
@given(st.integers(3, 5), st.integers(5, 8), st.integers(0, 10_000))
def test_refine_blocks_fixes_swapped_segments(R, C, seed):
    pb, T = planted(R, C, seed)
    rng = np.random.default_rng(seed)
    G = T.copy()
    a, b = rng.choice(R, 2, replace=False)
    m = int(rng.integers(1, C))
    s, t = int(rng.integers(0, C - m + 1)), int(rng.integers(0, C - m + 1))
    G[a, s:s + m], G[b, t:t + m] = T[b, t:t + m], T[a, s:s + m]
    out = solvers.refine_blocks(pb, G)
    assert sorted(out.ravel()) == sorted(T.ravel())
    assert solvers.grid_cost(pb, out) <= solvers.grid_cost(pb, G) + 1e-9
    assert np.array_equal(out, T)


@settings(max_examples=8, deadline=None)
@given(st.integers(2, 4), st.integers(4, 7), st.integers(0, 10_000))
def test_flip_segments_turns_a_run_back(R, C, seed):
    pb, T = planted(R, C, seed, O=2)
    rng = np.random.default_rng(seed)
    G = T.copy()
    r = int(rng.integers(R))
    m = int(rng.integers(1, C))
    s = int(rng.integers(0, C - m + 1))
    G[r, s:s + m] = T[r, s:s + m][::-1] ^ 1
    out, c = solvers.flip_segments(pb, G)
    assert np.isclose(c, solvers.grid_cost(pb, out))
    assert np.array_equal(out, T)


@settings(max_examples=10, deadline=None)
@given(st.integers(3, 9), st.integers(0, 10_000))
def test_order_row_ctx_exact_is_a_permutation_and_finds_planted(L, seed):
    pb, T = planted(1, L, seed)
    rng = np.random.default_rng(seed)
    ids = list(rng.permutation(L))
    U = np.zeros((L, L))
    U[0] += pb.start_pen
    U[-1] += pb.end_pen
    out = solvers.order_row_ctx_exact(pb, ids, U)
    assert out == list(T[0])


def test_polish_rows_exact_never_worse():
    pb, T = planted(4, 7, 3)
    rng = np.random.default_rng(3)
    G = np.array([rng.permutation(r) for r in T])
    out = solvers.polish_rows_exact(pb, G)
    assert solvers.grid_cost(pb, out) <= solvers.grid_cost(pb, G) + 1e-9
    assert [sorted(r) for r in out] == [sorted(r) for r in G]


def test_orient_rows_makes_faces_agree():
    pb, T = planted(3, 8, 5, O=2)
    rows = [list(r) for r in T]
    rows[1][2] ^= 1
    rows[1][5] ^= 1
    out = solvers.orient_rows(pb, rows)
    assert [sorted(r) for r in out] == [sorted(r) for r in T.tolist()]


def test_front_page_margins_splits_two_pages():
    rows = 4
    left = np.zeros(40, int)
    left[[0, 2, 4, 6]] = 18  # page X row starts (wide margin)
    left[[9, 11, 13, 15]] = 12  # page Y row starts
    sp = np.zeros(40)
    ep = np.zeros(40)
    sp2, ep2 = solvers._front_page_margins(left, rows, sp, ep, 1.0)
    assert (sp2[[9, 11, 13, 15]] == 1.0).all() and (sp2[[0, 2, 4, 6]] == 0).all()
    assert (ep2[[1, 3, 5, 7]] == 1.0).all() and (ep2[[8, 10, 12, 14]] == 0).all()
    # one page margin only: nothing changes
    left2 = np.zeros(40, int)
    left2[:8] = 15
    sp3, _ = solvers._front_page_margins(left2, rows, sp, ep, 1.0)
    assert (sp3 == 0).all()


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10_000))
def test_order_row_ctx_singles_matches_brute_force(L, seed):
    import itertools

    rng = np.random.default_rng(seed)
    Hc = rng.uniform(0, 5, (L + 3, L + 3))
    ids = list(rng.choice(L + 3, L, replace=False))
    U = rng.uniform(0, 5, (L, L + 3))

    def cost(seq):
        return sum(Hc[a, b] for a, b in zip(seq[:-1], seq[1:])) + sum(U[q, v] for q, v in enumerate(seq))
    best = min(cost(p) for p in itertools.permutations(ids))
    got = solvers._order_row_ctx_singles(Hc, ids, U)
    assert sorted(got) == sorted(ids)
    assert np.isclose(cost(got), best, rtol=1e-5, atol=1e-4)


def test_final_polish_never_worse_and_fixes_row_order():
    pb, T = planted(4, 7, 11)
    G = T.copy()
    G[2] = T[2][[0, 4, 5, 1, 2, 3, 6]]
    out = solvers.final_polish(pb, G)
    assert solvers.grid_cost(pb, out) <= solvers.grid_cost(pb, G) + 1e-9
    assert np.array_equal(out, T)
