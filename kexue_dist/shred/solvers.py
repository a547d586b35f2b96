"""Path solvers (exact Held-Karp, greedy baseline, local search) and the grid pipeline.

The grid pipeline works on *oriented pieces*: one-sided pieces have one orientation, two-sided pieces
two (index 2p: face a in front, 2p+1: face b in front). Every cost is a matrix over oriented pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from kexue_dist.shred import costs as K

HK_MAX = 19  # exact Held-Karp up to this many free nodes (2^19 x 19 states)
EXACT_RATIO = 2.0  # exact row re-ordering contracts only seams whose rival costs this much more
TB_WEIGHT = 0.15  # page top/bottom margin evidence per piece, relative to a seam: text may run to the edge

_LAYERS: dict[int, list[np.ndarray]] = {}


def _layers(m: int) -> list[np.ndarray]:
    if m not in _LAYERS:
        idx = np.arange(1 << m, dtype=np.int64)
        pc = np.zeros(1 << m, np.int64)
        for b in range(m):
            pc += (idx >> b) & 1
        order = np.argsort(pc, kind="stable")
        counts = np.bincount(pc, minlength=m + 1)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        _LAYERS[m] = [order[bounds[k]:bounds[k + 1]] for k in range(m + 1)]
    return _LAYERS[m]


_STEPS: dict[int, list] = {}


def _hk_steps(m: int):
    if m not in _STEPS:
        steps = []
        layers = _layers(m)
        for size in range(2, m + 1):
            L = layers[size]
            for j in range(m):
                sel = L[((L >> j) & 1) == 1]
                steps.append((sel, sel ^ (1 << j), j, np.arange(len(sel))))
        _STEPS[m] = steps
    return _STEPS[m]


def held_karp(C: np.ndarray, start: int, end_cost: np.ndarray | None = None) -> tuple[list[int], float]:
    """Exact cheapest path from ``start`` through every node (C[i, j] = cost of j after i).

    Dynamic programming over subsets, layer by layer: each layer is a min-plus product with the
    cost matrix, scattered to the supersets (no parent table: the path is read back from dp).
    """
    n = C.shape[0]
    others = np.array([i for i in range(n) if i != start], dtype=np.int64)
    m = len(others)
    end = np.zeros(n) if end_cost is None else np.asarray(end_cost, float)
    if m == 0:
        return [start], float(end[start])
    if m > HK_MAX:
        return local_search_path(C, start, end)
    Cd = np.asarray(C, np.float64)
    c = Cd[np.ix_(others, others)].copy()
    np.fill_diagonal(c, np.inf)
    c0 = Cd[start, others]
    N = 1 << m
    dp = np.full((N, m), np.inf, np.float64 if m <= 12 else np.float32)
    c = c.astype(dp.dtype)
    for j in range(m):
        dp[1 << j, j] = c0[j]
    layers = _layers(m)
    bits = [1 << j for j in range(m)]
    for k in range(1, m):
        S = layers[k]
        D = dp[S]
        M = D[:, 0:1] + c[0][None, :]
        for i in range(1, m):
            np.minimum(M, D[:, i:i + 1] + c[i][None, :], out=M)
        for j in range(m):
            free = (S & bits[j]) == 0
            dp[S[free] | bits[j], j] = M[free, j]
    full = N - 1
    final = dp[full] + end[others].astype(dp.dtype)
    j = int(np.argmin(final))
    best = float(final[j])
    rev = [j]
    S = full
    while True:
        prev = S ^ bits[j]
        if prev == 0:
            break
        i = int(np.argmin(dp[prev] + c[:, j]))
        rev.append(i)
        S, j = prev, i
    path = [start] + [int(others[p]) for p in rev[::-1]]
    return path, path_cost(Cd, path, end)


def path_cost(C, path, end_cost=None) -> float:
    s = float(sum(C[a, b] for a, b in zip(path[:-1], path[1:])))
    if end_cost is not None:
        s += float(end_cost[path[-1]])
    return s


def greedy_path(C: np.ndarray, start: int) -> list[int]:
    n = C.shape[0]
    used = np.zeros(n, bool)
    used[start] = True
    path = [start]
    while len(path) < n:
        row = np.where(used, np.inf, C[path[-1]])
        j = int(np.argmin(row))
        path.append(j)
        used[j] = True
    return path


def local_search_path(C, start, end_cost=None, path=None):
    """Greedy start + or-opt (move a segment of 1-3 elsewhere) until no move helps."""
    end = np.zeros(C.shape[0]) if end_cost is None else end_cost
    path = list(path) if path is not None else greedy_path(C, start)
    best = path_cost(C, path, end)
    improved = True
    while improved:
        improved = False
        for seg in (1, 2, 3):
            for i in range(1, len(path) - seg + 1):
                segm = path[i:i + seg]
                rest = path[:i] + path[i + seg:]
                for k in range(1, len(rest) + 1):
                    if k == i:
                        continue
                    cand = rest[:k] + segm + rest[k:]
                    c = path_cost(C, cand, end)
                    if c < best - 1e-9:
                        path, best, improved = cand, c, True
                        break
                if improved:
                    break
            if improved:
                break
    return path, best


def group_path(C: np.ndarray, groups: np.ndarray, start_cost: np.ndarray, end_cost: np.ndarray):
    """Cheapest path taking exactly one node from each group (free start, start/end costs).

    Used to stack rows, where a two-sided row may be used in either orientation.
    """
    G = int(groups.max()) + 1
    n = C.shape[0]
    gm = (1 << groups).astype(np.int64)
    N = 1 << G
    dp = np.full((N, n), np.inf)
    par = np.full((N, n), -1, np.int64)
    for v in range(n):
        dp[gm[v], v] = start_cost[v]
    for S in range(1, N):
        row = dp[S]
        live = np.isfinite(row)
        if not live.any():
            continue
        for v in np.nonzero(live)[0]:
            ok = (S & gm) == 0
            if not ok.any():
                continue
            tot = row[v] + C[v]
            T = S | gm
            for u in np.nonzero(ok)[0]:
                if tot[u] < dp[T[u], u]:
                    dp[T[u], u] = tot[u]
                    par[T[u], u] = v
    final = dp[N - 1] + end_cost
    v = int(np.argmin(final))
    best = float(final[v])
    path = []
    S = N - 1
    while v >= 0:
        path.append(v)
        pv = int(par[S, v])
        S ^= int(gm[v])
        v = pv
    return path[::-1], best


# ------------------------------------------------------------------ grid problem

@dataclass
class Problem:
    """Everything a solver needs, in oriented-piece space (small numpy arrays; ships to Ray once)."""

    rows: int
    cols: int
    n: int  # physical pieces
    O: int  # orientations per piece (1 or 2)
    H: np.ndarray  # (nO, nO) cost j right of i (normalised + text evidence)
    V: np.ndarray  # (nO, nO) cost j below i
    P: np.ndarray  # (nO, L) line profiles
    left: np.ndarray
    right: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    start_pen: np.ndarray
    end_pen: np.ndarray
    top_pen: np.ndarray
    bottom_pen: np.ndarray
    ink: np.ndarray  # (nO, K, h, w) float16
    kind: str = "mix"
    F: np.ndarray | None = None  # (nO, L) unit line features
    conf: np.ndarray | None = None  # (nO,) line evidence per piece


def _margin_pen(width: np.ndarray, k: int, scale: float) -> np.ndarray:
    """Penalty for a piece at a page edge: 0 if its blank margin is as wide as the k-th widest."""
    if k <= 0:
        return np.zeros(len(width))
    srt = np.sort(width)[::-1]
    M = max(float(srt[min(k, len(srt)) - 1]), 1.0)
    return scale * np.clip(M - width, 0, None) / M


def build_problem(oriented_ink: np.ndarray, rows: int, cols: int, O: int, kind: str = "mix",
                  normalise: bool = True, text_weight: float = 1.0) -> Problem:
    nO = oriented_ink.shape[0]
    n = nO // O
    Hraw = K.horizontal_costs(oriented_ink, kind)
    Vraw = K.vertical_costs(oriented_ink, kind)
    if O == 2:
        for p in range(n):
            Hraw[2 * p:2 * p + 2, 2 * p:2 * p + 2] = np.inf
            Vraw[2 * p:2 * p + 2, 2 * p:2 * p + 2] = np.inf
    H = K.normalise(Hraw) if normalise else Hraw.copy()
    V = K.normalise(Vraw) if normalise else Vraw.copy()
    P = K.line_profiles(oriented_ink)
    F, conf = K.line_features(oriented_ink)
    # text evidence only where the pieces look like print (mostly white paper): neighbours in a row
    # share their line positions, so a pair whose lines disagree pays (weight relative to a seam)
    texty = float(np.mean(oriented_ink < 0.25)) > 0.6
    if not texty or rows == 1:
        F = conf = None  # no printed lines to group rows by: the seam-only pipeline is used
    if text_weight and rows > 1 and texty:
        fin = np.where(np.isfinite(H), H, np.nan)
        med = float(np.nanmedian(np.sort(np.nan_to_num(fin, nan=np.inf), axis=1)[:, 1]))
        H = H + text_weight * 0.5 * med * K.line_pair_cost(F, conf)
    left, right, top, bottom = K.margins(oriented_ink)
    seam_scale = float(np.median(np.sort(H, axis=1)[:, 1])) if normalise else 1.0
    seam_scale = max(seam_scale, 1e-3) * 3.0
    # each row has one left and one right piece; each column one top and one bottom piece
    nedge_r = rows * O
    nedge_c = cols * O
    spen, epen = _margin_pen(left, nedge_r, seam_scale), _margin_pen(right, nedge_r, seam_scale)
    if O == 2 and rows > 1:
        spen, epen = _front_page_margins(left, rows, spen, epen, seam_scale)
    return Problem(rows, cols, n, O, H.astype(np.float64), V.astype(np.float64), P, left, right, top, bottom,
                   spen, epen,
                   _margin_pen(top, nedge_c, TB_WEIGHT * seam_scale), _margin_pen(bottom, nedge_c, TB_WEIGHT * seam_scale),
                   oriented_ink.astype(np.float16), kind, F, conf)


def _front_page_margins(left, rows, spen, epen, scale, min_gap: float = 3.0):
    """Two-sided: the two printed pages usually have different left margins. The 2*rows oriented
    pieces with the widest blank left edge are the row starts of both pages; if their widths fall
    in two groups (gap >= min_gap px), the page with the wider margin is put in front: the other group may not start a front row, and only the other faces of that group
    (the same sheet edge seen from the front) may end one. This keeps whole rows from being
    stacked with the wrong page in front when the cut between rows runs through blank paper."""
    order = np.argsort(-left, kind="stable")[:2 * rows]
    w = np.sort(left[order].astype(float))
    gaps = np.diff(w)
    k = int(np.argmax(gaps))
    if len(gaps) == 0 or gaps[k] < min_gap or not (rows // 2 <= k + 1 <= 2 * rows - rows // 2):
        return spen, epen
    cut = 0.5 * (w[k] + w[k + 1])
    wide = [int(v) for v in order if left[v] > cut]
    narrow = [int(v) for v in order if left[v] <= cut]
    front, back = (wide, narrow)
    spen = spen.copy()
    epen = epen.copy()
    spen[back] += scale
    epen[[v ^ 1 for v in front]] += scale  # their far edge ends a back-page row, not a front one
    return spen, epen


def flip_id(v: int, O: int) -> int:
    return v ^ 1 if O == 2 else v


# -------------------------------------------------------------- row grouping

def _orient_cost(pb: Problem, T: np.ndarray):
    """cost (n, R) of piece p joining row r at its best orientation, and that orientation."""
    C = K.profile_cost(pb.P, T)  # nO, R
    C = C.reshape(pb.n, pb.O, -1)
    o = C.argmin(1)
    return C.min(1), o


def balanced_rows(pb: Problem, T0: np.ndarray, iters: int = 12):
    """Balanced k-means on line profiles: each row gets exactly `cols` pieces."""
    T = T0.astype(np.float32)
    R, C = pb.rows, pb.cols
    assign = None
    for _ in range(iters):
        cost, orient = _orient_cost(pb, T)
        big = np.repeat(cost, C, axis=1)  # n x (R*C)
        ri, ci = linear_sum_assignment(big)
        new = np.empty(pb.n, int)
        new[ri] = ci // C
        ori = orient[np.arange(pb.n), new]
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        ids = np.arange(pb.n) * pb.O + (ori if pb.O == 2 else 0)
        T = np.stack([(pb.P[ids[assign == r]].mean(0) * 0.9 + 0.05) for r in range(R)])
    ids = np.arange(pb.n) * pb.O + (ori if pb.O == 2 else 0)
    return [list(ids[assign == r]) for r in range(R)]


def init_seeds(pb: Problem) -> np.ndarray:
    """Row templates from the pieces with the widest blank left margin (one per physical row)."""
    order = np.argsort(-pb.left, kind="stable")
    chosen: list[int] = []
    used = set()
    Pd = K.profile_pair_cost(pb.P)
    thr = np.median(Pd[order[: 2 * pb.rows * pb.O]][:, order[: 2 * pb.rows * pb.O]]) * 0.5
    for v in order:
        p = v // pb.O
        if p in used:
            continue
        if pb.O == 2 and chosen:
            # the same physical row seen from the other side has swapped profiles
            L = pb.P.shape[1] // 2
            sw = np.concatenate([pb.P[v, L:], pb.P[v, :L]])
            d = np.abs(pb.P[chosen] - sw).mean(1)
            if d.min() < thr:
                continue
        chosen.append(int(v))
        used.add(p)
        if len(chosen) == pb.rows:
            break
    while len(chosen) < pb.rows:
        chosen.append(int(order[len(chosen)]))
    return pb.P[chosen] * 0.9 + 0.05


def init_farthest(pb: Problem, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink_amount = pb.P.sum(1)
    cand = np.nonzero(ink_amount > np.percentile(ink_amount, 20))[0]
    if len(cand) < pb.rows:
        cand = np.arange(len(ink_amount))
    Pd = K.profile_pair_cost(pb.P)
    first = int(rng.choice(cand))
    chosen = [first]
    dmin = Pd[first, cand].copy()
    if pb.O == 2:
        dmin = np.minimum(dmin, Pd[first ^ 1, cand])
    while len(chosen) < pb.rows:
        nxt = int(cand[np.argmax(dmin + rng.uniform(0, 1e-3, len(cand)))])
        chosen.append(nxt)
        dmin = np.minimum(dmin, Pd[nxt, cand])
        if pb.O == 2:
            dmin = np.minimum(dmin, Pd[nxt ^ 1, cand])
    return pb.P[chosen] * 0.9 + 0.05


# -------------------------------------------------------------- ordering, stacking, refinement

def order_row(pb: Problem, ids: list[int], nstarts: int = 2) -> tuple[list[int], float]:
    ids = list(ids)
    sub = pb.H[np.ix_(ids, ids)]
    sp = pb.start_pen[ids]
    ep = pb.end_pen[ids]
    starts = np.argsort(sp + 1e-6 * np.arange(len(ids)))[:nstarts]
    best = None
    for s in starts:
        if best is not None and sp[s] > 0.5 * np.median(pb.H[ids].min(1)) + sp[starts[0]]:
            continue
        path, c = held_karp(sub, int(s), ep)
        c += sp[s]
        if best is None or c < best[1]:
            best = (path, c)
    return [ids[i] for i in best[0]], best[1]


def row_strip(pb: Problem, ids: list[int]) -> np.ndarray:
    return np.concatenate([pb.ink[i].astype(np.float32) for i in ids], axis=-1)  # K, h, W


def stack_rows(pb: Problem, rows: list[list[int]], kind: str) -> list[list[int]]:
    """Order rows top to bottom (and, two-sided, pick each row's orientation) on whole-row seams."""
    variants = []
    groups = []
    for r, ids in enumerate(rows):
        variants.append(ids)
        groups.append(r)
        if pb.O == 2:
            variants.append([flip_id(v, 2) for v in ids[::-1]])
            groups.append(r)
    strips = np.stack([row_strip(pb, v) for v in variants])
    Vr = K.normalise(K.strip_vertical_cost(strips, kind))
    g = np.array(groups)
    for a in range(len(g)):
        Vr[a, g == g[a]] = np.inf
    m = K.ink_mask(strips).any(axis=(1, 3))  # rows with ink: (m, h)
    hh = m.shape[1]
    topw = np.where(m.any(1), np.argmax(m, 1), hh)
    botw = np.where(m.any(1), np.argmax(m[:, ::-1], 1), hh)
    # the top row also has a blank top margin in the other orientation: compare within groups
    scale = 3.0 * float(np.median(np.sort(np.where(np.isfinite(Vr), Vr, np.inf), 1)[:, 0]) + 1e-3)
    tp = _margin_pen(topw, pb.O, scale)
    bp = _margin_pen(botw, pb.O, scale)
    if pb.O == 2:
        # front/back orientation of a row: its pieces' front faces should agree with its neighbours'
        pass
    path, _ = group_path(Vr, g, tp, bp)
    return [variants[v] for v in path]


def grid_cost(pb: Problem, g: np.ndarray) -> float:
    R, C = g.shape
    s = pb.H[g[:, :-1], g[:, 1:]].sum() + pb.V[g[:-1, :], g[1:, :]].sum()
    s += pb.start_pen[g[:, 0]].sum() + pb.end_pen[g[:, -1]].sum()
    s += pb.top_pen[g[0, :]].sum() + pb.bottom_pen[g[-1, :]].sum()
    return float(s)


def refine(pb: Problem, g: np.ndarray, max_moves: int = 400) -> np.ndarray:
    """Global refinement on the full 2-D cost: best-improvement swaps of any two cells."""
    g = g.copy()
    R, C = g.shape
    nc = R * C
    H, V = pb.H, pb.V
    BIG = 0.0
    cur = grid_cost(pb, g)
    tabu = set()
    for _ in range(max_moves):
        flat = g.ravel()
        # local cost of putting piece x (any in grid, same orientation) at each cell, given neighbours
        Lc = np.zeros((nc, nc))
        rr, cc = np.divmod(np.arange(nc), C)
        has_l = cc > 0
        has_r = cc < C - 1
        has_u = rr > 0
        has_d = rr < R - 1
        xs = flat
        left_nb = np.where(has_l, flat[np.maximum(np.arange(nc) - 1, 0)], 0)
        right_nb = np.where(has_r, flat[np.minimum(np.arange(nc) + 1, nc - 1)], 0)
        up_nb = np.where(has_u, flat[np.maximum(np.arange(nc) - C, 0)], 0)
        dn_nb = np.where(has_d, flat[np.minimum(np.arange(nc) + C, nc - 1)], 0)
        Lc += np.where(has_l[:, None], H[left_nb][:, xs], pb.start_pen[xs][None, :])
        Lc += np.where(has_r[:, None], H[xs][:, right_nb].T, pb.end_pen[xs][None, :])
        Lc += np.where(has_u[:, None], V[up_nb][:, xs], pb.top_pen[xs][None, :])
        Lc += np.where(has_d[:, None], V[xs][:, dn_nb].T, pb.bottom_pen[xs][None, :])
        Lc = np.where(np.isfinite(Lc), Lc, 1e9)
        diag = np.diag(Lc)
        delta = Lc + Lc.T - diag[:, None] - diag[None, :]
        np.fill_diagonal(delta, BIG)
        for (a, b) in tabu:
            delta[a, b] = delta[b, a] = BIG
        k = int(np.argmin(delta))
        a, b = divmod(k, nc)
        if delta[a, b] >= -1e-9:
            break
        g2 = g.copy().ravel()
        g2[a], g2[b] = g2[b], g2[a]
        g2 = g2.reshape(R, C)
        c2 = grid_cost(pb, g2)
        if c2 < cur - 1e-9:
            g, cur = g2, c2
            tabu.clear()
        else:
            tabu.add((a, b))
    return g


def solve_partition(pb: Problem, rows: list[list[int]], do_refine: bool = True, nstarts: int = 2):
    ordered = [order_row(pb, ids, nstarts)[0] for ids in rows]
    stacked = stack_rows(pb, ordered, pb.kind)
    g = np.array(stacked)
    if do_refine and pb.rows > 1:
        before = [set(r) for r in g]
        g = refine(pb, g)
        # re-order exactly the rows whose pieces changed, then re-stack
        new = [list(r) if set(r) == b else order_row(pb, list(r), nstarts)[0] for r, b in zip(g, before)]
        g = np.array(stack_rows(pb, new, pb.kind))
        g = refine(pb, g)
        # the same 2-D block refinement as the text pipeline
        g = refine_blocks(pb, g)
        g = polish_rows_exact(pb, g)
        g = refine_blocks(pb, g)
    return g, grid_cost(pb, g)


def solve_candidate(pb: Problem, cand: dict):
    """One alternative of the parallel search: a row-partition initialisation, solved fully."""
    if pb.rows == 1:
        ids = list(range(pb.n * pb.O)) if pb.O == 1 else None
        if pb.O == 2:
            T = init_farthest(pb, cand.get("seed", 0))
            rows = balanced_rows(pb, T)
        else:
            rows = [ids]
        order, c = order_row(pb, rows[0], nstarts=cand.get("nstarts", 3))
        g = np.array(stack_rows(pb, [order], pb.kind))
        return g, grid_cost(pb, g)
    if pb.F is not None and cand.get("init") in ("margin", "farthest"):
        return solve_lines(pb, cand)
    if cand["init"] == "chains":
        return solve_partition(pb, chain_rows(pb), do_refine=cand.get("refine", True))
    if cand["init"] == "seeds":
        T = init_seeds(pb)
    else:
        T = init_farthest(pb, cand["seed"])
    rows = balanced_rows(pb, T)
    return solve_partition(pb, rows, do_refine=cand.get("refine", True))


# -------------------------------------------------------------- contest-classic baseline

def baseline(pb_l1: Problem) -> np.ndarray:
    """L1 seam cost + greedy chaining from the blank-margin pieces, rows stacked by exact path.

    For strips: greedy from the widest-left-margin strip. For grids: the `rows` widest-left-margin
    pieces seed rows that grow greedily (best remaining right neighbour, round-robin); rows are then
    stacked on their L1 top/bottom seams. One orientation only (two-sided: faces as named 'a').
    """
    pb = pb_l1
    O = pb.O
    idx = np.arange(pb.n) * O  # orientation 0 only
    H = pb.H[np.ix_(idx, idx)]
    left = pb.left[idx]
    if pb.rows == 1:
        s = int(np.argmax(left))
        path = greedy_path(H, s)
        return np.array([[int(idx[i]) for i in path]])
    seeds = list(np.argsort(-left, kind="stable")[: pb.rows])
    used = np.zeros(pb.n, bool)
    used[seeds] = True
    rows = [[int(s)] for s in seeds]
    for _ in range(pb.cols - 1):
        for r in rows:
            cand = np.where(used, np.inf, H[r[-1]])
            j = int(np.argmin(cand))
            r.append(j)
            used[j] = True
    rows = [[int(idx[i]) for i in r] for r in rows]
    strips = np.stack([row_strip(pb, r) for r in rows])
    Vr = K.strip_vertical_cost(strips, "l1")
    m = K.ink_mask(strips).any(axis=(1, 3))
    topw = np.where(m.any(1), np.argmax(m, 1), m.shape[1])
    s = int(np.argmax(topw))
    order = held_karp(Vr, s)[0]
    return np.array([rows[i] for i in order])


def chain_rows(pb: Problem) -> list[list[int]]:
    """Seam-driven row partition (no text evidence): greedy edge matching on the horizontal cost,
    chains capped at one row's length, leftover chains packed into rows by their joining cost."""
    R, C = pb.rows, pb.cols
    n = pb.n * pb.O
    H = pb.H.copy()
    if pb.O == 2:
        for v in range(n):
            H[v, v ^ 1] = np.inf
    nxt = -np.ones(n, int)
    prv = -np.ones(n, int)
    comp = np.arange(n)
    size = np.ones(n, int)
    used_piece = np.zeros(pb.n, int) - 1  # chosen orientation per physical piece
    order = np.argsort(H, axis=None, kind="stable")
    for k in order:
        i, j = divmod(int(k), n)
        if not np.isfinite(H[i, j]):
            break
        if nxt[i] >= 0 or prv[j] >= 0 or comp[i] == comp[j]:
            continue
        if size[comp[i]] + size[comp[j]] > C:
            continue
        if pb.O == 2:
            oi, oj = used_piece[i // 2], used_piece[j // 2]
            if (oi >= 0 and oi != i % 2) or (oj >= 0 and oj != j % 2):
                continue
        nxt[i], prv[j] = j, i
        ci, cj = comp[i], comp[j]
        comp[comp == cj] = ci
        size[ci] += size[cj]
        if pb.O == 2:
            used_piece[i // 2], used_piece[j // 2] = i % 2, j % 2
    chains = []
    seen = set()
    for v in range(n):
        if pb.O == 2 and used_piece[v // 2] >= 0 and used_piece[v // 2] != v % 2:
            continue
        if pb.O == 2 and used_piece[v // 2] < 0 and v % 2 == 1:
            continue
        if prv[v] < 0 and v not in seen:
            ch = [v]
            while nxt[ch[-1]] >= 0:
                ch.append(int(nxt[ch[-1]]))
            seen.update(ch)
            chains.append(ch)
    full = [c for c in chains if len(c) == C]
    rest = sorted([c for c in chains if len(c) < C], key=lambda c: (pb.start_pen[c[0]], -len(c)))
    rows = full[:R]
    extra = [v for c in full[R:] for v in c]
    while len(rows) < R and rest:
        row = rest.pop(0)
        while len(row) < C and rest:
            fits = [k for k, c in enumerate(rest) if len(row) + len(c) <= C]
            if not fits:
                break
            k = min(fits, key=lambda k: H[row[-1], rest[k][0]])
            row = row + rest.pop(k)
        rows.append(row)
    leftovers = extra + [v for c in rest for v in c]
    for row in rows:
        while len(row) < C and leftovers:
            row.append(leftovers.pop())
    while len(rows) < R:
        rows.append([leftovers.pop() for _ in range(C)])
    # overfull rows cannot happen (chains are capped); rows may still be short if counts mismatch
    return rows


# ================================================================ v2 grid pipeline
# Rows are grouped by where their text lines sit (line_features), then re-partitioned by seams with
# a k-path cover (LAP successor assignment + patching) and improved by block moves between rows.

def _aug(C: np.ndarray, start_pen: np.ndarray, end_pen: np.ndarray) -> np.ndarray:
    """(n+2, n+2) cost with a virtual START (index n) and END (index n+1)."""
    n = C.shape[0]
    A = np.full((n + 2, n + 2), 1e9)
    A[:n, :n] = np.where(np.isfinite(C), C, 1e9)
    A[n, :n] = start_pen
    A[:n, n + 1] = end_pen
    A[n, n + 1] = 1e9
    return A


def improve_path(A: np.ndarray, path: list[int], max_seg: int = 18) -> list[int]:
    """Or-opt on a path whose first and last nodes are fixed (virtual START/END): move segments of
    1..max_seg nodes to the best other place until no move helps."""
    p = np.array(path)
    L = len(p)
    for _ in range(200):
        best_d, best = -1e-9, None
        for m in range(1, min(max_seg, L - 2) + 1):
            for i in range(1, L - m):
                seg0, seg1 = p[i], p[i + m - 1]
                a, b = p[i - 1], p[i + m]
                rem = A[a, seg0] + A[seg1, b] - A[a, b]
                rest = np.concatenate([p[:i], p[i + m:]])
                x, y = rest[:-1], rest[1:]
                ins = A[x, seg0] + A[seg1, y] - A[x, y]
                ins[i - 1] = np.inf
                k = int(np.argmin(ins))
                d = ins[k] - rem
                if d < best_d:
                    best_d, best = d, (i, m, k)
        if best is None:
            break
        i, m, k = best
        seg = p[i:i + m]
        rest = np.concatenate([p[:i], p[i + m:]])
        p = np.concatenate([rest[:k + 1], seg, rest[k + 1:]])
    return [int(v) for v in p]


def order_row_fast(pb: "Problem", ids: list[int], init: list[int] | None = None,
                   max_frags: int = 14) -> list[int]:
    """Order one row: mutual-best seams are contracted into fragments, the fragments are ordered
    exactly (Held-Karp from a virtual START, end penalty at the end), then or-opt polishes."""
    ids = list(ids)
    n = len(ids)
    sub = pb.H[np.ix_(ids, ids)]
    sub = np.where(np.isfinite(sub), sub, 1e9)
    np.fill_diagonal(sub, 1e9)
    sp, ep = pb.start_pen[ids], pb.end_pen[ids]
    A = _aug(sub, sp, ep)
    frags = _row_fragments(pb, ids)
    if len(frags) <= max_frags:
        m = len(frags)
        Fc = np.full((m + 1, m + 1), 1e9)
        firsts = np.array([f[0] for f in frags])
        lasts = np.array([f[-1] for f in frags])
        Fc[:m, :m] = sub[np.ix_(lasts, firsts)]
        np.fill_diagonal(Fc, 1e9)
        Fc[m, :m] = sp[firsts]
        fend = np.append(ep[lasts], 1e9)
        path, _ = held_karp(Fc, m, fend)
        order = [v for k in path[1:] for v in frags[k]]
    elif init is not None:
        pos = {v: k for k, v in enumerate(ids)}
        order = [pos[v] for v in init]
    else:
        order = greedy_path(sub, int(np.argmin(sp)))
    path = improve_path(A, [n] + order + [n + 1])
    return [ids[k] for k in path[1:-1]]


def row_cost(pb: "Problem", row) -> float:
    row = list(row)
    return float(pb.start_pen[row[0]] + pb.end_pen[row[-1]] + sum(pb.H[a, b] for a, b in zip(row[:-1], row[1:])))


def balanced_rows_lines(pb: "Problem", T0: np.ndarray, iters: int = 15):
    """Balanced k-means on line features: each row gets exactly `cols` pieces (LSA with each row
    replicated `cols` times); two-sided pieces join in their better orientation."""
    R, Cc = pb.rows, pb.cols
    T = T0 / (np.linalg.norm(T0, axis=1, keepdims=True) + 1e-9)
    assign = None
    for _ in range(iters):
        cost = pb.conf[:, None] * (1.0 - pb.F @ T.T)  # nO, R
        cost = cost.reshape(pb.n, pb.O, R)
        orient = cost.argmin(1)
        cmin = cost.min(1)
        ri, ci = linear_sum_assignment(np.repeat(cmin, Cc, axis=1))
        new = np.empty(pb.n, int)
        new[ri] = ci // Cc
        ori = orient[np.arange(pb.n), new]
        ids = np.arange(pb.n) * pb.O + ori
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        T = np.stack([(pb.F[ids[assign == r]] * pb.conf[ids[assign == r], None]).sum(0) for r in range(R)])
        T = T / (np.linalg.norm(T, axis=1, keepdims=True) + 1e-9)
    return [list(ids[assign == r]) for r in range(R)], T


def line_init(pb: "Problem", how: str, seed: int = 0) -> np.ndarray:
    """Initial row templates: 'margin' = the pieces with the widest blank left margin,
    'farthest' = farthest-point sampling on line features from a random first piece."""
    rng = np.random.default_rng(seed)
    R = pb.rows
    if how == "margin":
        order = np.argsort(pb.start_pen + 1e-6 * np.arange(len(pb.start_pen)), kind="stable")
        chosen, used = [], set()
        for v in order:
            if v // pb.O in used:
                continue
            chosen.append(int(v))
            used.add(v // pb.O)
            if len(chosen) == R:
                break
        return pb.F[chosen]
    cand = np.nonzero(pb.conf > 0.5)[0]
    if len(cand) < R:
        cand = np.arange(len(pb.conf))
    chosen = [int(rng.choice(cand))]
    dmin = 1.0 - pb.F[cand] @ pb.F[chosen[0]]
    while len(chosen) < R:
        nxt = int(cand[np.argmax(dmin + rng.uniform(0, 0.05, len(cand)))])
        chosen.append(nxt)
        dmin = np.minimum(dmin, 1.0 - pb.F[cand] @ pb.F[nxt])
    return pb.F[chosen]


def path_cover(pb: "Problem", nodes: list[int], k: int, L: int) -> list[list[int]]:
    """k paths of exactly L nodes over `nodes` minimising seam cost: LAP successor assignment with k
    START and k END dummies, cycles cut at their worst seam, fragments packed into rows greedily."""
    nodes = list(nodes)
    n = len(nodes)
    C = pb.H[np.ix_(nodes, nodes)].copy()
    C = np.where(np.isfinite(C), C, 1e9)
    np.fill_diagonal(C, 1e9)
    sp = pb.start_pen[nodes]
    ep = pb.end_pen[nodes]
    M = np.full((n + k, n + k), 1e9)
    M[:n, :n] = C
    M[:n, n:] = ep[:, None]
    M[n:, :n] = sp[None, :]
    ri, ci = linear_sum_assignment(M)
    succ = -np.ones(n, int)
    heads = []
    for i, j in zip(ri, ci):
        if i < n and j < n:
            succ[i] = j
        elif i >= n and j < n:
            heads.append(j)
    pred = -np.ones(n, int)
    for i in range(n):
        if succ[i] >= 0:
            pred[succ[i]] = i
    frags, seen = [], np.zeros(n, bool)
    for h in range(n):
        if pred[h] < 0 and not seen[h]:
            f = [h]
            seen[h] = True
            while succ[f[-1]] >= 0 and not seen[succ[f[-1]]]:
                f.append(int(succ[f[-1]]))
                seen[f[-1]] = True
            frags.append(f)
    for s in range(n):  # cycles
        if seen[s]:
            continue
        cyc = [s]
        seen[s] = True
        while not seen[succ[cyc[-1]]]:
            cyc.append(int(succ[cyc[-1]]))
            seen[cyc[-1]] = True
        w = int(np.argmax([C[cyc[t], cyc[(t + 1) % len(cyc)]] for t in range(len(cyc))]))
        frags.append(cyc[w + 1:] + cyc[:w + 1])
    # split fragments longer than L at their worst seams
    out = []
    while frags:
        f = frags.pop()
        if len(f) <= L:
            out.append(f)
            continue
        w = int(np.argmax([C[a, b] for a, b in zip(f[:-1], f[1:])]))
        frags += [f[:w + 1], f[w + 1:]]
    frags = out
    # rows start from the k fragments that begin best (LAP heads first)
    headset = set(heads)
    frags.sort(key=lambda f: (f[0] not in headset, sp[f[0]]))
    rows = [frags[t] for t in range(min(k, len(frags)))]
    pool = frags[len(rows):]
    while len(rows) < k:  # fewer fragments than rows: split the longest
        f = max(rows, key=len)
        rows.remove(f)
        h = len(f) // 2
        rows += [f[:h], f[h:]]
    while pool:
        best = None
        for r, row in enumerate(rows):
            room = L - len(row)
            if room <= 0:
                continue
            for q, f in enumerate(pool):
                c = C[row[-1], f[0]] if len(f) <= room else C[row[-1], f[0]] + 0.5 * np.median(C.min(1))
                if best is None or c < best[0]:
                    best = (c, r, q)
        if best is None:
            break
        _, r, q = best
        f = pool.pop(q)
        room = L - len(rows[r])
        rows[r] = rows[r] + f[:room]
        if len(f) > room:
            pool.append(f[room:])
    # rows may be over-full if the first fragments exceeded (cannot) or under-full: rebalance
    extra = []
    for r in range(len(rows)):
        if len(rows[r]) > L:
            extra += rows[r][L:]
            rows[r] = rows[r][:L]
    extra += [v for f in pool for v in f]
    for r in range(len(rows)):
        while len(rows[r]) < L and extra:
            rows[r].append(extra.pop())
    return [[nodes[v] for v in row] for row in rows]


def exchange_rows(pb: "Problem", rows: list[list[int]], rounds: int = 50) -> list[list[int]]:
    """Block moves between rows that keep row lengths: tail exchange at the same cut and exchange
    of equal-length segments (1..4), best improvement first; then or-opt inside changed rows."""
    G = np.array(rows)
    R, L = G.shape
    Hc = np.where(np.isfinite(pb.H), pb.H, 1e9)
    for _ in range(rounds):
        improved = False
        # tail exchange: rows a, b cut after column c
        X = Hc[G[:, :-1][:, None, :], G[:, 1:][None, :, :]]  # X[a, b, c] = H[G[a,c], G[b,c+1]]
        d = np.diagonal(X, axis1=0, axis2=1).T  # (R, L-1) own edges
        delta = X + X.transpose(1, 0, 2) - d[:, None, :] - d[None, :, :]
        idx = np.unravel_index(np.argmin(delta), delta.shape)
        if delta[idx] < -1e-9:
            a, b, c = idx
            ta, tb = G[a, c + 1:].copy(), G[b, c + 1:].copy()
            G[a, c + 1:], G[b, c + 1:] = tb, ta
            improved = True
        # segment exchange of length m between different rows
        for m in (1, 2, 3, 4):
            best = (-1e-9, None)
            for s in range(0, L - m + 1):
                seg0, seg1 = G[:, s], G[:, s + m - 1]
                pl = G[:, s - 1] if s > 0 else None
                nr = G[:, s + m] if s + m < L else None
                for t in range(0, L - m + 1):
                    q0, q1 = G[:, t], G[:, t + m - 1]
                    ql = G[:, t - 1] if t > 0 else None
                    qr = G[:, t + m] if t + m < L else None
                    # put B's segment (rows b) into A (rows a) at s and A's into B at t
                    new = np.zeros((R, R))
                    old = np.zeros((R, R))
                    # A side
                    new += Hc[pl[:, None], q0[None, :]] if pl is not None else pb.start_pen[q0][None, :]
                    new += Hc[q1[None, :], nr[:, None]] if nr is not None else pb.end_pen[q1][None, :]
                    old += (Hc[pl, seg0] if pl is not None else pb.start_pen[seg0])[:, None]
                    old += (Hc[seg1, nr] if nr is not None else pb.end_pen[seg1])[:, None]
                    # B side (row b receives A's segment at t)
                    new += (Hc[ql[None, :], seg0[:, None]] if ql is not None else pb.start_pen[seg0][:, None])
                    new += (Hc[seg1[:, None], qr[None, :]] if qr is not None else pb.end_pen[seg1][:, None])
                    old += (Hc[ql, q0] if ql is not None else pb.start_pen[q0])[None, :]
                    old += (Hc[q1, qr] if qr is not None else pb.end_pen[q1])[None, :]
                    dd = new - old
                    np.fill_diagonal(dd, np.inf)
                    k = int(np.argmin(dd))
                    if dd.flat[k] < best[0]:
                        best = (dd.flat[k], (k // R, k % R, s, t))
            if best[1] is not None:
                a, b, s, t = best[1]
                sa, sb = G[a, s:s + m].copy(), G[b, t:t + m].copy()
                G[a, s:s + m], G[b, t:t + m] = sb, sa
                improved = True
        if not improved:
            break
    return [list(r) for r in G]


def solve_lines(pb: "Problem", cand: dict):
    """One alternative of the grid search: line-feature row grouping (initialised as `cand` says),
    seam-based re-partition of rows whose lines coincide, two-sided face agreement within rows,
    block moves, stacking, then refinement on the full 2-D cost (segment exchanges between rows,
    exact adjacent-row swaps, two-sided run turn-overs, exact row re-ordering in context)."""
    T0 = line_init(pb, cand.get("init", "margin"), cand.get("seed", 0))
    rows, T = balanced_rows_lines(pb, T0)
    # rows whose line templates coincide (same phase modulo the line pitch) cannot be told apart by
    # line positions: re-partition their union by seams
    R = pb.rows
    sim = T @ T.T
    thr = cand.get("merge", 0.9)
    parent = list(range(R))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for a in range(R):
        for b in range(a + 1, R):
            if sim[a, b] > thr:
                parent[find(a)] = find(b)
    classes = {}
    for r in range(R):
        classes.setdefault(find(r), []).append(r)
    new_rows = []
    for members in classes.values():
        if len(members) == 1:
            new_rows.append(rows[members[0]])
        else:
            nodes = [v for r in members for v in rows[r]]
            new_rows += path_cover(pb, nodes, len(members), pb.cols)
    rows = [order_row_fast(pb, r) for r in orient_rows(pb, new_rows)]
    for _ in range(3):
        before = [list(r) for r in rows]
        rows = exchange_rows(pb, rows)
        rows = [r if r == b else order_row_fast(pb, r, r) for r, b in zip(rows, before)]
        if rows == before:
            break
    if pb.O == 2:
        g = np.array(stack_rows(pb, rows, pb.kind))
    else:
        g = polish_grid(pb, rows, rounds=cand.get("polish", 2), wv=cand.get("wv", 0.3))
    if cand.get("blocks", True):
        restack = _restack_two_sided if pb.O == 2 else stack_rows_robust
        g = refine_blocks(pb, g, restack=restack)
        if pb.O == 1:
            g = polish_grid(pb, [list(r) for r in g], rounds=1, wv=1.0)
        else:
            g = polish_rows(pb, g)
        g = refine_blocks(pb, g, restack=restack)
        g = polish_rows_exact(pb, g, min_ratio=EXACT_RATIO, max_frags=15)
        g = refine_blocks(pb, g, restack=restack)
    return g, grid_cost(pb, g)


def improve_row_ctx(pb: "Problem", seq: list[int], U: np.ndarray, rounds: int = 50) -> list[int]:
    """Or-opt of one row with position costs U[c, v] (seams to the rows above/below, page-edge
    penalties at the first/last column) added to its own horizontal seams."""
    s = np.array(seq)
    L = len(s)
    Hc = np.where(np.isfinite(pb.H), pb.H, 1e9)

    def total(q):
        return float(Hc[q[:-1], q[1:]].sum() + U[np.arange(L), q].sum())
    cur = total(s)
    for _ in range(rounds):
        best_c, best = cur - 1e-9, None
        for m in range(1, L):
            for i in range(0, L - m + 1):
                seg = s[i:i + m]
                rest = np.concatenate([s[:i], s[i + m:]])
                nr = len(rest)
                hseg = Hc[seg[:-1], seg[1:]].sum() if m > 1 else 0.0
                # H: rest edges minus the one broken at k, plus joins
                hrest = np.concatenate([[0.0], np.cumsum(Hc[rest[:-1], rest[1:]])]) if nr else np.zeros(1)
                ks = np.arange(nr + 1)
                hin = np.zeros(nr + 1)
                hin[1:] += Hc[rest, seg[0]]
                hin[:-1] += Hc[seg[-1], rest]
                broken = np.zeros(nr + 1)
                broken[1:-1] = Hc[rest[:-1], rest[1:]]
                hcost = (hrest[-1] if nr else 0.0) - broken + hin + hseg
                # U: prefix keeps positions, segment at k.., suffix shifted by m
                pre = np.concatenate([[0.0], np.cumsum(U[np.arange(nr), rest])]) if nr else np.zeros(1)
                shifted = U[np.arange(nr) + m, rest] if nr else np.zeros(0)
                suf = np.concatenate([np.cumsum(shifted[::-1])[::-1], [0.0]]) if nr else np.zeros(1)
                segu = np.zeros(nr + 1)
                for t in range(m):
                    segu += U[ks + t, seg[t]]
                tot = hcost + pre + suf + segu
                tot[i] = np.inf  # same place
                k = int(np.argmin(tot))
                if tot[k] < best_c:
                    best_c, best = tot[k], (i, m, k)
        if best is None:
            break
        i, m, k = best
        seg = s[i:i + m]
        rest = np.concatenate([s[:i], s[i + m:]])
        s = np.concatenate([rest[:k], seg, rest[k:]])
        cur = total(s)
    return [int(v) for v in s]


def _safe_med(x) -> float:
    x = np.asarray(x, float)
    x = x[np.isfinite(x) & (x > 0)]
    return float(np.median(x)) if len(x) else 1.0


def stack_rows_robust(pb: "Problem", rows: list[list[int]]) -> list[list[int]]:
    """Order the rows top to bottom (exact path over the rows): text lines run on across a cut with
    the page's constant line pitch (continuation of the row line profiles, weight 2), plus the
    whole-row seam, plus blank page margins at the top and bottom."""
    G = np.array(rows)
    R = len(rows)
    strips = np.stack([row_strip(pb, r) for r in rows])  # R, K, h, W
    D = strips[:, 0].mean(-1)  # row line profiles (front face)
    pitch = K.line_pitch(D)
    Cp = K.continuation_cost(D, pitch)
    S = K.strip_vertical_cost(strips, pb.kind).astype(np.float64)
    M = 2.0 * Cp / _safe_med(Cp) + S / _safe_med(S)
    M = np.where(np.isfinite(M), M, 1e9)
    np.fill_diagonal(M, 1e9)
    tp = pb.top_pen[G].sum(1)
    bp = pb.bottom_pen[G].sum(1)
    tp = 0.3 * tp / _safe_med(tp)
    bp = 0.3 * bp / _safe_med(bp)
    best = None
    for s in range(R):
        path, c = held_karp(M, s, bp)
        c += tp[s]
        if best is None or c < best[1]:
            best = (path, c)
    return [rows[i] for i in best[0]]


def polish_grid(pb: "Problem", rows: list[list[int]], rounds: int = 3, wv: float = 1.0) -> np.ndarray:
    """Alternate robust stacking and row or-opt with the rows above/below as context."""
    Vc = np.where(np.isfinite(pb.V), pb.V, 1e9)
    rows = stack_rows_robust(pb, rows)
    for _ in range(rounds):
        changed = False
        R, L = len(rows), len(rows[0])
        for r in range(R):
            U = np.zeros((L, pb.H.shape[0]))
            if r > 0:
                U += wv * Vc[np.array(rows[r - 1])][:, :]
            else:
                U += pb.top_pen[None, :]
            if r < R - 1:
                U += wv * Vc[:, np.array(rows[r + 1])].T
            else:
                U += pb.bottom_pen[None, :]
            U[0] += pb.start_pen
            U[-1] += pb.end_pen
            new = improve_row_ctx(pb, rows[r], U)
            if new != rows[r]:
                rows[r], changed = new, True
        new_rows = stack_rows_robust(pb, rows)
        if not changed and new_rows == rows:
            break
        rows = new_rows
    return np.array(rows)


# ================================================================ 2-D block refinement
# Final polish on the full 2-D cost (all left-right + all top-bottom seams): exchange equal-length
# segments between any two rows (at any columns; the rows above/below score the moved pieces), flip
# single two-sided pieces, re-stack. Deltas are computed for every move at once (prefix sums along
# the diagonals) and the most promising ones are verified exactly before one is taken.

def _cell_context(pb: "Problem", G: np.ndarray) -> np.ndarray:
    """U[r, c, v]: vertical cost of piece v at cell (r, c) given the current rows above and below."""
    R, C = G.shape
    Vc = np.where(np.isfinite(pb.V), pb.V, 1e9)
    nO = Vc.shape[0]
    U = np.zeros((R, C, nO))
    U[0] += pb.top_pen[None, :]
    U[-1] += pb.bottom_pen[None, :]
    if R > 1:
        U[1:] += Vc[G[:-1]]  # piece above -> v
        U[:-1] += Vc[:, G[1:]].transpose(1, 2, 0)  # v -> piece below
    return U


def block_moves(pb: "Problem", G: np.ndarray, top: int = 24):
    """Candidate segment exchanges between rows, best (approximate) delta first:
    list of (delta, a, s, b, t, m)."""
    R, C = G.shape
    Hc = np.where(np.isfinite(pb.H), pb.H, 1e9)
    U = _cell_context(pb, G)
    W = U[:, :, G]  # W[a, c, b, c'] = cost of G[b, c'] placed at (a, c)
    Ws = U[np.arange(R)[:, None], np.arange(C)[None, :], G]  # own cost
    # left/right neighbour ids of each cell (-1 = page edge)
    Lnb = np.full((R, C), -1)
    Lnb[:, 1:] = G[:, :-1]
    Rnb = np.full((R, C), -1)
    Rnb[:, :-1] = G[:, 1:]

    def hcost(left, right):  # broadcast arrays of ids, -1 = edge
        out = Hc[np.maximum(left, 0), np.maximum(right, 0)]
        out = np.where(left < 0, pb.start_pen[np.maximum(right, 0)], out)
        return np.where(right < 0, pb.end_pen[np.maximum(left, 0)], out)
    # entering a segment that starts at (b, t) from the left of (a, s)
    inL = hcost(Lnb[:, :, None, None], G[None, None, :, :])  # a,s,b,t
    oldL = hcost(Lnb, G)  # a,s
    segW = np.zeros((R, C, R, C))
    segS = np.zeros((R, C))
    out = []
    eye = np.eye(R, dtype=bool)[:, None, :, None]
    for m in range(1, C):
        n = C - m + 1
        segW = segW[:, :n, :, :n] + W[:, m - 1:, :, m - 1:]
        segS = segS[:, :n] + Ws[:, m - 1:]
        last = G[:, m - 1:]  # last piece of a segment starting at s: (R, n)
        rn = Rnb[:, m - 1:]  # right neighbour after the segment
        inR = hcost(last[None, None, :, :], rn[:, :, None, None])  # B's last -> A's right nb
        oldR = hcost(last, rn)
        dA = inL[:, :n, :, :n] + inR - oldL[:, :n, None, None] - oldR[:, :, None, None] \
            + segW - segS[:, :, None, None]
        d = dA + dA.transpose(2, 3, 0, 1)
        d = np.where(eye, np.inf, d)
        flat = d.ravel()
        k = min(top, flat.size)
        idx = np.argpartition(flat, k - 1)[:k]
        for i in idx:
            if flat[i] < -1e-9:
                a, s, b, t = np.unravel_index(i, d.shape)
                if a < b:
                    out.append((float(flat[i]), int(a), int(s), int(b), int(t), m))
    out.sort()
    return out[:top]


def refine_blocks(pb: "Problem", g: np.ndarray, rounds: int = 60, restack=None) -> np.ndarray:
    """Segment exchanges between rows and single-piece face flips on the exact grid cost."""
    G = np.array(g)
    R, C = G.shape
    cur = grid_cost(pb, G)
    for _ in range(rounds):
        improved = False
        best = (cur - 1e-9, None)
        for d, a, s, b, t, m in block_moves(pb, G):
            G2 = G.copy()
            G2[a, s:s + m], G2[b, t:t + m] = G[b, t:t + m], G[a, s:s + m]
            c2 = grid_cost(pb, G2)
            if c2 < best[0]:
                best = (c2, G2)
        # adjacent rows swapping the same columns: the context deltas above are only approximate
        # there (each row is the other's context); these are exact
        d, a, s, e = adjacent_swap_best(pb, G)
        if d < -1e-9 and cur + d < best[0]:
            G2 = G.copy()
            G2[a, s:e + 1], G2[a + 1, s:e + 1] = G[a + 1, s:e + 1], G[a, s:e + 1]
            best = (grid_cost(pb, G2), G2)
        if best[1] is not None and best[0] < cur - 1e-9:
            G, cur, improved = best[1], best[0], True
        if pb.O == 2:
            G2, c2 = flip_segments(pb, G, cur, rounds=1)
            if c2 < cur - 1e-9:
                G, cur, improved = G2, c2, True
        if not improved and restack is not None:
            G2 = np.array(restack(pb, [list(r) for r in G]))
            c2 = grid_cost(pb, G2)
            if c2 < cur - 1e-9:
                G, cur, improved = G2, c2, True
        if not improved:
            break
    return G


def orient_rows(pb: "Problem", rows: list[list[int]], iters: int = 8) -> list[list[int]]:
    """Two-sided: make the faces within each row agree. Each piece takes the orientation in which its
    best left and best right seams to the row's other pieces (as currently oriented) are cheapest;
    repeated until stable. Pieces of one row share their line phase on both faces, and a piece with
    the wrong face in front matches nobody, so the majority pulls the minority round. Which face of the
    whole row is the front is decided later (stacking)."""
    if pb.O != 2:
        return rows
    Hc = np.where(np.isfinite(pb.H), pb.H, 1e9)
    out = []
    for row in rows:
        v = np.array(row)
        for _ in range(iters):
            changed = False
            for k in range(len(v)):
                others = np.delete(v, k)
                best_o, best_c = None, None
                for cand in (v[k], v[k] ^ 1):
                    lft = min(Hc[others, cand].min(), pb.start_pen[cand])
                    rgt = min(Hc[cand, others].min(), pb.end_pen[cand])
                    c = lft + rgt
                    if best_c is None or c < best_c - 1e-9:
                        best_o, best_c = cand, c
                if best_o != v[k]:
                    v[k] = best_o
                    changed = True
            if not changed:
                break
        out.append([int(x) for x in _flip_clusters(pb, Hc, v)])
    return out


def _orient_energy(pb, Hc, v):
    n = len(v)
    A = Hc[np.ix_(v, v)].copy()
    np.fill_diagonal(A, np.inf)
    lft = np.minimum(A.min(0), pb.start_pen[v])
    rgt = np.minimum(A.min(1), pb.end_pen[v])
    return float((lft + rgt).sum()), A


def _flip_clusters(pb, Hc, v, rounds: int = 6):
    """Flip whole consistently-oriented clusters (linked by best seams) while that lowers the sum of
    each piece's best left + right seam: a row split into two internally consistent halves."""
    v = np.array(v)
    n = len(v)
    E, A = _orient_energy(pb, Hc, v)
    for _ in range(rounds):
        parent = list(range(n))

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x
        for i in range(n):
            for j in (int(np.argmin(A[i])), int(np.argmin(A[:, i]))):
                parent[find(i)] = find(j)
        comps = {}
        for i in range(n):
            comps.setdefault(find(i), []).append(i)
        if len(comps) < 2:
            break
        best = None
        for members in comps.values():
            w = v.copy()
            w[members] ^= 1
            E2, A2 = _orient_energy(pb, Hc, w)
            if E2 < E - 1e-9 and (best is None or E2 < best[0]):
                best = (E2, w, A2)
        if best is None:
            break
        E, v, A = best
    return v



def flip_segments(pb: "Problem", G: np.ndarray, cur: float | None = None, rounds: int = 8):
    """Two-sided: turn over a run of pieces in a row (reverse it and show each piece's other face:
    a run that was placed as seen from the back). Single pieces are the run of length 1. Best
    improvement per round on the exact grid cost."""
    G = np.array(G)
    R, C = G.shape
    cur = grid_cost(pb, G) if cur is None else cur
    for _ in range(rounds):
        best = (cur - 1e-9, None)
        for r in range(R):
            for m in range(1, C + 1):
                for s in range(0, C - m + 1):
                    G2 = G.copy()
                    G2[r, s:s + m] = G[r, s:s + m][::-1] ^ 1
                    c2 = grid_cost(pb, G2)
                    if c2 < best[0]:
                        best = (c2, G2)
        if best[1] is None:
            break
        cur, G = best
    return G, cur


def _restack_two_sided(pb: "Problem", rows: list[list[int]]) -> list[list[int]]:
    return stack_rows(pb, rows, pb.kind)


def polish_rows(pb: "Problem", g: np.ndarray, wv: float = 1.0) -> np.ndarray:
    """Or-opt of every row in place, with the rows above/below as context (no re-stacking)."""
    rows = [list(r) for r in np.asarray(g)]
    Vc = np.where(np.isfinite(pb.V), pb.V, 1e9)
    R, L = len(rows), len(rows[0])
    for r in range(R):
        U = np.zeros((L, pb.H.shape[0]))
        U += wv * Vc[np.array(rows[r - 1])] if r > 0 else pb.top_pen[None, :]
        U += wv * Vc[:, np.array(rows[r + 1])].T if r < R - 1 else pb.bottom_pen[None, :]
        U[0] += pb.start_pen
        U[-1] += pb.end_pen
        rows[r] = improve_row_ctx(pb, rows[r], U)
    out = np.array(rows)
    return out if grid_cost(pb, out) < grid_cost(pb, g) else np.asarray(g)



def _row_fragments(pb: "Problem", ids: list[int], min_ratio: float = 1.0) -> list[list[int]]:
    """Mutual-best left-right seams within a row contracted into fragments (indices into ids); with
    min_ratio > 1 only seams whose second-best rival (either side) costs min_ratio times more."""
    n = len(ids)
    sub = pb.H[np.ix_(ids, ids)]
    sub = np.where(np.isfinite(sub), sub, 1e9)
    np.fill_diagonal(sub, 1e9)
    A = _aug(sub, pb.start_pen[ids], pb.end_pen[ids])
    bs = A[:n, :].argmin(1)
    bp = A[:, :n].argmin(0)
    sr = np.sort(A[:n, :], axis=1)[:, 1]
    sc = np.sort(A[:, :n], axis=0)[1, :]
    nxt = -np.ones(n, int)
    prv = -np.ones(n, int)
    for i in range(n):
        j = int(bs[i])
        if j < n and bp[j] == i:
            if min_ratio > 1.0 and min(sr[i], sc[j]) < min_ratio * A[i, j] + 1e-6:
                continue
            nxt[i], prv[j] = j, i
    frags, seen = [], np.zeros(n, bool)
    for h in range(n):
        if prv[h] < 0:
            f = [h]
            seen[h] = True
            while nxt[f[-1]] >= 0 and not seen[nxt[f[-1]]]:
                f.append(int(nxt[f[-1]]))
                seen[f[-1]] = True
            frags.append(f)
    for h in range(n):
        if not seen[h]:
            cyc = [h]
            seen[h] = True
            while not seen[nxt[cyc[-1]]]:
                cyc.append(int(nxt[cyc[-1]]))
                seen[cyc[-1]] = True
            w = int(np.argmax([sub[cyc[t], cyc[(t + 1) % len(cyc)]] for t in range(len(cyc))]))
            frags.append(cyc[w + 1:] + cyc[:w + 1])
    return frags


def order_row_ctx_exact(pb: "Problem", ids: list[int], U: np.ndarray, max_frags: int = 16,
                        singles: bool = False, min_ratio: float = 1.0):
    """Exact order of one row's mutual-best fragments with position costs U[c, v] (the rows above and
    below, page edges): Held-Karp over fragments, where a subset's fragments fix the next position.
    Returns None when there are too many fragments."""
    ids = list(ids)
    L = len(ids)
    # short rows: exact over single pieces; long rows: over mutual-best fragments
    singles = singles or L <= 12
    frags = [[k] for k in range(L)] if singles else _row_fragments(pb, ids, min_ratio)
    m = len(frags)
    if m > max(max_frags, L if singles else 0):
        return None
    Hc = np.where(np.isfinite(pb.H), pb.H, 1e9)
    if singles:
        return _order_row_ctx_singles(Hc, ids, U)
    gid = [[ids[k] for k in f] for f in frags]
    lens = np.array([len(f) for f in gid])
    inner = np.array([Hc[f[:-1], f[1:]].sum() if len(f) > 1 else 0.0 for f in gid])
    Uf = np.full((m, L + 1), 1e18)
    for j, f in enumerate(gid):
        for q in range(L - len(f) + 1):
            Uf[j, q] = inner[j] + U[np.arange(q, q + len(f)), f].sum()
    Hf = Hc[np.ix_([f[-1] for f in gid], [f[0] for f in gid])].copy()
    np.fill_diagonal(Hf, 1e18)
    idx = np.arange(1 << m)
    pos = np.zeros(1 << m, np.int64)
    for j in range(m):
        pos += ((idx >> j) & 1) * lens[j]
    order = _held_karp_positions(Hf, Uf[:, 0], lambda S, k: Uf[:, np.minimum(pos[S], L)].T)
    return [v for k in order for v in gid[k]]


def _order_row_ctx_singles(Hc: np.ndarray, ids: list[int], U: np.ndarray) -> list[int]:
    """Exact Held-Karp over single pieces with position costs: a subset of k pieces ends at
    position k - 1, so the position cost of the next piece is one column of U per layer
    (float32: 2^19 subsets x 19 pieces stay at 40 MB)."""
    ida = np.array(ids)
    Hf = Hc[np.ix_(ida, ida)].astype(np.float32)
    np.fill_diagonal(Hf, 1e18)
    Uf = U[:, ida].T.astype(np.float32)  # piece j at position q
    order = _held_karp_positions(Hf, Uf[:, 0], lambda S, k: Uf[:, k][None, :], dtype=np.float32)
    return [ids[k] for k in order]


def _held_karp_positions(Hf: np.ndarray, first_cost: np.ndarray, position_cost, dtype=np.float64) -> list[int]:
    """Exact path over m nodes by Held-Karp (vectorised over subsets): the cost of a path is its
    transition costs Hf[i, j] plus, for each node appended to a subset S of size k, the term
    position_cost(S, k)[:, j]; first_cost[j] is node j's cost in the first place. The shared core of
    the row orderings above."""
    m = len(Hf)
    N = 1 << m
    dp = np.full((N, m), dtype(1e18), dtype)
    for j in range(m):
        dp[1 << j, j] = first_cost[j]
    layers = _layers(m)
    for k in range(1, m):
        S = layers[k]
        D = dp[S]
        M = D[:, 0:1] + Hf[0][None, :]
        for i in range(1, m):
            np.minimum(M, D[:, i:i + 1] + Hf[i][None, :], out=M)
        M += position_cost(S, k)
        for j in range(m):
            free = (S >> j) & 1 == 0
            dp[S[free] | (1 << j), j] = M[free, j]
    j = int(np.argmin(dp[N - 1]))
    rev, S = [j], N - 1
    while True:
        prev = S ^ (1 << j)
        if prev == 0:
            break
        i = int(np.argmin(dp[prev] + Hf[:, j]))
        rev.append(i)
        S, j = prev, i
    return rev[::-1]


def polish_rows_exact(pb: "Problem", g: np.ndarray, sweeps: int = 2, singles: bool = False,
                      min_ratio: float = 1.0, max_frags: int = 16) -> np.ndarray:
    """Re-order every row exactly (over its mutual-best fragments) given the rows above and below;
    keeps a row's new order only if the full 2-D cost drops."""
    G = np.array(g)
    R, L = G.shape
    Vc = np.where(np.isfinite(pb.V), pb.V, 1e9)
    cur = grid_cost(pb, G)
    for _ in range(sweeps):
        improved = False
        for r in range(R):
            U = np.zeros((L, pb.H.shape[0]))
            U += Vc[G[r - 1]] if r > 0 else pb.top_pen[None, :]
            U += Vc[:, G[r + 1]].T if r < R - 1 else pb.bottom_pen[None, :]
            U[0] += pb.start_pen
            U[-1] += pb.end_pen
            new = order_row_ctx_exact(pb, list(G[r]), U, max_frags, singles, min_ratio)
            if new is None:
                continue
            G2 = G.copy()
            G2[r] = new
            c2 = grid_cost(pb, G2)
            if c2 < cur - 1e-9:
                G, cur, improved = G2, c2, True
        if not improved:
            break
    return G


def adjacent_swap_best(pb: "Problem", G: np.ndarray):
    """Exact best exchange of the same columns s..e between rows a and a+1:
    returns (delta, a, s, e) (delta >= 0 when nothing helps)."""
    R, C = G.shape
    Hc = np.where(np.isfinite(pb.H), pb.H, 1e9)
    Vc = np.where(np.isfinite(pb.V), pb.V, 1e9)
    best = (0.0, 0, 0, 0)
    for a in range(R - 1):
        x, y = G[a], G[a + 1]
        old = Vc[x, y].copy()
        new = Vc[y, x].copy()
        if a > 0:
            up = G[a - 1]
            old += Vc[up, x]
            new += Vc[up, y]
        else:
            old += pb.top_pen[x]
            new += pb.top_pen[y]
        if a + 2 < R:
            dn = G[a + 2]
            old += Vc[y, dn]
            new += Vc[x, dn]
        else:
            old += pb.bottom_pen[y]
            new += pb.bottom_pen[x]
        cum = np.concatenate([[0.0], np.cumsum(new - old)])
        HL = np.zeros(C)
        HL[1:] = (Hc[x[:-1], y[1:]] + Hc[y[:-1], x[1:]]) - (Hc[x[:-1], x[1:]] + Hc[y[:-1], y[1:]])
        HR = np.zeros(C)
        HR[:-1] = (Hc[y[:-1], x[1:]] + Hc[x[:-1], y[1:]]) - (Hc[x[:-1], x[1:]] + Hc[y[:-1], y[1:]])
        D = cum[None, 1:] - cum[:-1, None] + HL[:, None] + HR[None, :]  # D[s, e]
        D = np.where(np.triu(np.ones((C, C), bool)), D, np.inf)
        k = int(np.argmin(D))
        if D.flat[k] < best[0]:
            best = (float(D.flat[k]), a, k // C, k % C)
    return best


def final_polish(pb: "Problem", g: np.ndarray, sweeps: int = 2, singles: bool = False) -> np.ndarray:
    """Once, on the chosen alternative: every row re-ordered exactly with the rows above and below
    as context -- over fragments joined only by confident mutual-best seams (EXACT_RATIO; plain
    mutual-best fragments can lock a wrong seam in), or over single pieces (singles=True, about
    0.35 s a row) -- then the block refinement again. Kept only where the full 2-D cost drops."""
    G = np.array(g)
    if G.shape[0] < 2:
        return G
    restack = _restack_two_sided if pb.O == 2 else stack_rows_robust
    for _ in range(sweeps):
        before = grid_cost(pb, G)
        G = polish_rows_exact(pb, G, sweeps=1, singles=singles, min_ratio=EXACT_RATIO, max_frags=17)
        G = refine_blocks(pb, G, restack=restack)
        if grid_cost(pb, G) >= before - 1e-9:
            break
    return G
