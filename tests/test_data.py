"""Text datasets: Parquet + manifest built atomically, verified, round-trips exactly."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kexue_dist.data.text import (
    SPECIALS,
    UNK,
    TextSpec,
    build_text_dataset,
    build_vocab,
    check_corpus,
    encode,
    load_manifest,
    split_paths,
)
from kexue_dist.errors import UserError


def spec(corpus, **kw):
    return TextSpec(corpus, kw.get("max_len", 32), kw.get("min_len", 1), kw.get("vocab_size", 50), 0.1, 0.1)


def test_kjv_builds_once_with_manifest(tmp_path):
    directory = build_text_dataset(spec("kjv", vocab_size=5000), root=tmp_path)
    manifest = load_manifest(directory)
    assert manifest["source"] == "kjv"
    assert sum(manifest["rows"].values()) > 20000  # ~31k verses, most within 32 tokens
    assert manifest["vocab"][:4] == SPECIALS and len(manifest["vocab"]) == 5004
    first = pq.read_table(split_paths(directory, manifest)["train"]).slice(0, 5).to_pylist()
    assert all(len(r["ids"]) == len(r["text"].split()) for r in first)
    mtime = (directory / "manifest.json").stat().st_mtime_ns
    assert build_text_dataset(spec("kjv", vocab_size=5000), root=tmp_path) == directory
    assert (directory / "manifest.json").stat().st_mtime_ns == mtime  # cached, not rebuilt
    assert not [p for p in (tmp_path / "text").iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_peoples_daily_sentences(tmp_path):
    directory = build_text_dataset(spec("peoples_daily", vocab_size=3000), root=tmp_path)
    manifest = load_manifest(directory)
    assert 25000 < sum(manifest["rows"].values()) < 60000  # ~43k sentences once split
    text = pq.read_table(split_paths(directory, manifest)["valid"]).column("text")[0].as_py()
    assert not any("/" in w for w in text.split())  # POS tags stripped


def test_corrupt_file_is_detected(tmp_path):
    directory = build_text_dataset(spec("kjv"), root=tmp_path)
    with open(directory / "train.parquet", "r+b") as handle:
        handle.seek(100)
        handle.write(b"garbage")
    with pytest.raises(UserError, match="corrupt"):
        load_manifest(directory)


def test_user_corpora_are_checked(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UserError, match="not a readable Parquet"):
        check_corpus(str(bad))
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        check_corpus(str(latin))
    with pytest.raises(UserError, match="neither a built-in"):
        check_corpus(str(tmp_path / "missing.txt"))


sentences = st.lists(
    st.lists(st.text(alphabet="abcdefg中文", min_size=1, max_size=4), min_size=1, max_size=8), min_size=12, max_size=40
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sentences)
def test_user_text_round_trips(tmp_path_factory, sents):
    """txt -> Parquet -> tokens: every sentence comes back, ids decode to the text (or <unk>)."""
    root = tmp_path_factory.mktemp("rt")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(" ".join(s) for s in sents) + "\n", encoding="utf-8")
    directory = build_text_dataset(spec(str(corpus), vocab_size=10), root=root)
    manifest = load_manifest(directory)
    vocab = manifest["vocab"]
    rows = [r for path in split_paths(directory, manifest).values() for r in pq.read_table(path).to_pylist()]
    assert sorted(r["text"] for r in rows) == sorted(" ".join(s) for s in sents)
    for r in rows:
        assert [vocab[i] if i != UNK else None for i in r["ids"]] == [t if t in vocab else None for t in r["text"].split()]


@given(st.lists(st.lists(st.sampled_from(list("abcdef")), max_size=6), max_size=10), st.integers(0, 8))
def test_vocab_is_deterministic_and_encodes_known_tokens(sents, size):
    vocab = build_vocab(sents, size)
    assert vocab == build_vocab(list(reversed(sents)), size)
    index = {t: i for i, t in enumerate(vocab)}
    for s in sents:
        assert all((vocab[i] == t) or i == UNK for i, t in zip(encode(s, index), s))
