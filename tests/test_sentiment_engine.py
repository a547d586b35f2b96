"""Each sentiment model through the real engine (Ray Train + DeepSpeed) for a few steps, with early
stopping, the best checkpoint, test scoring and a predict bundle exported from the run."""

import json

import pytest

from kexue_dist.engine.config import load_train_config
from kexue_dist.engine.trainer import fit
from kexue_dist.sentiment.predict import load_predictor
from kexue_dist.sentiment.results import VARIANTS, best_checkpoint, export_run, load_run_model, split_accuracy
from kexue_dist.sentiment.task import SentimentTask

SMOKE = {  # the results variants' overrides on the tiny preset (a smaller vocabulary, shorter texts)
    "char_onehot": [],
    "char_embedding": [],
    "word_embedding": ["data.max_len=20"],
    "char_cnn": ["model.filters=8"],
}


def _fit_and_check(name, tmp_path):
    overrides = [o for o in VARIANTS[name][1] if not o.startswith(("data.max_len", "model.emb"))]
    cfg = load_train_config("sentiment_smoke", [*overrides, *SMOKE[name], f"run.out_dir={tmp_path}", f"run.name={name}"])
    res = fit(cfg)
    assert [row["step"] for row in res.history] == [4, 8]
    assert 0 <= res.final["valid/accuracy"] <= 1 and res.final["train/loss"] > 0
    assert res.final["early_stop/best_step"] in (4, 8)
    checkpoint = best_checkpoint(res)
    assert checkpoint.name == f"checkpoint_step_{int(res.final['early_stop/best_step']):08d}"
    _, meta = SentimentTask.prepare_data(cfg)
    model, _ = load_run_model(cfg, meta["vocab"], checkpoint)
    assert 0.2 < split_accuracy(model, cfg, meta["dataset"], "test") < 0.8  # barely trained: near chance
    return res, cfg


def test_char_onehot_fit_export_and_predict(ray_local, tmp_path):
    """The one-hot model (RMSprop, frozen identity input weights) end to end, then its bundle predicts."""
    res, cfg = _fit_and_check("char_onehot", tmp_path)
    bundle = export_run(res.run_dir, tmp_path / "weights", "tiny")
    meta = json.loads(bundle.read_text(encoding="utf-8"))
    assert meta["model"]["input"] == "onehot" and meta["checkpoint"].startswith("checkpoint_step_")
    predictor = load_predictor(str(bundle))
    (label, prob), = predictor.predict(["这家酒店很干净"])
    assert label in ("positive", "negative") and 0.5 <= prob <= 1


@pytest.mark.slow
# char_embedding and word_embedding go through the engine in the demo's quick run (tests/test_demo.py),
# and through the task's loss/eval in test_sentiment_model.py; fitting them here too cost ~45 s of CI.
@pytest.mark.parametrize("name", ["char_cnn"])
def test_other_models_fit(ray_local, tmp_path, name):
    _fit_and_check(name, tmp_path)
