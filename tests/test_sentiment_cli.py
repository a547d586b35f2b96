"""`kexue-dist sentiment predict` with the committed weights (no Ray), and its bad-input exit codes."""

import json
import os
import subprocess
import sys

import pytest

from kexue_dist.data.cache import sha256_file
from kexue_dist.sentiment.predict import DEFAULT_WEIGHTS, WEIGHTS_DIR

ENV = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9"}  # reaching Ray would fail loudly: predict must not


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "kexue_dist.cli", "sentiment", *args], capture_output=True,
                          text=True, timeout=120, env=ENV, input=stdin)


def test_committed_bundle_is_small_and_matches_its_sha256():
    meta = json.loads((WEIGHTS_DIR / f"{DEFAULT_WEIGHTS}.json").read_text(encoding="utf-8"))
    weights = WEIGHTS_DIR / meta["weights"]
    assert weights.stat().st_size < 4 * 2**20 and sha256_file(weights) == meta["sha256"]
    assert 0.5 < meta["valid_accuracy"] <= 1 and meta["vocab"][0] == "<pad>"


def test_predict_text_and_file(tmp_path):
    proc = cli("predict", "这家酒店很干净，服务也很好", "房间又脏又吵，再也不来了")
    assert proc.returncode == 0, proc.stderr
    lines = [line.split("\t") for line in proc.stdout.strip().splitlines()]
    assert [(label, text) for label, _, text in lines] == [("positive", "这家酒店很干净，服务也很好"), ("negative", "房间又脏又吵，再也不来了")]
    assert all(0.5 <= float(prob) <= 1 for _, prob, _ in lines)
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\ufeff质量很好，物流也快\n\n  \n屏幕坏了，客服不理人\n", encoding="utf-8")
    proc = cli("predict", "--file", str(reviews))
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[0] for line in proc.stdout.strip().splitlines()] == ["positive", "negative"]
    assert cli("predict", "--file", "-", stdin="很好\n").stdout.startswith("positive\t")


@pytest.mark.parametrize("args, content, message", [
    (["   "], None, "text 1 is empty"),
    ([], None, "give a TEXT"),
    (["--file", "{missing}"], None, "no such file"),
    (["--file", "{path}"], "酒店不错".encode("gbk"), "not UTF-8 text"),
    (["--file", "{path}"], b"\n \n", "no non-empty lines"),
    (["--weights", "nope", "好"], None, "no such bundle"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, content, message):
    path = tmp_path / "in.txt"
    if content is not None:
        path.write_bytes(content)
    args = [a.format(path=path, missing=tmp_path / "missing.txt") for a in args]
    proc = cli("predict", *args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
