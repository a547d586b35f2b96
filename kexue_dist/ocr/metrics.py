"""Character error rate for page OCR.

``cer(reference, hypothesis)`` = Levenshtein distance (unit-cost insert, delete, substitute) between the two
texts after :func:`kexue_dist.ocr.charset.normalise_text` on both, divided by ``max(1, len(reference))``
(the normalised reference). ``normalise_text`` drops every whitespace character, newlines included:
systems put spaces and line breaks differently (tesseract spaces out hanzi, RapidOCR may split or merge
lines), and a page's line breaks are layout, not text, so only the characters and their order count.
Full-width and ASCII forms of digits, letters and ``,!?:;()`` also count as one character. CER can exceed
1 when the hypothesis is much longer than the reference.
"""

from __future__ import annotations

import numpy as np

from kexue_dist.ocr.charset import normalise_text


def _codes(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings.

    Row-by-row dynamic programme vectorised with numpy: the insertion chain inside a row is a running
    minimum of ``D[j] - j``, so each row costs a few array operations (two 2,000-character pages: a few
    tenths of a second on one core; pure Python takes seconds).
    Common prefix and suffix are stripped first (identical pages cost nothing)."""
    if a == b:
        return 0
    k = 0
    n = min(len(a), len(b))
    while k < n and a[k] == b[k]:
        k += 1
    a, b = a[k:], b[k:]
    k = 0
    n = min(len(a), len(b))
    while k < n and a[-1 - k] == b[-1 - k]:
        k += 1
    if k:
        a, b = a[:-k], b[:-k]
    if len(a) < len(b):
        a, b = b, a  # rows over the longer string, vectors over the shorter
    if not b:
        return len(a)
    ca, cb = _codes(a), _codes(b)
    m = len(cb)
    j = np.arange(m + 1, dtype=np.int64)
    prev = j.copy()  # D[0][j] = j
    cur = np.empty_like(prev)
    for i in range(1, len(ca) + 1):
        cur[0] = i
        # deletion (from above) and substitution/match (from the diagonal)
        np.minimum(prev[1:] + 1, prev[:-1] + (cb != ca[i - 1]), out=cur[1:])
        # insertion (from the left): D[j] = min_k<=j (T[k] + j - k)
        np.minimum.accumulate(cur - j, out=cur)
        cur += j
        prev, cur = cur, prev
    return int(prev[m])


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance / max(1, len(reference)), both normalised, whitespace ignored."""
    ref, hyp = normalise_text(reference), normalise_text(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))
