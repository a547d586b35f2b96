"""Viterbi over a line's segmentation lattice with a character bigram LM.

Nodes are segment boundaries 0..n; an edge (i, j) is one candidate character made of segments i..j-1,
carrying the recogniser's top-k classes and their log-probabilities. A path spells the line; its score is

    sum over characters of  log P_cnn(c | cell) + lm_weight * log P_lm(c | previous) + char_bonus

Su decoded a fixed segmentation over the top-3 classes with weight 1; choosing the segmentation in the
same search is what lets punctuation and Latin letters (narrow) live beside hanzi (square). char_bonus
offsets the LM's per-character cost, which would otherwise favour fewer, wider (wrong) characters.
Both weights are tuned on validation pages (``benchmarks/ocr_tune.py``), never on the test pages.
"""

from __future__ import annotations

import numpy as np


def viterbi(n: int, edges: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]], lm, lm_weight: float,
            char_bonus: float, prev: int = -1) -> list[tuple[int, int, int]]:
    """Best path through boundaries 0..n: [(i, j, class)] per character. ``edges[(i, j)]`` = (classes, logp).

    ``prev`` is the class before the line (the previous line's last character; -1 = none)."""
    # best[pos]: {class: (score, (from_pos, from_class, i))}; pos 0 starts with the context class
    best: list[dict[int, tuple[float, tuple | None]]] = [dict() for _ in range(n + 1)]
    best[0][prev] = (0.0, None)
    by_start: dict[int, list[tuple[int, int]]] = {}
    for i, j in edges:
        by_start.setdefault(i, []).append((i, j))
    for i in range(n):
        if not best[i]:
            continue
        states = np.array(list(best[i].keys()), dtype=np.int64)
        scores = np.array([v[0] for v in best[i].values()])
        for _, j in by_start.get(i, []):
            classes, logp = edges[(i, j)]
            lm_term = lm.log_prob(states[:, None], classes[None, :]) if lm is not None else 0.0
            total = scores[:, None] + lm_weight * lm_term + logp[None, :] + char_bonus
            arg = np.argmax(total, axis=0)
            for k, c in enumerate(classes.tolist()):
                value = float(total[arg[k], k])
                if c not in best[j] or value > best[j][c][0]:
                    best[j][c] = (value, (i, int(states[arg[k]])))
    if not best[n]:
        return []
    c = max(best[n], key=lambda k: best[n][k][0])
    path, pos = [], n
    while best[pos][c][1] is not None:
        i, p = best[pos][c][1]
        path.append((i, pos, c))
        pos, c = i, p
    return path[::-1]
