"""Accuracy of the shred solvers on synthetic pages with known answers.

For every (language x layout x degradation level) it generates ``--pages`` pages with fixed seeds
(``--seed-base`` + k; the default 7_000_000 is reserved for this benchmark -- do not tune on it),
restores each with every solver in ``--solvers`` (the project's default and the contest-classic
``baseline``: L1 seam cost + greedy chaining), scores the result with
:func:`kexue_dist.shred.metrics.score`, prints a table and writes
``benchmarks/results/shred_synth_accuracy.json``.

Page ``k`` has the same text and style at every level and in every layout, so rows of the table
compare like with like.

Quick run (a few minutes on 2 cores)::

    .venv/bin/python benchmarks/shred_synth_accuracy.py --pages 1 --levels ideal,noise --layouts strips,grid

Full run::

    .venv/bin/python benchmarks/shred_synth_accuracy.py --pages 5 --levels all --layouts all --jobs 4
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kexue_dist.report import aligned_table, write_json  # noqa: E402
from kexue_dist.shred import metrics, synth  # noqa: E402

SEED_BASE = 7_000_000
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "shred_synth_accuracy.json"
TABLE_KEYS = ("neighbour", "direct", "perfect", "neighbour_tie", "direct_tie", "perfect_tie",
              "row_purity", "row_moves", "faces_correct", "flipped_rate", "unplaced")


def _csv(value: str, allowed, what: str) -> list[str]:
    items = list(allowed) if value == "all" else [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise SystemExit(f"unknown {what} {bad or value!r}; choose from {', '.join(allowed)} or all")
    return items


def _restore_fn():
    """The solver entry point: ``restore_pieces`` (in memory) or ``restore_dir`` (via a temp dir)."""
    from kexue_dist.shred import restore as R

    if hasattr(R, "restore_pieces"):
        return "pieces", R.restore_pieces
    if hasattr(R, "restore_dir"):
        return "dir", R.restore_dir
    raise SystemExit("kexue_dist.shred.restore has neither restore_pieces nor restore_dir")


ORACLE = True  # also score the truth under the default solver's cost model (search vs model errors)
KEEP_GRIDS = False  # --keep-grids: store predicted and true grids per page in the JSON (for diagnosis)
SOLVER_OPTS = {"use_ray": False, "progress": False, "workers": 1}  # set from the command line


def _call(fn, first, layout: str, solver: str, rows: int, seed: int):
    params = inspect.signature(fn).parameters
    kwargs = {"layout": layout, "solver": solver, "rows": rows, "seed": seed, **SOLVER_OPTS}
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    out = fn(first, **kwargs)
    if isinstance(out, tuple):
        out = next(x for x in out if isinstance(x, dict))
    if not isinstance(out, dict):
        for attr in ("result", "to_dict", "as_dict"):
            if hasattr(out, attr):
                out = getattr(out, attr)
                out = out() if callable(out) else out
                break
    return out


def restore(pieces: dict, layout: str, solver: str, rows: int, seed: int) -> dict:
    kind, fn = _restore_fn()
    if kind == "pieces":
        return _call(fn, pieces, layout, solver, rows, seed)
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="shred_bench_") as tmp:
        for name, img in pieces.items():
            Image.fromarray(img).save(os.path.join(tmp, f"{name}.png"), compress_level=1)
        return _call(fn, tmp, layout, solver, rows, seed)


def oracle_problem(case, layout: str, rows: int):
    """Diagnostic: the default solver's own cost model for this page (None if its internals moved).

    Uses solver internals (io.detect_layout, restore._oriented_ink, solvers.build_problem/grid_cost);
    any failure just disables the cost columns.
    """
    try:
        import numpy as np

        from kexue_dist.shred import io, restore as R, solvers as S

        lay = io.detect_layout(case.pieces, layout, rows)
        ink, O = R._oriented_ink(case.pieces, lay)
        pb = S.build_problem(ink, lay.rows, lay.cols, O)
        idx = {p: k for k, p in enumerate(lay.pieces)}

        def cost(grid):
            if not grid or any(x is None for row in grid for x in row):
                return None
            if O == 1:
                g = [[idx[x] for x in row] for row in grid]
            else:
                g = [[2 * idx[x[:-1]] + (0 if x[-1] == "a" else 1) for x in row] for row in grid]
            return float(S.grid_cost(pb, np.array(g)))

        return cost
    except Exception:  # noqa: BLE001 - a diagnostic only
        return None


def _turned(grid):
    flip = lambda x: x[:-1] + ("b" if x[-1] == "a" else "a")
    return [[flip(x) for x in reversed(row)] for row in grid]


def run_case(task: tuple) -> list[dict]:
    """Generate one page and restore it with every solver; returns one record per solver."""
    global ORACLE, KEEP_GRIDS
    lang, layout, level, k, seed, solvers, rows, cols, opts = task
    opts = dict(opts)
    ORACLE = opts.pop("oracle", ORACLE)
    KEEP_GRIDS = opts.pop("keep_grids", KEEP_GRIDS)
    SOLVER_OPTS.update(opts)
    case = synth.make_case(lang, layout, seed, level, rows=rows, cols=cols)
    prow = 1 if layout == "strips" else rows
    cost = oracle_problem(case, layout, prow) if ORACLE else None
    truth_cost = None
    if cost is not None:
        try:
            truth_cost = cost(case.truth["grid"])
            if layout == "two-sided":
                truth_cost = min(truth_cost, cost(_turned(case.truth["grid"])))
        except Exception:  # noqa: BLE001
            cost = None
    out = []
    for solver in solvers:
        t0 = time.perf_counter()
        rec = {"lang": lang, "layout": layout, "level": level, "page": k, "seed": seed, "solver": solver}
        try:
            pred = restore(case.pieces, layout, solver, prow, seed)
            rec["wall_s"] = time.perf_counter() - t0
            rec.update(metrics.score(pred, case.truth, case.pieces))
            if cost is not None:
                try:
                    rec["cost_truth"], rec["cost_pred"] = truth_cost, cost(pred["grid"])
                    # > 0: the truth is cheaper under the model, so the search missed it
                    rec["truth_cheaper"] = rec["cost_pred"] is not None and truth_cost < rec["cost_pred"] - 1e-9
                except Exception:  # noqa: BLE001
                    pass
            if KEEP_GRIDS:
                rec["pred"] = {k: pred.get(k) for k in ("grid", "back")}
                rec["truth"] = case.truth
        except Exception as err:  # a failing solver is a result too: count it as a miss
            rec["wall_s"] = time.perf_counter() - t0
            rec["error"] = f"{type(err).__name__}: {err}"[:300]
            rec.update(metrics.score({"layout": layout, "grid": []}, case.truth))
        out.append(rec)
    return out


def summarise(records: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["lang"], r["layout"], r["level"], r["solver"]), []).append(r)
    rows = []
    for (lang, layout, level, solver), recs in groups.items():
        s = metrics.summarize(recs)
        tc = [r["truth_cheaper"] for r in recs if r.get("truth_cheaper") is not None]
        if tc:
            s["truth_cheaper"] = sum(tc) / len(tc)
        s.update({"lang": lang, "layout": layout, "level": level, "solver": solver,
                  "wall_s": sum(r["wall_s"] for r in recs) / len(recs),
                  "errors": sum(1 for r in recs if "error" in r)})
        rows.append(s)
    return rows


def format_table(rows: list[dict]) -> str:
    cols = ["lang", "layout", "level", "solver", "pages", "neighbour", "neighbour_right", "neighbour_down",
            "direct", "perfect",
            "neighbour_tie", "perfect_tie", "row_purity", "faces_correct", "truth_cheaper", "wall_s", "errors"]
    short = {"neighbour": "neigh", "neighbour_right": "n_right", "neighbour_down": "n_down", "neighbour_tie": "neigh_tie", "perfect_tie": "perf_tie",
             "row_purity": "rowpur", "faces_correct": "faces", "truth_cheaper": "t<pred", "perfect": "perfect"}

    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3f}" if v < 100 else f"{v:.0f}"
        return str(v)

    head = [short.get(c, c) for c in cols]
    body = [[fmt(r.get(c)) for c in cols] for r in rows]
    return aligned_table(head, body)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=2, help="pages per (lang, layout, level) (default 2)")
    p.add_argument("--langs", default="zh,en", help="comma list or all (default zh,en)")
    p.add_argument("--layouts", default="strips,grid", help="comma list of strips,grid,two-sided or all")
    p.add_argument("--levels", default="ideal,noise", help=f"comma list of {','.join(synth.LEVELS)} or all")
    p.add_argument("--solvers", default="default,baseline", help="comma list (default default,baseline)")
    p.add_argument("--seed-base", type=int, default=SEED_BASE, help="page k uses seed SEED_BASE+k")
    p.add_argument("--rows", type=int, default=11, help="rows of the grid layouts (default 11)")
    p.add_argument("--cols", type=int, default=19, help="columns (default 19)")
    p.add_argument("--jobs", type=int, default=1, help="pages restored in parallel processes (default 1)")
    p.add_argument("--workers", type=int, default=1, help="solver workers per page (default 1)")
    p.add_argument("--use-ray", action="store_true", help="let the solver use Ray (default: in-process)")
    p.add_argument("--keep-grids", action="store_true", help="store predicted and true grids per page")
    p.add_argument("--no-oracle", action="store_true",
                   help="skip scoring the truth under the default solver's cost model")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="JSON output path")
    a = p.parse_args(argv)
    langs = _csv(a.langs, synth.LANGS, "language")
    layouts = _csv(a.layouts, synth.LAYOUTS, "layout")
    levels = _csv(a.levels, tuple(synth.LEVELS), "level")
    solvers = [s.strip() for s in a.solvers.split(",") if s.strip()]
    if a.pages < 1:
        raise SystemExit("--pages must be >= 1")
    _restore_fn()  # fail early if the solver is missing

    opts = {"use_ray": bool(a.use_ray), "progress": False, "workers": a.workers, "oracle": not a.no_oracle,
            "keep_grids": bool(a.keep_grids)}
    tasks = [(lang, layout, level, k, a.seed_base + k, solvers, a.rows, a.cols, opts)
             for lang in langs for layout in layouts for level in levels for k in range(a.pages)]
    t0 = time.perf_counter()
    records: list[dict] = []

    def report(i, task, recs):
        done = ", ".join(f"{r['solver']} n={r['neighbour']:.2f} {r['wall_s']:.1f}s" for r in recs)
        print(f"[{i}/{len(tasks)}] {task[0]} {task[1]} {task[2]} page {task[3]}: {done}", flush=True)

    if a.jobs > 1:
        with ProcessPoolExecutor(a.jobs) as ex:
            futures = {ex.submit(run_case, t): t for t in tasks}
            for i, fut in enumerate(as_completed(futures), 1):
                records += fut.result()
                report(i, futures[fut], records[-len(solvers):])
    else:
        for i, task in enumerate(tasks, 1):
            records += run_case(task)
            report(i, task, records[-len(solvers):])
    order = {(t[0], t[1], t[2], t[3]): k for k, t in enumerate(tasks)}
    records.sort(key=lambda r: (order[(r["lang"], r["layout"], r["level"], r["page"])], solvers.index(r["solver"])))
    rows = summarise(records)
    table = format_table(rows)
    print(table)
    total = time.perf_counter() - t0
    print(f"total {total:.0f} s for {len(tasks)} pages x {len(solvers)} solvers")
    result = {
        "benchmark": "shred_synth_accuracy",
        "config": {"pages": a.pages, "langs": langs, "layouts": layouts, "levels": levels, "solvers": solvers,
                   "seed_base": a.seed_base, "rows": a.rows, "cols": a.cols, "jobs": a.jobs,
                   "solver_opts": opts,
                   "levels_def": {k: dataclasses.asdict(synth.LEVELS[k]) for k in levels}},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "node": platform.node()},
        "total_wall_s": total,
        "summary": rows,
        "pages": records,
        "table": table,
    }
    out = Path(a.out)
    write_json(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
