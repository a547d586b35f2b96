"""`kexue-dist`: one command line for every workload.

Each workload registers its own subcommands (``register(subparsers)``); heavy imports (torch, ray)
happen inside the handlers so that `--help` and input validation stay instant. Bad input raises
:class:`kexue_dist.errors.UserError`, which becomes exit code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from kexue_dist.errors import UserError


# Modules with a ``register(subparsers)`` function; each adds its workload's subcommands.
WORKLOAD_CLIS = [
    "kexue_dist.engine.cli",
    "kexue_dist.shred.cli",
    "kexue_dist.tune.cli",
    "kexue_dist.results",
    "kexue_dist.sentiment.cli",
    "kexue_dist.gan.cli",
    "kexue_dist.ocr.cli",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2 (no usage dump)."""

    def error(self, message: str):  # noqa: D401 - argparse hook
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="kexue-dist", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    from kexue_dist import demo

    for module in WORKLOAD_CLIS:
        importlib.import_module(module).register(sub)
    demo_parser = sub.add_parser("demo", help="run every workload briefly on a local Ray and write a report")
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(func=demo.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"kexue-dist: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `kexue-dist ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
