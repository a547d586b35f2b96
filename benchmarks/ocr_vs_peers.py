"""Page OCR, kexue_dist vs RapidOCR vs Tesseract chi_sim: character error rate and pages/s on the same pages.

Pages: ``--lines`` lines of ``--chars`` characters of running text from the corpus's *test* split
(:func:`kexue_dist.ocr.corpus.page_lines`; never seen by the bigram language model), rendered with the
held-out font family (``fonts.faces(fonts.HELD_OUT)[0]``, WenQuanYi Micro Hei: no training glyph comes
from it) by :func:`kexue_dist.ocr.pages.render_page` at 32, 24, 18 and 14 px, each

* ``clean``: no degradation;
* ``noisy``: Gaussian blur radius ``--blur`` (0.6 px) then ``--noise`` (5%) of the pixels flipped
  (salt-and-pepper). Still legible to a person at 14 px, hard for the peers.

Page ``k`` has the same text (seed ``--seed-base`` + k; the default 9_100_000 is reserved for this
benchmark) in every condition, so rows compare like with like. CER = edit distance / reference length
after ``normalise_text``, whitespace and line breaks ignored (:func:`kexue_dist.ocr.metrics.cer`); the
table shows the mean over pages. pages/s = pages / seconds spent inside the system's read call (model
loading and one untimed warm-up page excluded, reported as ``load_s`` and ``warmup_s``); the JSON also
has ``cpu_s_per_page`` (CPU seconds of this process and its children per page), which a busy machine
distorts less than wall time. Every system gets ``--threads`` threads (torch intra-op
threads for ours, ONNX Runtime intra-op threads for RapidOCR, OMP_THREAD_LIMIT for tesseract).

A peer that is not installed is reported as ``missing`` (with the install hint) instead of failing the
run; kexue_dist itself must load, unless left out with ``--systems``.

Quick run (1 page, 24 and 14 px, 6 lines; used by the tests)::

    .venv/bin/python benchmarks/ocr_vs_peers.py --quick

Full run (24 pages x 3 systems; minutes on 2 cores)::

    .venv/bin/python benchmarks/ocr_vs_peers.py --pages 3
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kexue_dist.report import aligned_table, write_json  # noqa: E402
from kexue_dist.errors import UserError  # noqa: E402
from kexue_dist.ocr import corpus, fonts, metrics, pages, peers  # noqa: E402
from kexue_dist.ocr.charset import normalise_text  # noqa: E402

SEED_BASE = 9_100_000
SIZES = (32, 24, 18, 14)
QUICK_SIZES = (24, 14)
NOISE, BLUR = 0.05, 0.6
DEFAULT_OUT = ROOT / "results" / "ocr_vs_peers.json"
SYSTEMS = ("kexue_dist", "rapidocr", "tesseract chi_sim")
SYSTEM_KEYS = {"kexue_dist": "kexue_dist", "rapidocr": "rapidocr", "tesseract": "tesseract chi_sim",
               "tesseract chi_sim": "tesseract chi_sim"}


def cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its finished children (the tesseract runs)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_system(name: str, threads: int, psm: int):
    """-> callable image -> text. Raises UserError when a peer is not installed."""
    if name == "kexue_dist":
        import torch

        torch.set_num_threads(threads)
        from kexue_dist.ocr.read import Reader  # our own must work: import errors propagate

        reader = Reader.load()
        return lambda img: reader.read(img)["text"]
    if name == "rapidocr":
        return peers.rapidocr_reader(threads=threads)
    if name == "tesseract chi_sim":
        return peers.tesseract_reader(psm=psm, threads=threads)
    raise SystemExit(f"unknown system {name!r}")


def conditions(sizes, noise: float, blur: float) -> list[dict]:
    out = []
    for size in sizes:
        out.append({"name": f"{size}px clean", "size_px": size, "noise": 0.0, "blur": 0.0})
        out.append({"name": f"{size}px noisy", "size_px": size, "noise": noise, "blur": blur})
    return out


def fmt_table(conds: list[dict], systems: list[str], summary: dict) -> str:
    head = ["condition"] + [f"{s} {what}" for s in systems for what in ("CER", "pages/s")]
    body = []
    for c in conds + [{"name": "mean"}]:
        row = [c["name"]]
        for s in systems:
            cell = summary[s].get(c["name"], {})
            if summary[s].get("missing"):
                row += ["missing", "-"]
            elif cell.get("cer") is None:
                row += ["error" if cell.get("errors") else "-", "-"]
            else:
                row += [f"{cell['cer']:.4f}", f"{cell['pages_per_s']:.3f}"]
        body.append(row)
    return aligned_table(head, body)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=None, help="pages per condition (default 3; --quick: 1)")
    p.add_argument("--sizes", default=None, help="font sizes in px (default 32,24,18,14; --quick: 24,14)")
    p.add_argument("--lines", type=int, default=None, help="lines per page (default 20; --quick: 6)")
    p.add_argument("--chars", type=int, default=30, help="characters per line (default 30)")
    p.add_argument("--noise", type=float, default=NOISE, help=f"flipped-pixel fraction of the noisy pages (default {NOISE})")
    p.add_argument("--blur", type=float, default=BLUR, help=f"Gaussian blur radius of the noisy pages, px (default {BLUR})")
    p.add_argument("--systems", default="kexue_dist,rapidocr,tesseract",
                   help="comma list of kexue_dist, rapidocr, tesseract (default all three)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads each system may use (default: all CPUs)")
    p.add_argument("--psm", type=int, default=peers.TESSERACT_PSM,
                   help=f"tesseract page segmentation mode (default {peers.TESSERACT_PSM})")
    p.add_argument("--seed-base", type=int, default=SEED_BASE, help="page k uses seed SEED_BASE+k")
    p.add_argument("--quick", action="store_true",
                   help="tiny run: 1 page, sizes 24 and 14, 6 lines (unless given explicitly)")
    p.add_argument("--keep-text", action="store_true", help="store each page's reference and output in the JSON")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"JSON output (default {DEFAULT_OUT.relative_to(ROOT)})")
    a = p.parse_args(argv)
    defaults = (1, QUICK_SIZES, 6) if a.quick else (3, SIZES, 20)
    a.pages = defaults[0] if a.pages is None else a.pages
    a.sizes = ",".join(map(str, defaults[1])) if a.sizes is None else a.sizes
    a.lines = defaults[2] if a.lines is None else a.lines
    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    if a.pages < 1 or a.lines < 1 or a.chars < 1 or not sizes or a.threads < 1:
        raise SystemExit("--pages, --lines, --chars, --threads must be >= 1 and --sizes non-empty")
    systems = []
    for s in (x.strip() for x in a.systems.split(",") if x.strip()):
        if s not in SYSTEM_KEYS:
            raise SystemExit(f"unknown system {s!r}; choose from kexue_dist, rapidocr, tesseract")
        systems.append(SYSTEM_KEYS[s])
    systems = [s for s in SYSTEMS if s in systems]
    face = fonts.faces(fonts.HELD_OUT)[0]
    conds = conditions(sizes, a.noise, a.blur)

    # one page text per k, shared by all conditions
    texts = [corpus.page_lines("test", a.lines, a.chars, a.seed_base + k) for k in range(a.pages)]

    # an untimed warm-up page per system, from the validation split
    warm, _ = pages.render_page(corpus.page_lines("valid", 2, a.chars, a.seed_base), face, sizes[-1])
    readers, summary, missing = {}, {}, {}
    for s in systems:
        t0 = time.perf_counter()
        try:
            readers[s] = load_system(s, a.threads, a.psm)
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            readers[s](warm)  # first call pays one-off costs (ONNX Runtime arenas, torch kernels): untimed
            summary[s] = {"load_s": load_s, "warmup_s": time.perf_counter() - t0}
            log(f"[ocr_vs_peers] {s}: loaded in {load_s:.1f} s, warm-up page {summary[s]['warmup_s']:.1f} s")
        except UserError as err:
            if s == "kexue_dist":
                raise SystemExit(f"kexue_dist's reader did not load: {err}\n(run the peers alone with --systems rapidocr,tesseract)")
            missing[s] = str(err)
            summary[s] = {"missing": str(err)}
            log(f"[ocr_vs_peers] {s}: missing ({err})")

    records = []
    n_total = len(conds) * a.pages
    i = 0
    t_start = time.perf_counter()
    for c in conds:
        for k, lines in enumerate(texts):
            i += 1
            img, _boxes = pages.render_page(lines, face, c["size_px"], noise=c["noise"], blur=c["blur"],
                                            seed=a.seed_base + k)
            ref = "\n".join(lines)
            done = []
            for s, read in readers.items():
                rec = {"condition": c["name"], "page": k, "seed": a.seed_base + k, "system": s,
                       "chars": len(normalise_text(ref)), "image_hw": list(img.shape)}
                t0, c0 = time.perf_counter(), cpu_seconds()
                try:
                    hyp = read(img)
                    rec["read_s"] = time.perf_counter() - t0
                    rec["cpu_s"] = cpu_seconds() - c0
                    rec["cer"] = metrics.cer(ref, hyp)
                    done.append(f"{s} cer={rec['cer']:.3f} {rec['read_s']:.1f}s")
                    if a.keep_text:
                        rec["reference"], rec["output"] = ref, hyp
                except Exception as err:  # noqa: BLE001 - a crash on one page is a result, reported as such
                    rec["read_s"] = time.perf_counter() - t0
                    rec["error"] = f"{type(err).__name__}: {err}"[:300]
                    done.append(f"{s} ERROR {rec['error'][:80]}")
                records.append(rec)
            log(f"[{i}/{n_total}] {c['name']} page {k}: " + "; ".join(done))

    for s in readers:
        ok_all = []
        for c in conds:
            recs = [r for r in records if r["system"] == s and r["condition"] == c["name"]]
            ok = [r for r in recs if "cer" in r]
            ok_all += ok
            cell = {"pages": len(ok), "errors": len(recs) - len(ok)}
            if ok:
                secs = sum(r["read_s"] for r in ok)
                cell.update(cer=sum(r["cer"] for r in ok) / len(ok), pages_per_s=len(ok) / secs if secs else None,
                            cer_max=max(r["cer"] for r in ok), cpu_s_per_page=sum(r["cpu_s"] for r in ok) / len(ok))
            summary[s][c["name"]] = cell
        if ok_all:
            secs = sum(r["read_s"] for r in ok_all)
            summary[s]["mean"] = {"pages": len(ok_all), "cer": sum(r["cer"] for r in ok_all) / len(ok_all),
                                  "pages_per_s": len(ok_all) / secs if secs else None,
                                  "cpu_s_per_page": sum(r["cpu_s"] for r in ok_all) / len(ok_all)}
    table = fmt_table(conds, systems, summary)
    print(table)
    for s, why in missing.items():
        print(f"{s}: missing -- {why}")
    total = time.perf_counter() - t_start

    result = {
        "benchmark": "ocr_vs_peers",
        "settings": {"pages": a.pages, "sizes": sizes, "lines": a.lines, "chars_per_line": a.chars,
                     "noise": a.noise, "blur": a.blur, "threads": a.threads, "tesseract_psm": a.psm,
                     "seed_base": a.seed_base, "quick": a.quick, "font_family": fonts.HELD_OUT,
                     "font": {"path": face.path, "index": face.index}, "corpus_split": "test",
                     "systems": systems, "conditions": conds,
                     "cer": "edit distance / len(reference), normalise_text on both, whitespace and newlines ignored"},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "python": platform.python_version(), "node": platform.node()},
        "versions": _versions(),
        "total_wall_s": total,
        "summary": summary,
        "pages": records,
        "table": table,
    }
    out = Path(a.out)
    write_json(out, result, ensure_ascii=False)
    log(f"[ocr_vs_peers] wrote {out} ({total:.0f} s)")
    return 0


def _versions() -> dict:
    from importlib import metadata
    import subprocess

    out = {}
    for dist in ("numpy", "pillow", "torch", "rapidocr-onnxruntime", "onnxruntime", "opencv-python"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        out["tesseract"] = subprocess.run(["tesseract", "--version"], capture_output=True, text=True,
                                          timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        out["tesseract"] = None
    return out


if __name__ == "__main__":
    raise SystemExit(main())
