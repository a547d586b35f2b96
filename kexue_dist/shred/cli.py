"""`kexue-dist shred ...`: restore shredded pages (and, from the synth module, make test pages)."""

from __future__ import annotations

import os
import sys
import time


def register(sub) -> None:
    shred = sub.add_parser("shred", help="restore shredded pages")
    ssub = shred.add_subparsers(dest="shred_command", required=True, parser_class=type(shred))
    r = ssub.add_parser("restore", help="restore a folder of pieces (BMP/PNG)")
    r.add_argument("dir", help="folder of pieces")
    r.add_argument("--out", required=True, help="output folder (result.json, restored.png, back.png)")
    r.add_argument("--layout", choices=["strips", "grid", "two-sided"], default=None,
                   help="layout (detected if omitted)")
    r.add_argument("--rows", type=int, default=None, help="number of rows (detected if omitted)")
    r.add_argument("--solver", choices=["default", "baseline", "fast"], default="default",
                   help="default: full parallel search; baseline: contest classic L1 + greedy; fast: one candidate")
    r.add_argument("--pin", action="append", default=[],
                   help="fix a piece or seam: NAME@ROW,COL | LEFT>RIGHT | TOP^BOTTOM (repeatable)")
    r.add_argument("--constraints", default=None, help="file with one pin per line")
    r.add_argument("--workers", type=int, default=None, help="Ray workers (default: all cluster CPUs)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=_restore)
    try:
        from kexue_dist.shred import synth  # noqa: F401 - provided by the synth module
    except ImportError:
        return
    s = ssub.add_parser("synth", help="render, cut and shuffle synthetic pages with known answers")
    synth.add_arguments(s)
    s.set_defaults(func=_synth)


def _synth(args):
    from kexue_dist.shred import synth

    return synth.run(args)


def _restore(args):
    t0 = time.time()
    from kexue_dist.errors import UserError
    from kexue_dist.shred import io, restore

    pins = list(args.pin)
    if args.constraints:
        try:
            with open(args.constraints) as f:
                pins += [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
        except OSError as err:
            raise UserError(f"{args.constraints}: cannot read constraints ({err.strerror})") from None
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be at least 1")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"{args.out}: exists and is not a directory")
    pieces, lay = io.load_dir(args.dir, args.layout, args.rows)
    restore.parse_pins(pins, lay, pieces)  # validate before Ray starts
    res = restore.restore_pieces(pieces, args.layout, args.solver, pins, args.workers,
                                 progress=not args.no_progress, lay=lay)
    res["seconds"] = round(time.time() - t0, 3)
    restore.write_outputs(res, pieces, args.out)
    print(restore.format_table(res))
    return 0
