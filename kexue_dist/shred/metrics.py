"""Accuracy of a restored page against the known answer (pure functions, no I/O).

Both ``pred`` and ``truth`` are result.json-shaped dicts::

    {"layout": "strips" | "grid" | "two-sided",
     "grid": [[name or null, ...], ...],          # rows top to bottom, names left to right
     "back": [[...], ...],                         # two-sided only: faces seen after turning over
     "unplaced": [name, ...]}                      # optional: pieces the solver did not place

Definitions (``E`` is the expected grid, ``P`` the predicted one, ``N`` the number of cells of
``E``; a two-sided name is a face such as ``"012a"`` and must match exactly, face included):

direct
    share of the ``N`` cells ``(r, c)`` of ``E`` with ``P[r][c] == E[r][c]`` (cells missing from
    ``P`` or ``null`` count as wrong; extra cells of ``P`` are ignored).
neighbour
    share of the true adjacency relations of ``E`` -- ``E[r][c]`` left of ``E[r][c+1]`` and
    ``E[r][c]`` above ``E[r+1][c]`` -- that ``P`` reproduces anywhere in its grid (same two names,
    same direction, adjacent). ``rows*(cols-1) + (rows-1)*cols`` relations: 18 for 19 strips, 388
    for 11 x 19. Shape-free: a correct page shifted inside a larger grid keeps its neighbours.
perfect
    ``direct == 1`` (every cell holds the right piece).
direct_tie / neighbour_tie / perfect_tie
    the same with pieces of identical pixels interchangeable (blank margins, blank pieces): each
    name is replaced by its class (pieces with byte-identical images share a class; for two-sided
    pages a class is the pair (shown face, other face)). ``direct_tie`` compares classes cell by
    cell; ``neighbour_tie`` is the size of the multiset intersection of the true and predicted
    (class, class, direction) relations divided by the number of true relations. Without
    ``pieces`` (or with all pieces distinct) they equal the strict values, and they are never lower.
row_purity, row_ari, row_moves (grid and two-sided; None for strips)
    pieces are labelled by their true row and by their predicted row (unplaced pieces form
    singleton clusters). ``row_purity`` = (1/n) sum over predicted rows of the largest number of
    its pieces from one true row; ``row_ari`` = adjusted Rand index of the two labellings;
    ``row_moves`` = n minus the best one-to-one matching of predicted to true rows = the number of
    pieces a human has to move between rows (the "human interventions" for grouping).
neighbour_right, neighbour_down
    the neighbour share split by direction: left-right relations (ordering within rows) and
    top-bottom relations (ordering of the rows); ``neighbour_down`` is None for strips.
order_breaks
    number of horizontally adjacent placed pairs in ``P`` that are not true left-right neighbours
    (each is a seam a human would have to re-cut).
side (two-sided only)
    ``"same"`` if ``P`` is scored against the true front page, ``"flipped"`` if the solver chose the
    other side as its front: turning a restored sheet over is not an error, so both orientations
    are scored (``E = truth["grid"]`` or ``E = truth["back"]``) and the better one is reported
    (ties prefer "same"). ``faces_correct`` = share of placed pieces showing the face expected in
    that orientation; ``back_consistent`` = the predicted "back" is exactly the partners of the
    predicted grid in reverse order (None if ``pred`` has no "back").
"""

from __future__ import annotations

from collections import Counter
from math import comb

import numpy as np

Grid = list[list[str | None]]


def _piece_id(name: str, two_sided: bool) -> str:
    return name[:-1] if two_sided else name


def _other_face(name: str) -> str:
    return name[:-1] + ("b" if name[-1] == "a" else "a")


def _check_grid(grid, what: str) -> Grid:
    if not isinstance(grid, list) or not all(isinstance(r, list) for r in grid):
        raise ValueError(f"{what} must be a list of rows")
    for row in grid:
        for x in row:
            if x is not None and not isinstance(x, str):
                raise ValueError(f"{what} holds a cell that is neither a name nor null: {x!r}")
    return grid


def _positions(grid: Grid, what: str) -> dict[str, tuple[int, int]]:
    pos: dict[str, tuple[int, int]] = {}
    for r, row in enumerate(grid):
        for c, x in enumerate(row):
            if x is None:
                continue
            if x in pos:
                raise ValueError(f"{what} places {x!r} twice")
            pos[x] = (r, c)
    return pos


def relations(grid: Grid) -> list[tuple[str, str, str]]:
    """Adjacency relations of a grid: (left, right, "R") and (top, bottom, "D") for non-null pairs."""
    out = []
    for r, row in enumerate(grid):
        for c, x in enumerate(row):
            if x is None:
                continue
            if c + 1 < len(row) and row[c + 1] is not None:
                out.append((x, row[c + 1], "R"))
            if r + 1 < len(grid) and c < len(grid[r + 1]) and grid[r + 1][c] is not None:
                out.append((x, grid[r + 1][c], "D"))
    return out


def equivalence_classes(pieces: dict[str, np.ndarray] | None, names, two_sided: bool = False) -> dict[str, object]:
    """Map each name to a class key; names whose images are byte-identical share a key.

    For two-sided pages the key of a face is (its pixels, its partner's pixels), so two pieces are
    interchangeable only if both faces match. Without ``pieces`` every name is its own class.
    """
    names = list(names)
    if pieces is None:
        return {n: n for n in names}

    def key(n):
        img = pieces.get(n)
        if img is None:
            return ("missing", n)
        a = np.ascontiguousarray(img)
        return (a.shape, str(a.dtype), a.tobytes())

    if not two_sided:
        return {n: key(n) for n in names}
    return {n: (key(n), key(_other_face(n))) for n in names}


def adjusted_rand_index(a: list, b: list) -> float:
    """Adjusted Rand index of two labellings of the same items (1 = identical partitions)."""
    if len(a) != len(b):
        raise ValueError("labellings differ in length")
    n = len(a)
    if n < 2:
        return 1.0
    cont = Counter(zip(a, b))
    sum_ij = sum(comb(v, 2) for v in cont.values())
    sum_a = sum(comb(v, 2) for v in Counter(a).values())
    sum_b = sum(comb(v, 2) for v in Counter(b).values())
    total = comb(n, 2)
    expected = sum_a * sum_b / total
    maximum = (sum_a + sum_b) / 2
    if maximum == expected:  # both partitions trivial (all singletons or one cluster) and equal
        return 1.0
    return float((sum_ij - expected) / (maximum - expected))


def _row_metrics(E: Grid, P: Grid, ids) -> dict:
    """Row grouping of pieces: purity, ARI, pieces to move. ``ids`` maps a name to a piece id."""
    true_row = {ids(x): r for r, row in enumerate(E) for x in row if x is not None}
    pred_row = {}
    for r, row in enumerate(P):
        for x in row:
            if x is not None and ids(x) in true_row:
                pred_row[ids(x)] = r
    items = sorted(true_row)
    n = len(items)
    a = [true_row[i] for i in items]
    b = [pred_row.get(i, ("unplaced", i)) for i in items]
    clusters: dict[object, Counter] = {}
    for t, p in zip(a, b):
        clusters.setdefault(p, Counter())[t] += 1
    purity = sum(max(c.values()) for c in clusters.values()) / n if n else 1.0
    # best one-to-one matching of predicted rows (placed only) to true rows
    prow = sorted({p for p in b if not isinstance(p, tuple)})
    trow = sorted(set(a))
    if prow:
        from scipy.optimize import linear_sum_assignment

        m = np.zeros((len(prow), len(trow)))
        pi = {p: k for k, p in enumerate(prow)}
        ti = {t: k for k, t in enumerate(trow)}
        for t, p in zip(a, b):
            if not isinstance(p, tuple):
                m[pi[p], ti[t]] += 1
        ri, ci = linear_sum_assignment(-m)
        matched = int(m[ri, ci].sum())
    else:
        matched = 0
    return {"row_purity": float(purity), "row_ari": adjusted_rand_index(a, b), "row_moves": n - matched}


def _score_against(E: Grid, P: Grid, cls: dict[str, object], two_sided: bool) -> dict:
    n = sum(len(r) for r in E)
    direct = 0
    direct_tie = 0
    for r, row in enumerate(E):
        for c, x in enumerate(row):
            y = P[r][c] if r < len(P) and c < len(P[r]) else None
            if y is None or x is None:
                continue
            direct += y == x
            direct_tie += cls.get(y, ("?", y)) == cls.get(x, ("?", x))
    true_rel = relations(E)
    pred_rel = relations(P)
    pred_set = set(pred_rel)
    neigh = sum(rel in pred_set for rel in true_rel)
    ct = Counter((cls[a], cls[b], d) for a, b, d in true_rel)
    cp = Counter((cls.get(a, ("?", a)), cls.get(b, ("?", b)), d) for a, b, d in pred_rel)
    neigh_tie = sum((ct & cp).values())
    m = len(true_rel)
    n_right = sum(1 for rel in true_rel if rel[2] == "R")
    ok_right = sum(1 for rel in true_rel if rel[2] == "R" and rel in pred_set)
    true_right = {(a, b) for a, b, d in true_rel if d == "R"}
    breaks = sum(1 for a, b, d in pred_rel if d == "R" and (a, b) not in true_right)
    out = {
        "n_cells": n,
        "n_relations": m,
        "direct": direct / n if n else 1.0,
        "neighbour": neigh / m if m else 1.0,
        "direct_tie": direct_tie / n if n else 1.0,
        "neighbour_tie": neigh_tie / m if m else 1.0,
        "neighbour_right": ok_right / n_right if n_right else 1.0,
        "neighbour_down": (neigh - ok_right) / (m - n_right) if m - n_right else None,
        "order_breaks": breaks,
    }
    out["perfect"] = out["direct"] == 1.0
    out["perfect_tie"] = out["direct_tie"] == 1.0
    if two_sided:
        expected = {_piece_id(x, True): x for row in E for x in row if x is not None}
        shown = [x for row in P for x in row if x is not None]
        ok = sum(expected.get(_piece_id(x, True)) == x for x in shown)
        out["faces_correct"] = ok / len(shown) if shown else 0.0
    return out


def score(pred: dict, truth: dict, pieces: dict[str, np.ndarray] | None = None) -> dict:
    """Score a restored page ``pred`` against ``truth`` (see the module docstring for definitions).

    ``pieces`` (name -> image, as loaded from the pieces directory) enables the tie-aware metrics.
    Returns a flat dict: layout, n_pieces, n_placed, unplaced, n_cells, n_relations, direct,
    neighbour, neighbour_right, neighbour_down, perfect, direct_tie, neighbour_tie, perfect_tie,
    order_breaks, row_purity, row_ari,
    row_moves, and for two-sided side, faces_correct, back_consistent.
    Raises ValueError for malformed input (layout mismatch, unknown or duplicated names).
    """
    layout = truth.get("layout")
    if layout not in ("strips", "grid", "two-sided"):
        raise ValueError(f"truth has unknown layout {layout!r}")
    if pred.get("layout", layout) != layout:
        raise ValueError(f"layout mismatch: pred {pred.get('layout')!r}, truth {layout!r}")
    two = layout == "two-sided"
    T = _check_grid(truth["grid"], "truth grid")
    P = _check_grid(pred.get("grid") or [], "pred grid")
    tpos = _positions(T, "truth grid")
    ppos = _positions(P, "pred grid")
    if two:
        TB = _check_grid(truth.get("back"), "truth back")
        _positions(TB, "truth back")
        known = {x for row in T + TB for x in row if x is not None}
        ids = [_piece_id(x, True) for x in ppos]
        if len(set(ids)) != len(ids):
            raise ValueError("pred grid shows both faces of one piece")
    else:
        known = set(tpos)
    unknown = [x for x in ppos if x not in known]
    if unknown:
        raise ValueError(f"pred grid names pieces not in the truth: {sorted(unknown)[:5]}")
    cls = equivalence_classes(pieces, known, two)

    if two:
        same = _score_against(T, P, cls, True)
        flipped = _score_against(TB, P, cls, True)
        key = lambda s: (s["direct"] + s["neighbour"], s["direct_tie"] + s["neighbour_tie"], s["faces_correct"])
        if key(flipped) > key(same):
            res, side, E = flipped, "flipped", TB
        else:
            res, side, E = same, "same", T
        res["side"] = side
        pb = pred.get("back")
        if pb is None:
            res["back_consistent"] = None
        else:
            want = [[None if x is None else _other_face(x) for x in reversed(row)] for row in P]
            res["back_consistent"] = pb == want
        row = _row_metrics(E, P, lambda x: _piece_id(x, True))
    else:
        res = _score_against(T, P, cls, False)
        E = T
        row = _row_metrics(E, P, lambda x: x) if layout == "grid" else \
            {"row_purity": None, "row_ari": None, "row_moves": None}
    res.update(row)
    n_pieces = len(tpos)
    res.update({"layout": layout, "n_pieces": n_pieces, "n_placed": len(ppos), "unplaced": n_pieces - len(ppos)})
    return res


def summarize(scores: list[dict]) -> dict:
    """Mean of the numeric metrics over several pages (booleans become rates; None values skipped)."""
    keys = ["direct", "neighbour", "neighbour_right", "neighbour_down", "perfect", "direct_tie", "neighbour_tie",
            "perfect_tie",
            "row_purity", "row_ari", "row_moves", "order_breaks", "faces_correct", "unplaced"]
    out: dict = {"pages": len(scores)}
    for k in keys:
        vals = [float(s[k]) for s in scores if s.get(k) is not None]
        if vals:
            out[k] = sum(vals) / len(vals)
    sides = [s["side"] for s in scores if s.get("side")]
    if sides:
        out["flipped_rate"] = sides.count("flipped") / len(sides)
    return out
