"""`kexue-dist sentiment predict TEXT... | --file PATH` and `kexue-dist sentiment export RUN`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kexue_dist.errors import UserError


def read_lines(path: str) -> list[str]:
    """Non-blank lines of a UTF-8 file (``-`` is stdin); bad input is a UserError naming the problem."""
    if path == "-":
        data = sys.stdin.buffer.read()
        where = "stdin"
    else:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"--file {path}: no such file")
        data = p.read_bytes()
        where = path
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"--file {where}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
                        "convert it, e.g. iconv -f GBK -t UTF-8") from None
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise UserError(f"--file {where}: no non-empty lines to classify")
    return lines


def cmd_predict(args: argparse.Namespace) -> int:
    if args.text and args.file:
        raise UserError("predict: give TEXT or --file, not both")
    if args.file:
        texts = read_lines(args.file)
    elif args.text:
        texts = [t.strip() for t in args.text]
        for i, t in enumerate(texts):
            if not t:
                raise UserError(f"predict: text {i + 1} is empty (nothing to classify)")
    else:
        raise UserError("predict: give a TEXT to classify or --file PATH")
    from kexue_dist.sentiment.predict import load_predictor

    predictor = load_predictor(args.weights)
    for text, (label, prob) in zip(texts, predictor.predict(texts)):
        print(f"{label}\t{prob:.4f}\t{text}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from kexue_dist.sentiment.results import export_run

    path = export_run(Path(args.run), Path(args.out), args.name)
    print(f"[kexue-dist] wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("sentiment", help="Chinese review sentiment (Su's LSTMs): predict with the committed weights")
    s = p.add_subparsers(dest="sentiment_command", required=True, parser_class=p.__class__)
    pr = s.add_parser("predict", help="print label, its probability and the text, one line per text (tab-separated)")
    pr.add_argument("text", nargs="*", help="review text(s) to classify")
    pr.add_argument("--file", help="UTF-8 file, one review per line ('-' = stdin); blank lines are skipped")
    pr.add_argument("--weights", default="char_cnn",
                    help="bundle name in kexue_dist/sentiment/weights/ or a path to NAME.json (default: char_cnn)")
    pr.set_defaults(func=cmd_predict)
    ex = s.add_parser("export", help="turn a finished `kexue-dist train sentiment` run into a predict bundle")
    ex.add_argument("run", help="run directory (uses its best checkpoint under early stopping, else the last)")
    ex.add_argument("--out", required=True, help="folder for NAME.pt + NAME.json")
    ex.add_argument("--name", required=True, help="bundle name")
    ex.set_defaults(func=cmd_export)
