"""`kexue-dist sweep NAME`: a Ray Tune sweep defined by configs/sweep_<name>.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kexue_dist.errors import UserError


def cmd_sweep(args: argparse.Namespace) -> int:
    from kexue_dist.report import md_table
    from kexue_dist.tune.sweep import SweepInterrupted, load_sweep, run_sweep

    preset = args.name if args.name.endswith((".yaml", ".yml")) else f"sweep_{args.name.replace('-', '_')}"
    sweep = load_sweep(preset, args.overrides)
    try:
        rows = run_sweep(sweep, Path(args.out), resume=args.resume)
    except SweepInterrupted as err:
        print(f"kexue-dist: sweep interrupted ({err}); continue with: kexue-dist sweep {args.name} --out {args.out} --resume",
              file=sys.stderr)
        return 130
    if not rows:
        raise UserError("the sweep produced no trials")
    header = list(rows[0])
    print(md_table(header, [[r[k] for k in header] for r in rows]))
    print(f"[kexue-dist] wrote {Path(args.out) / (sweep.name + '.json')}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("sweep", help="Ray Tune sweep with ASHA (configs/sweep_<name>.yaml)")
    p.add_argument("name", help="sweep preset, e.g. bn-scale, or a YAML path")
    p.add_argument("--out", default="results", help="where results (<name>.json) and Tune state go")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a sweep field, e.g. --set overrides='[engine.steps=100]'")
    p.set_defaults(func=cmd_sweep)
