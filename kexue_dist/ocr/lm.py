"""A character bigram language model counted from the corpus's "lm" split (never the benchmark text).

Su used add-one smoothing; here the bigram is smoothed towards the unigram (Dirichlet prior, strength
``mu``): P(c | p) = (n(p, c) + mu * P1(c)) / (n(p) + mu), with an add-one unigram P1. Add-one over 3,838
classes gives every unseen pair as much mass as a pair seen a few times; the unigram prior keeps the
frequent characters likely after a rare context. Counts are built once (seconds) and cached as .npz.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kexue_dist.data.cache import cache_dir
from kexue_dist.ocr.charset import char_index, charset

LM_VERSION = 1


@dataclass
class BigramLM:
    keys: np.ndarray  # sorted int64 prev * V + next, one per seen pair
    counts: np.ndarray  # float64 n(prev, next)
    context: np.ndarray  # float64 n(prev, .) per class
    unigram: np.ndarray  # float64 P1(c), add-one
    mu: float = 20.0

    @property
    def vocab(self) -> int:
        return len(self.unigram)

    def log_prob(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """log P(next | prev) for broadcastable class-index arrays; prev = -1 means no context (unigram)."""
        prev, nxt = np.broadcast_arrays(np.asarray(prev, dtype=np.int64), np.asarray(nxt, dtype=np.int64))
        key = np.where(prev >= 0, prev, 0) * self.vocab + nxt
        if len(self.keys):
            pos = np.clip(np.searchsorted(self.keys, key), 0, len(self.keys) - 1)
            pair = np.where(self.keys[pos] == key, self.counts[pos], 0.0)
        else:
            pair = np.zeros(key.shape)
        ctx = self.context[np.where(prev >= 0, prev, 0)]
        bigram = (pair + self.mu * self.unigram[nxt]) / (ctx + self.mu)
        return np.log(np.where(prev >= 0, bigram, self.unigram[nxt]))


def count_bigrams(texts, vocab: int | None = None) -> BigramLM:
    """Counts over texts (each a run of characters; out-of-charset characters break the chain)."""
    index = char_index()
    vocab = vocab or len(charset())
    uni = np.ones(vocab)
    pairs = []
    for text in texts:
        ids = np.array([index.get(c, -1) for c in text], dtype=np.int64)
        np.add.at(uni, ids[ids >= 0], 1)
        ok = (ids[:-1] >= 0) & (ids[1:] >= 0)
        pairs.append(ids[:-1][ok] * vocab + ids[1:][ok])
    keys, counts = np.unique(np.concatenate(pairs) if pairs else np.zeros(0, np.int64), return_counts=True)
    context = np.bincount(keys // vocab, weights=counts, minlength=vocab) if len(keys) else np.zeros(vocab)
    return BigramLM(keys, counts.astype(float), context.astype(float), uni / uni.sum())


def default_lm() -> BigramLM:
    """The bigram LM of the corpus's "lm" split, cached under the kexue_dist cache dir."""
    from kexue_dist.ocr import corpus

    source = corpus.corpus_path()
    tag = hashlib.sha256(f"{LM_VERSION}:{source.stat().st_size}:{len(charset())}:{corpus.PERIOD}".encode()).hexdigest()[:12]
    path = Path(cache_dir()) / "ocr" / f"bigram-{tag}.npz"
    if path.is_file():
        z = np.load(path)
        return BigramLM(z["keys"], z["counts"], z["context"], z["unigram"])
    lm = count_bigrams(corpus.split_paragraphs("lm"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, keys=lm.keys, counts=lm.counts, context=lm.context, unigram=lm.unigram)
    tmp.rename(path)
    return lm
