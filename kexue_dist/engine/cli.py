"""`kexue-dist train MODEL ...` and `kexue-dist data build ...`."""

from __future__ import annotations

import argparse

from kexue_dist.errors import UserError


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="task to train (vae, ...)")
    p.add_argument("--config", help="preset name in configs/ or a YAML path (default: the model's preset)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set engine.steps=100 (repeatable)")
    p.add_argument("--workers", type=int, help="Ray Train workers (scaling.workers)")
    p.add_argument("--gpu", action="store_true", default=None, help="one GPU per worker, NCCL, bf16")
    p.add_argument("--out", help="parent directory of the run (run.out_dir)")
    p.add_argument("--name", help="run name (run.name)")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from an engine checkpoint directory")


def config_from_args(args: argparse.Namespace):
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.engine.task import get_task_class

    get_task_class(args.model)  # unknown model -> exit 2 naming the known ones
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers: must be >= 1, got {args.workers}")
    cfg = load_train_config(
        args.config or args.model,
        args.overrides,
        scaling__workers=args.workers,
        scaling__gpu=args.gpu,
        run__out_dir=args.out,
        run__name=args.name,
    )
    if cfg.task != args.model:
        raise UserError(f"--config: preset trains {cfg.task!r}, not {args.model!r}")
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    from kexue_dist.data.text import check_corpus
    from kexue_dist.engine.trainer import fit

    if hasattr(cfg.data, "corpus"):  # text tasks: a missing corpus fails before Ray starts
        check_corpus(cfg.data.corpus)
    res = fit(cfg, resume=args.resume)
    print(f"[kexue-dist] run {res.run_dir} finished in {res.seconds:.1f}s; checkpoint {res.checkpoint}")
    for key in sorted(res.final):
        if key.startswith("valid/"):
            print(f"  {key:24s} {res.final[key]:.4f}")
    return 0


def cmd_data_build(args: argparse.Namespace) -> int:
    from kexue_dist.data.text import TextSpec, build_text_dataset, check_corpus, load_manifest
    from kexue_dist.engine.config import DataConfig
    from kexue_dist.config import from_dict, parse_overrides

    if args.corpus == "fashion_mnist":
        from kexue_dist.data.images import ImageDataConfig, fashion_mnist_dataset

        directory = fashion_mnist_dataset(from_dict(ImageDataConfig, parse_overrides(args.overrides), "data"))
        print(directory)
        print("rows:", ", ".join(f"{k} {v}" for k, v in load_manifest(directory)["rows"].items()))
        return 0
    data = from_dict(DataConfig, {"corpus": args.corpus, **parse_overrides(args.overrides)}, "data")
    check_corpus(data.corpus)
    spec = TextSpec(data.corpus, data.max_len, data.min_len, data.vocab_size, data.valid_fraction, data.test_fraction)
    directory = build_text_dataset(spec)
    manifest = load_manifest(directory)
    print(directory)
    print("rows:", ", ".join(f"{k} {v}" for k, v in manifest["rows"].items()), f"| vocab {len(manifest['vocab'])}")
    return 0


def register(sub) -> None:
    train = sub.add_parser("train", help="train a model through Ray Train + DeepSpeed")
    add_train_arguments(train)
    train.set_defaults(func=cmd_train)

    data = sub.add_parser("data", help="datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=data.__class__)
    build = data_sub.add_parser("build", help="build a dataset into Parquet (cached)")
    build.add_argument("corpus", help="kjv, peoples_daily, fashion_mnist, or a .txt/.parquet path")
    build.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="data field, e.g. --set max_len=40")
    build.set_defaults(func=cmd_data_build)
