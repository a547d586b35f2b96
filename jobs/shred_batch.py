"""Restore a batch of documents x solver configs on a Ray cluster.

    ray job submit -- python jobs/shred_batch.py --config configs/shred.yaml
    python jobs/shred_batch.py DIR [DIR ...] --solver default --solver baseline --out runs/shred_batch

Each (document, solver) pair is one Ray task (its own parallel search runs inside as nested tasks);
results land in OUT/<document>/<solver>/ (result.json, restored.png, back.png) and OUT/summary.json.
Input is validated before Ray starts; bad input exits 2 with one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kexue_dist.errors import UserError  # noqa: E402


def _load_config(path):
    try:
        import yaml
    except ImportError:  # pragma: no cover
        raise UserError("reading a config needs PyYAML") from None
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f) or {}
    except OSError as err:
        raise UserError(f"{path}: {err.strerror}") from None
    unknown = set(cfg) - {"documents", "solvers", "out"}
    if unknown:
        raise UserError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    return cfg


def _restore_one(doc, solver, out):
    from kexue_dist.shred import io, restore

    pieces, lay = io.load_dir(doc)
    res = restore.restore_pieces(pieces, None, solver, progress=False, lay=lay)
    restore.write_outputs(res, pieces, out)
    return {"document": doc, "solver": solver, "out": out, "layout": res["layout"],
            "seam_confidence": res["seam_confidence"], "seconds": res["seconds"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("documents", nargs="*")
    ap.add_argument("--config")
    ap.add_argument("--solver", action="append", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    try:
        cfg = _load_config(args.config) if args.config else {}
        docs = args.documents or cfg.get("documents", [])
        solvers = args.solver or [s["solver"] if isinstance(s, dict) else s for s in cfg.get("solvers", ["default"])]
        out = args.out or cfg.get("out", "runs/shred_batch")
        if not docs:
            raise UserError("no documents given")
        from kexue_dist.shred import io, restore

        for s in solvers:
            if s not in restore.SOLVERS:
                raise UserError(f"unknown solver {s!r}")
        for d in docs:
            io.load_dir(d)  # validate everything before Ray starts
    except UserError as err:
        print(f"shred_batch: error: {err}", file=sys.stderr)
        return 2
    from kexue_dist.cluster import ensure_ray

    ray = ensure_ray()
    t0 = time.time()
    task = ray.remote(num_cpus=1)(_restore_one)
    refs = [task.remote(d, s, os.path.join(out, os.path.basename(os.path.normpath(d)), s))
            for d in docs for s in solvers]
    rows = ray.get(refs)
    os.makedirs(out, exist_ok=True)
    summary = {"seconds": round(time.time() - t0, 3), "runs": rows}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for r in rows:
        print(f"{os.path.basename(r['document']):>14} {r['solver']:>9} {r['layout']:>10} "
              f"conf={r['seam_confidence']:.3f} {r['seconds']:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
