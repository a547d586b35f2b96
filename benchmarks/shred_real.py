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
    ap.add_argument("--speedup-attachment", type=int, default=3)
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
                     "baseline_seconds": round(bwall, 2), "baseline_seam_confidence": bres["seam_confidence"],
                     "baseline_pairs_shared_with_default": round(len(ours & base) / max(1, len(ours)), 3)})
    d = os.path.join(args.data, f"attachment{args.speedup_attachment}")
    w1, r1 = run([d, "--workers", "1"], os.path.join(args.out, "w1"))
    w2, r2 = run([d, "--workers", "2"], os.path.join(args.out, "w2"))
    speed = {"attachment": args.speedup_attachment,
             "search_seconds_1_worker": r1["search_seconds"], "search_seconds_2_workers": r2["search_seconds"],
             "search_speedup": round(r1["search_seconds"] / max(1e-9, r2["search_seconds"]), 2),
             "command_seconds_1_worker": round(w1, 2), "command_seconds_2_workers": round(w2, 2),
             "same_answer": r1["grid"] == r2["grid"]}
    total = sum(r["seconds"] for r in rows)
    print(f"{'att':>3} {'layout':>10} {'sec':>7} {'conf':>6} {'base sec':>9} {'base conf':>9} {'shared':>7}")
    for r in rows:
        print(f"{r['attachment']:>3} {r['layout']:>10} {r['seconds']:>7.2f} {r['seam_confidence']:>6.3f} "
              f"{r['baseline_seconds']:>9.2f} {r['baseline_seam_confidence']:>9.3f} "
              f"{r['baseline_pairs_shared_with_default']:>7.3f}")
    print(f"total (five default commands): {total:.1f} s on {os.cpu_count()} cores")
    print(f"search 1 vs 2 workers (attachment {speed['attachment']}): {speed['search_seconds_1_worker']:.2f} s -> "
          f"{speed['search_seconds_2_workers']:.2f} s (x{speed['search_speedup']})")
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "shred_real.json"), "w") as f:
        json.dump({"attachments": rows, "total_seconds": round(total, 2), "speedup": speed,
                   "cores": os.cpu_count(), "outputs": args.out}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
