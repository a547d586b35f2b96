"""The recogniser's classes: GB2312 level 1 (3755 hanzi), digits, Latin letters, full-width punctuation.

Su's CNN had 3062 classes (3000 frequent hanzi + 62 alphanumerics) and no punctuation; we add the
punctuation printed Chinese uses, so a page's commas and full stops are read, not guessed at.
Text is compared after :func:`normalise_text` (NFKC folds full-width digits/letters to ASCII, and
ASCII punctuation that has a full-width form here maps to it), so "１９９８" and "1998" are one string.
"""

from __future__ import annotations

import string
import unicodedata
from functools import lru_cache


def gb2312_level1() -> list[str]:
    """The 3755 level-1 hanzi in GB2312 order: rows 16-55 (0xB0-0xD7), 94 per row, row 55 has 89."""
    return [bytes([row + 0xA0, col + 0xA0]).decode("gb2312")
            for row in range(16, 56) for col in range(1, 95) if not (row == 55 and col > 89)]


PUNCTUATION = list("，。！？：；、“”‘’（）《》—…·-%.")  # full-width Chinese punctuation + a few ASCII marks
# ASCII marks that mean the same as a full-width one: the page text is written with the full-width form
_TO_FULL = {",": "，", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）"}


@lru_cache(maxsize=1)
def charset() -> tuple[str, ...]:
    """All classes in a fixed order (the order is the model's output layout: never reorder)."""
    chars = gb2312_level1() + list(string.digits) + list(string.ascii_letters) + PUNCTUATION
    assert len(set(chars)) == len(chars)
    return tuple(chars)


@lru_cache(maxsize=1)
def char_index() -> dict[str, int]:
    return {c: i for i, c in enumerate(charset())}


def normalise_text(text: str) -> str:
    """NFKC (full-width digits/letters -> ASCII), ASCII punctuation -> its full-width form, no spaces."""
    out = []
    for ch in text:
        if ch in "，。！？：；（）“”‘’《》、…—":
            out.append(ch)  # NFKC would turn these into ASCII; keep them as printed
            continue
        for c in unicodedata.normalize("NFKC", ch):
            out.append(_TO_FULL.get(c, c))
    return "".join(c for c in out if not c.isspace())


def in_charset(text: str) -> bool:
    index = char_index()
    return all(c in index for c in text)
