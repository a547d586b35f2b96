"""Restore the five CUMCM 2013 B attachments, each as its own CLI command (as a user would).

Reports wall seconds per command, seam confidence, the contest-classic baseline (`--solver baseline`),
and the parallel search with 1 vs 2 Ray workers. Writes benchmarks/results/shred_real.json.
There are no answers for the real data: judge correctness by looking at the restored.png files.

    python benchmarks/shred_real.py [--data /work/shared/data/cumcm2013b] [--out /tmp/shred_real]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd_args, out):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.time()
    p = subprocess.run([sys.executable, "-m", "kexue_dist.cli", "shred", "restore", *cmd_args, "--out", out,
                        "--no-progress"], env=env, capture_output=True, text=True)
    wall = time.time() - t
    if p.returncode:
        raise SystemExit(f"command failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    with open(os.path.join(out, "result.json")) as f:
        res = json.load(f)
    return wall, res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data/cumcm2013b")
    ap.add_argument("--out", default="/tmp/shred_real")
    ap.add_argument("--speedup-attachment", type=int, default=5,
                    help="attachment whose parallel search is timed with 1 and 2 workers (same alternatives)")
    ap.add_argument("--repeats", type=int, default=2, help="repeats of the 1-vs-2-worker timing (median)")
    args = ap.parse_args()
    rows = []
    for k in range(1, 6):
        d = os.path.join(args.data, f"attachment{k}")
        wall, res = run([d], os.path.join(args.out, f"a{k}"))
        bwall, bres = run([d, "--solver", "baseline"], os.path.join(args.out, f"a{k}_baseline"))
        # how far the baseline's table agrees with ours (right-neighbour pairs in common)
        def pairs(g):
            return {(a, b) for r in g for a, b in zip(r[:-1], r[1:])} | \
                   {(g[i][c], g[i + 1][c]) for i in range(len(g) - 1) for c in range(len(g[0]))}
        ours, base = pairs(res["grid"]), pairs(bres["grid"])
        rows.append({"attachment": k, "layout": res["layout"], "seconds": round(wall, 2),
                     "seam_confidence": res["seam_confidence"], "search_seconds": res.get("search_seconds"),
                     "ray_start_seconds": res.get("ray_start_seconds"),
                     "baseline_seconds": round(bwall, 2), "baseline_seam_confidence": bres["seam_confidence"],
                     "baseline_pairs_shared_with_default": round(len(ours & base) / max(1, len(ours)), 3)})
    # 1 vs 2 Ray workers on the same fixed set of alternatives (the candidate list does not depend on
    # the worker count); "parallel" = ship the problem + run the tasks + collect, Ray start-up apart
    d = os.path.join(args.data, f"attachment{args.speedup_attachment}")
    per = {1: [], 2: []}
    same = True
    first = {}
    for rep in range(args.repeats):
        for w in (1, 2):
            wall, r = run([d, "--workers", str(w)], os.path.join(args.out, f"w{w}"))
            per[w].append((r["parallel_seconds"], r["ray_start_seconds"], wall, r["alternatives"]))
            first.setdefault(w, r["grid"])
            same = same and r["grid"] == first[1]

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2]
    p1 = med([x[0] for x in per[1]])
    p2 = med([x[0] for x in per[2]])
    speed = {"attachment": args.speedup_attachment, "alternatives": per[1][0][3], "repeats": args.repeats,
             "parallel_seconds_1_worker": p1, "parallel_seconds_2_workers": p2,
             "parallel_speedup": round(p1 / max(1e-9, p2), 2),
             "ray_start_seconds_1_worker": med([x[1] for x in per[1]]),
             "ray_start_seconds_2_workers": med([x[1] for x in per[2]]),
             "command_seconds_1_worker": round(med([x[2] for x in per[1]]), 2),
             "command_seconds_2_workers": round(med([x[2] for x in per[2]]), 2),
             "same_answer": same}
    total = sum(r["seconds"] for r in rows)
    print(f"{'att':>3} {'layout':>10} {'sec':>7} {'conf':>6} {'base sec':>9} {'base conf':>9} {'shared':>7}")
    for r in rows:
        print(f"{r['attachment']:>3} {r['layout']:>10} {r['seconds']:>7.2f} {r['seam_confidence']:>6.3f} "
              f"{r['baseline_seconds']:>9.2f} {r['baseline_seam_confidence']:>9.3f} "
              f"{r['baseline_pairs_shared_with_default']:>7.3f}")
    print(f"total (five default commands): {total:.1f} s on {os.cpu_count()} cores")
    print(f"parallel search, {speed['alternatives']} alternatives, attachment {speed['attachment']}: "
          f"1 worker {speed['parallel_seconds_1_worker']:.2f} s, 2 workers {speed['parallel_seconds_2_workers']:.2f} s "
          f"(x{speed['parallel_speedup']}); Ray start {speed['ray_start_seconds_1_worker']:.1f} / "
          f"{speed['ray_start_seconds_2_workers']:.1f} s; same answer: {speed['same_answer']}")
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "shred_real.json"), "w") as f:
        json.dump({"attachments": rows, "total_seconds": round(total, 2), "speedup": speed,
                   "cores": os.cpu_count(), "outputs": args.out}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
