"""`kexue-dist sweep NAME`: a Ray Tune sweep defined by configs/sweep_<name>.yaml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kexue_dist.errors import UserError


def cmd_sweep(args: argparse.Namespace) -> int:
    from kexue_dist.report import md_table
    from kexue_dist.tune.sweep import SweepInterrupted, apply_cli_options, load_sweep, run_sweep

    sweep = load_sweep(sweep_preset(args.name, args.budget), args.overrides)
    families = [v.strip() for v in args.families.split(",") if v.strip()]
    values = {"family": families} if families and families != ["all"] else {}
    extra = [f"model.generator={args.generator}"] if args.generator else []
    sweep = apply_cli_options(sweep, args.seeds, values, extra)
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


def sweep_preset(name: str, budget: str | None) -> str:
    """``NAME`` -> configs/sweep_NAME.yaml; with ``--budget B`` (or when only budgeted files exist,
    defaulting to smoke) configs/sweep_NAME_B.yaml."""
    from kexue_dist.config import CONFIG_DIR

    if name.endswith((".yaml", ".yml")):
        if budget:
            raise UserError("--budget: give a sweep name (e.g. gan-loss), not a YAML path")
        return name
    stem = f"sweep_{name.replace('-', '_')}"
    budgets = sorted(p.stem[len(stem) + 1 :] for p in CONFIG_DIR.glob(f"{stem}_*.yaml"))
    if budget is None:
        if (CONFIG_DIR / f"{stem}.yaml").is_file() or not budgets:
            return stem
        budget = "smoke" if "smoke" in budgets else budgets[0]
    if budget not in budgets:
        raise UserError(f"--budget {budget}: no configs/{stem}_{budget}.yaml (budgets for {name}: {', '.join(budgets) or 'none'})")
    return f"{stem}_{budget}"


def register(sub) -> None:
    p = sub.add_parser("sweep", help="Ray Tune sweep with ASHA (configs/sweep_<name>.yaml)")
    p.add_argument("name", help="sweep preset, e.g. bn-scale, or a YAML path")
    p.add_argument("--out", default="results", help="where results (<name>.json) and Tune state go")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a sweep field, e.g. --set overrides='[engine.steps=100]'")
    p.add_argument("--budget", default=None, help="size preset: configs/sweep_<name>_<budget>.yaml (gan-loss: smoke, full)")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 per setting")
    p.add_argument("--families", default="", help="gan-loss: comma-separated loss families (see `kexue-dist gan families`)")
    p.add_argument("--generator", default="", help="gan-loss: generator loss, saddle | non-saturating | logit")
    p.set_defaults(func=cmd_sweep)
