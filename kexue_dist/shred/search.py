"""Parallel search over real alternatives (row-partition initialisations, start/face hypotheses,
restarts) as Ray tasks, batched so each task does real work; progress on stderr."""

from __future__ import annotations

import sys

import numpy as np

from kexue_dist.shred import solvers


def candidates_for(pb: solvers.Problem, workers: int, solver: str = "default") -> list[dict]:
    if pb.rows == 1 and pb.O == 1:
        k = min(pb.n, max(4, 2 * workers))
        return [{"start": i} for i in range(k)]
    n = max(4, 2 * workers)
    if pb.F is None:  # not printed text: seam-only row partitions
        return [{"init": "seeds"}, {"init": "chains"}] + [{"init": "farthest", "seed": s} for s in range(n - 2)]
    # real alternatives: row partitions grown from the margin pieces (two merge thresholds for rows
    # whose lines coincide) and from farthest-point line templates with different random seeds
    cands = [{"init": "margin"}, {"init": "margin", "merge": 0.8}]
    cands += [{"init": "farthest", "seed": s} for s in range(n - 2)]
    return cands


def _run_batch(pb: solvers.Problem, batch: list[dict]):
    out = []
    for cand in batch:
        g, c = solve_one(pb, cand)
        out.append((c, g, cand))
    return out


def solve_one(pb: solvers.Problem, cand: dict):
    if "start" in cand:
        order = np.argsort(pb.start_pen + 1e-6 * np.arange(len(pb.start_pen)), kind="stable")
        s = int(order[cand["start"]])
        path, c = solvers.held_karp(pb.H, s, pb.end_pen)
        g = np.array([path])
        return g, solvers.grid_cost(pb, g)
    return solvers.solve_candidate(pb, cand)


def run_search(pb: solvers.Problem, cands: list[dict], workers: int | None = None, progress: bool = True,
               use_ray: bool = True, timing: dict | None = None):
    """Solve every candidate, return (best_cost, best_grid, all_results).

    timing (optional dict) receives "ray_start_seconds" (connecting/starting Ray) and
    "parallel_seconds" (shipping the problem, running the tasks, collecting: the part that scales
    with workers)."""
    import time

    from tqdm import tqdm

    timing = {} if timing is None else timing
    t0 = time.time()
    timing["ray_start_seconds"] = 0.0

    results = []
    if not use_ray:
        for cand in tqdm(cands, desc="shred search", file=sys.stderr, disable=not progress):
            results.extend(_run_batch(pb, [cand]))
    else:
        from kexue_dist.cluster import cluster_cpus, ensure_ray

        ray = ensure_ray(num_cpus=workers, include_dashboard=False)  # no Train/Tune here: skip its start-up
        timing["ray_start_seconds"] = round(time.time() - t0, 3)
        t0 = time.time()
        nworkers = workers or cluster_cpus()
        ntasks = max(1, min(len(cands), nworkers))
        batches = [cands[i::ntasks] for i in range(ntasks)]
        remote = ray.remote(num_cpus=1)(_run_batch)
        ref = ray.put(pb)
        pending = [remote.remote(ref, b) for b in batches]
        with tqdm(total=len(cands), desc=f"shred search ({ntasks} tasks)", file=sys.stderr,
                  disable=not progress) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for d in done:
                    part = ray.get(d)
                    results.extend(part)
                    bar.update(len(part))
    timing["parallel_seconds"] = round(time.time() - t0, 3)
    timing["tasks"] = len(cands)
    results.sort(key=lambda t: t[0])
    best = results[0]
    return best[0], best[1], results
