"""Shredded-page restoration: the entry points the CLI, jobs and demo call.

``restore_dir(path, ...)`` -> the result.json dict; ``write_outputs(result, pieces, out_dir)`` writes
result.json / restored.png / back.png atomically; ``restore_pieces(pieces, layout, ...)`` is the pure
in-memory entry.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from kexue_dist.errors import UserError
from kexue_dist.shred import costs, io, render, search, solvers

SOLVERS = ("default", "baseline", "fast")


def _oriented_ink(pieces, lay: io.Layout):
    if lay.kind != "two-sided":
        ink = np.stack([costs.to_ink(pieces[n])[None] for n in lay.pieces])
        return ink, 1
    arrs = []
    for p in lay.pieces:
        a = costs.to_ink(pieces[p + "a"])
        b = costs.to_ink(pieces[p + "b"])
        arrs.append(np.stack([a, b[:, ::-1]]))
        arrs.append(np.stack([b, a[:, ::-1]]))
    return np.stack(arrs), 2


def _name(lay: io.Layout, v: int, O: int) -> str:
    if O == 1:
        return lay.pieces[v]
    p, o = divmod(int(v), 2)
    return lay.pieces[p] + ("a" if o == 0 else "b")


def _partner(name: str) -> str:
    return name[:-1] + ("b" if name[-1] == "a" else "a")


def parse_pins(pins, lay: io.Layout, pieces) -> list[tuple]:
    """Pins: "NAME@R,C" fixes a piece at a cell (0-based), "A>B" fixes B right of A, "A^B" B below A.

    Returns a list of ("cell", name, r, c) / ("right", a, b) / ("below", a, b).
    """
    out = []
    if not pins:
        return out
    valid = set(pieces) | set(lay.pieces)
    for raw in pins:
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        try:
            if "@" in s:
                name, pos = s.split("@")
                r, c = (int(x) for x in pos.split(","))
                if not (0 <= r < lay.rows and 0 <= c < lay.cols):
                    raise UserError(f"pin {raw!r}: cell {r},{c} is outside the {lay.rows}x{lay.cols} grid")
                item = ("cell", name.strip(), r, c)
            elif ">" in s:
                a, b = s.split(">")
                item = ("right", a.strip(), b.strip())
            elif "^" in s:
                a, b = s.split("^")
                item = ("below", a.strip(), b.strip())
            else:
                raise ValueError
        except ValueError:
            raise UserError(f"pin {raw!r}: expected NAME@ROW,COL or LEFT>RIGHT or TOP^BOTTOM") from None
        for nm in item[1:3] if item[0] != "cell" else item[1:2]:
            if nm not in valid:
                raise UserError(f"pin {raw!r}: no piece named {nm!r}")
        out.append(item)
    return out


def _pin_index(lay: io.Layout, O: int, name: str) -> int:
    if O == 1:
        return lay.pieces.index(name)
    if name in lay.pieces:
        return 2 * lay.pieces.index(name)
    return 2 * lay.pieces.index(name[:-1]) + (0 if name[-1] == "a" else 1)


def _apply_pins(pb: solvers.Problem, pins, lay, O):
    """Seam pins become near-zero costs and forbid rivals; cell pins are enforced after solving."""
    cells = []
    BIG = 1e6
    for item in pins:
        if item[0] == "cell":
            cells.append((_pin_index(lay, O, item[1]), item[2], item[3]))
            continue
        a = _pin_index(lay, O, item[1])
        b = _pin_index(lay, O, item[2])
        M = pb.H if item[0] == "right" else pb.V
        for x, y in ((a, b),) + (((a ^ 1, b ^ 1),) if O == 2 else ()):
            pass
        M[a, :] += BIG
        M[:, b] += BIG
        M[a, b] = -BIG
        if O == 2:
            # the same seam seen from the other side runs the other way
            M[b ^ 1, :] += BIG
            M[:, a ^ 1] += BIG
            M[b ^ 1, a ^ 1] = -BIG
    if cells:
        for v, r, c in cells:
            if c == 0:
                pb.start_pen[v] -= BIG
            if c == lay.cols - 1:
                pb.end_pen[v] -= BIG
            if r == 0:
                pb.top_pen[v] -= BIG
            if r == lay.rows - 1:
                pb.bottom_pen[v] -= BIG
    return cells


def _enforce_cells(g: np.ndarray, cells, O):
    g = g.copy()
    for v, r, c in cells:
        base = v // O
        where = np.argwhere((g // O) == base)
        if len(where):
            rr, cc = where[0]
            g[rr, cc], g[r, c] = g[r, c], g[rr, cc]
        g[r, c] = v
    return g


def seam_confidence(pb: solvers.Problem, g: np.ndarray) -> float:
    """Share of the solution's seams that are mutual best buddies (ties count), horizontal seams
    weighted 2, vertical 1, in [0, 1]."""
    ids = g.ravel()
    H = pb.H[np.ix_(ids, ids)]
    V = pb.V[np.ix_(ids, ids)]
    bbH = costs.best_buddies(H)
    bbV = costs.best_buddies(V)
    pos = {v: k for k, v in enumerate(ids)}
    num = den = 0.0
    R, C = g.shape
    for r in range(R):
        for c in range(C):
            if c + 1 < C:
                num += 2 * bbH[pos[g[r, c]], pos[g[r, c + 1]]]
                den += 2
            if r + 1 < R:
                num += bbV[pos[g[r, c]], pos[g[r + 1, c]]]
                den += 1
    return float(num / den) if den else 1.0


def restore_pieces(pieces: dict[str, np.ndarray], layout: str | None = None, solver: str = "default",
                   pins=None, workers: int | None = None, progress: bool = True, use_ray: bool | None = None,
                   rows: int | None = None, lay: io.Layout | None = None) -> dict:
    """Restore a page from in-memory greyscale pieces; returns the result.json dict.

    use_ray=None (default): Ray tasks for cross-cut pages; strips are solved in-process (the exact
    19-strip path takes well under a second, less than starting Ray)."""
    t0 = time.time()
    if solver not in SOLVERS:
        raise UserError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if lay is None:
        lay = io.detect_layout(pieces, layout, rows)
    pins = parse_pins(pins, lay, pieces)
    ink, O = _oriented_ink(pieces, lay)
    if solver == "baseline":
        pb = solvers.build_problem(ink, lay.rows, lay.cols, O, kind="l1", normalise=False, text_weight=0)
        g = solvers.baseline(pb)
        cells = []
    else:
        pb = solvers.build_problem(ink, lay.rows, lay.cols, O)
        cells = _apply_pins(pb, pins, lay, O)
        if use_ray is None:
            use_ray = not (lay.rows == 1 and O == 1)
        cands = search.candidates_for(pb, workers or 2, solver)
        if solver == "fast":
            cands = cands[:1]
        ts = time.time()
        timing: dict = {}
        _, g, _ = search.run_search(pb, cands, workers=workers, progress=progress, use_ray=use_ray,
                                    timing=timing)
        search_s = time.time() - ts
        if solver == "default" and lay.rows > 1:
            g = solvers.final_polish(pb, g)
        if cells:
            g = _enforce_cells(g, cells, O)
    if O == 2 and solver != "baseline":
        # the front is the side on which most pieces show their 'a' face (a fixed, automatic rule)
        if (g % 2 == 1).sum() * 2 > g.size:
            g = np.array([[v ^ 1 for v in row[::-1]] for row in g])
    grid = [[_name(lay, v, O) for v in row] for row in g]
    result = {"layout": lay.kind, "grid": grid}
    if O == 2:
        result["back"] = [[_partner(n) for n in row[::-1]] for row in grid]
    result["unplaced"] = []
    result["seam_confidence"] = round(seam_confidence(pb, g), 4)
    result["solver"] = solver
    if solver != "baseline":
        result["search_seconds"] = round(search_s, 3)
        result["ray_start_seconds"] = timing.get("ray_start_seconds", 0.0)
        result["parallel_seconds"] = timing.get("parallel_seconds", search_s)
        result["alternatives"] = len(cands)
    result["seconds"] = round(time.time() - t0, 3)
    return result


def restore_dir(path: str, layout: str | None = None, solver: str = "default", pins=None,
                workers: int | None = None, progress: bool = True, rows: int | None = None) -> dict:
    t0 = time.time()
    pieces, lay = io.load_dir(path, layout, rows)
    res = restore_pieces(pieces, layout, solver, pins, workers, progress, lay=lay)
    res["seconds"] = round(time.time() - t0, 3)
    return res


def write_outputs(result: dict, pieces: dict[str, np.ndarray], out_dir: str) -> None:
    """Write result.json, restored.png (and back.png) into out_dir atomically."""
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".shred-", dir=parent)
    try:
        with open(os.path.join(tmp, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
        render.save_png(render.assemble(result["grid"], pieces), os.path.join(tmp, "restored.png"))
        if result.get("back"):
            render.save_png(render.assemble(result["back"], pieces), os.path.join(tmp, "back.png"))
        if os.path.isdir(out_dir):
            old = out_dir + ".old-" + str(os.getpid())
            os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def format_table(result: dict) -> str:
    lines = [f"layout: {result['layout']}  seam_confidence: {result['seam_confidence']:.3f}  "
             f"seconds: {result['seconds']:.2f}"]
    for row in result["grid"]:
        lines.append(" ".join(n if n is not None else "----" for n in row))
    if result.get("back"):
        lines.append("back:")
        for row in result["back"]:
            lines.append(" ".join(n if n is not None else "----" for n in row))
    if result.get("unplaced"):
        lines.append("unplaced: " + " ".join(result["unplaced"]))
    return "\n".join(lines)
