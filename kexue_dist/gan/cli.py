"""`kexue-dist gan ...`: the loss-family registry, the evaluation classifier, the toy, sample grids.

    kexue-dist gan families            # the registry, one name per line
    kexue-dist gan families --long     # with kind, divergence and optimum
    kexue-dist gan classifier          # train + export the evaluation classifier (once)
    kexue-dist gan toy                 # Su's MLP WGAN-GP on Fashion-MNIST through the engine
The sweep over families is `kexue-dist sweep gan-loss --families a,b --seeds N --budget smoke|full`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_families(args: argparse.Namespace) -> int:
    from kexue_dist.gan.losses import FAMILIES, FAMILY_NAMES

    for name in FAMILY_NAMES:
        if args.long:
            fam = FAMILIES[name]
            print(f"{name}\t{fam.kind}\t{fam.divergence}\t{'optimum known' if fam.has_optimum else 'no r-optimum'}")
        else:
            print(name)
    return 0


def cmd_classifier(args: argparse.Namespace) -> int:
    from kexue_dist.gan.classifier import train_classifier

    info = train_classifier(args.config, args.overrides, Path(args.out) if args.out else None)
    print(json.dumps(info, indent=1))
    return 0


def cmd_toy(args: argparse.Namespace) -> int:
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.gan.results import run_toy

    cfg = load_train_config(args.config, args.overrides)  # validates before anything starts
    path = run_toy(cfg, Path(args.out))
    print(f"[kexue-dist] wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("gan", help="GAN loss families: registry, evaluation classifier, Su's toy")
    gsub = p.add_subparsers(dest="gan_command", required=True, parser_class=type(p))
    f = gsub.add_parser("families", help="print the loss-family names, one per line")
    f.add_argument("--long", action="store_true", help="with kind, divergence and whether D* is known")
    f.set_defaults(func=cmd_families)
    c = gsub.add_parser("classifier", help="train the evaluation classifier through the engine and export it")
    c.add_argument("--config", default="gan_classifier")
    c.add_argument("--out", default="", help="weights path (default kexue_dist/gan/weights/fmnist_classifier.pt)")
    c.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    c.set_defaults(func=cmd_classifier)
    t = gsub.add_parser("toy", help="Su's MLP WGAN-GP toy through the engine; grid + scores to --out")
    t.add_argument("--config", default="gan_toy")
    t.add_argument("--out", default="results")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    t.set_defaults(func=cmd_toy)
