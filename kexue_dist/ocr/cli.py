"""`kexue-dist ocr ...`: glyph data, recogniser training, and reading pages.

    kexue-dist ocr data [--config ocr_convnet]        # render the glyph dataset (Ray tasks -> Parquet)
    kexue-dist ocr train --config ocr_su|ocr_convnet  # fit through the engine, export weights + hash
    kexue-dist ocr read IMAGE [--json]                # a page image -> text, with the committed weights
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_data(args: argparse.Namespace) -> int:
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.ocr.dataset import glyph_dataset

    cfg = load_train_config(args.config, args.overrides)
    directory = glyph_dataset(cfg.data)
    print(json.dumps({"dataset": str(directory), "rows": json.loads((directory / "manifest.json").read_text())["rows"]}))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from kexue_dist.ocr.task import train_recogniser

    info = train_recogniser(args.config, args.overrides, Path(args.out) if args.out else None)
    print(json.dumps(info, indent=1))
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    from kexue_dist.ocr.read import Reader, load_image

    image = load_image(args.image)
    result = Reader.load(args.model).read(image)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else result["text"])
    return 0


def register(sub) -> None:
    p = sub.add_parser("ocr", help="printed Chinese OCR: glyph data, recogniser training, page reading")
    osub = p.add_subparsers(dest="ocr_command", required=True, parser_class=type(p))
    d = osub.add_parser("data", help="render the glyph dataset of a config (Ray tasks -> Parquet shards)")
    d.add_argument("--config", default="ocr_convnet")
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    d.set_defaults(func=cmd_data)
    t = osub.add_parser("train", help="fit a recogniser through the engine; export weights, hash and test accuracy")
    t.add_argument("--config", default="ocr_convnet")
    t.add_argument("--out", default="", help="weights path (default kexue_dist/ocr/weights/<arch>.pt)")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    t.set_defaults(func=cmd_train)
    r = osub.add_parser("read", help="read a page image (PNG/JPEG/...) with the committed weights")
    r.add_argument("image")
    r.add_argument("--json", action="store_true", help='print {"text", "lines": [{"box", "text"}]}')
    r.add_argument("--model", default="default", help="weights: default, convnet, su_cnn, or a .pt path")
    r.set_defaults(func=cmd_read)
