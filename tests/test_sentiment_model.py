"""Sentiment models and task wiring without Ray: the one-hot LSTM is exactly a one-hot LSTM, masking,
losses, presets, and the engine's early-stopping rule."""

import math

import numpy as np
import pytest
import torch

from kexue_dist.engine.config import load_train_config
from kexue_dist.engine.loop import EarlyStopping, build_optimizer
from kexue_dist.errors import UserError
from kexue_dist.sentiment.model import CharCNN, SentimentModelConfig, SuLSTM
from kexue_dist.sentiment.task import SentimentTask


def test_onehot_projection_equals_literal_onehot_lstm():
    """LSTM(one_hot(x)) with input weights W (4H x V) == our Embedding(V, 4H)=W^T + frozen identity."""
    torch.manual_seed(0)
    vocab, hidden = 11, 5
    ours = SuLSTM(vocab, SentimentModelConfig(input="onehot", hidden=hidden, dropout=0.0)).eval()
    literal = torch.nn.LSTM(vocab, hidden, batch_first=True)
    with torch.no_grad():
        literal.weight_ih_l0.copy_(ours.inputs.weight.T)
        literal.weight_hh_l0.copy_(ours.lstm.weight_hh_l0)
        literal.bias_ih_l0.copy_(ours.lstm.bias_ih_l0)
        literal.bias_hh_l0.copy_(ours.lstm.bias_hh_l0)
    ids = torch.randint(0, vocab, (3, 7))
    _, (h, _) = literal(torch.nn.functional.one_hot(ids, vocab).float())
    expected = ours.out(h[-1]).squeeze(-1)
    assert torch.allclose(ours(ids), expected, atol=1e-6)
    # same gradients w.r.t. the one-hot input weights
    ours(ids).sum().backward()
    expected.sum().backward()
    assert torch.allclose(ours.inputs.weight.grad, literal.weight_ih_l0.grad.T, atol=1e-6)
    assert not ours.lstm.weight_ih_l0.requires_grad and ours.lstm.weight_ih_l0.grad is None
    assert ours.lstm.bias_ih_l0[hidden : 2 * hidden].eq(1).all()  # Keras' forget-gate bias


def test_cnn_ignores_pads_and_lstm_reads_them():
    torch.manual_seed(0)
    cnn = CharCNN(20, SentimentModelConfig(arch="cnn", emb=8, filters=4, widths=[2, 3], dropout=0.0)).eval()
    lstm = SuLSTM(20, SentimentModelConfig(emb=8, hidden=4, dropout=0.0)).eval()
    short = torch.tensor([[5, 6, 7, 0, 0]])
    longer = torch.tensor([[5, 6, 7, 0, 0, 0, 0, 0, 0]])
    n = torch.tensor([3])
    assert torch.allclose(cnn(short, n), cnn(longer, n), atol=1e-6)
    assert cnn(torch.tensor([[4]]), torch.tensor([1])).shape == (1,)  # shorter than every kernel
    assert not torch.allclose(lstm(short, n), lstm(longer, n))  # Su: no masking, pads are read


def make_task(*overrides):
    cfg = load_train_config("sentiment_smoke", list(overrides))
    return SentimentTask(cfg, {"vocab": [f"t{i}" for i in range(30)], "unit": "char"}), cfg


@pytest.mark.parametrize("overrides", [[], ["model.input=onehot", "optim.name=rmsprop"], ["model.arch=cnn"]])
def test_task_loss_eval_and_samples(overrides):
    task, cfg = make_task(*overrides)
    torch.manual_seed(0)
    model = task.build_models()["sentiment"]
    engines = {"sentiment": model}
    rng = np.random.default_rng(0)
    ids = np.empty(6, dtype=object)
    ids[:] = [rng.integers(1, 30, size=rng.integers(0, 50)).astype(np.int32) for _ in range(6)]
    batch = task.collate({"ids": ids, "label": np.array([0, 1, 0, 1, 1, 0], dtype=np.int8)}, torch.device("cpu"))
    out = task.loss(engines, batch, 1)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and 0 <= out["accuracy"] <= 1
    build_optimizer([p for p in model.parameters() if p.requires_grad], cfg).step()
    model.eval()
    m = task.eval_metrics({k: float(v) for k, v in task.eval_sums(engines, batch).items()})
    assert set(m) == {"loss", "accuracy"} and math.isfinite(m["loss"])
    rows = task.samples(engines, batch)["samples"]["rows"]
    assert len(rows) == 6 and all(0 <= r[2] <= 1 for r in rows)


def test_presets_and_validation():
    cpu, gpu = load_train_config("sentiment"), load_train_config("sentiment_gpu")
    assert (cpu.model.hidden, cpu.model.emb, cpu.model.dropout) == (128, 256, 0.5)
    assert cpu.engine.batch_size * cpu.scaling.workers == gpu.engine.batch_size * gpu.scaling.workers == 128  # Su's batch
    assert (cpu.model.read, gpu.model.read) == ("last_token", "final")
    assert (cpu.data.max_len, cpu.data.min_count, cpu.engine.early_stop_metric) == (200, 20, "valid/accuracy")
    assert cpu.engine.keep_checkpoints > cpu.engine.early_stop_patience and cpu.engine.checkpoint_every == cpu.engine.eval_every
    assert gpu.scaling.gpu and gpu.engine.steps == 2850 and not gpu.engine.early_stop_metric
    for bad, message in [("model.input=onehot", None), ("data.unit=bytes", "data.unit"), ("data.max_len=0", "data.max_len"),
                         ("engine.early_stop_metric=train/loss", "valid/")]:
        overrides = [bad, "model.arch=cnn"] if message is None else [bad]
        with pytest.raises(UserError, match=message or "onehot is for arch lstm"):
            load_train_config("sentiment", overrides)


def test_early_stopping_rule():
    es = EarlyStopping("valid/accuracy", "max", 2)
    seq = [0.5, 0.6, 0.55, 0.6, 0.61, 0.3, 0.2]
    stops = [es.update({"valid/accuracy": v}, step) for step, v in enumerate(seq, 1)]
    assert stops == [False, False, False, True, False, False, True]
    assert (es.best, es.best_step) == (0.61, 5)
    assert EarlyStopping("valid/accuracy", "max", 2, es.state()).state() == es.state()  # restored on resume
    low = EarlyStopping("valid/loss", "min", 1)
    assert not low.update({"valid/loss": 1.0}, 1) and not low.update({"train/loss": 9.0}, 2)
    assert low.update({"valid/loss": 1.5}, 3) and low.best_step == 1
