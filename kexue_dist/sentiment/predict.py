"""Trained weights -> predictions, with no Ray and no DeepSpeed: what `kexue-dist sentiment predict` runs.

A weights bundle is two files: ``NAME.pt`` (a torch state dict) and ``NAME.json`` (model and data
config, vocabulary, the .pt file's sha256, where it came from and how it scored). ``export_checkpoint``
writes one from an engine checkpoint; the committed bundle in ``kexue_dist/sentiment/weights/`` was
written that way by `kexue-dist results sentiment`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from kexue_dist.config import from_dict
from kexue_dist.data.cache import sha256_file
from kexue_dist.data.sentiment import LABELS, encode, tokenize
from kexue_dist.errors import UserError
from kexue_dist.sentiment.model import SentimentModelConfig, build_model

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = "char_cnn"
MODEL_TAG = "sentiment"  # the task's model name = the DeepSpeed checkpoint tag


def checkpoint_state_dict(checkpoint_dir: str | Path) -> dict[str, torch.Tensor]:
    """The sentiment model's fp32 state dict from an engine (DeepSpeed ZeRO 0-2) checkpoint directory."""
    from kexue_dist.engine.task import engine_state_dict

    return engine_state_dict(checkpoint_dir, MODEL_TAG)


def export_bundle(state: dict, model_cfg, data_cfg, vocab: list[str], out_dir: Path, name: str, info: dict) -> Path:
    """Write NAME.pt + NAME.json into ``out_dir``; returns the .json path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{name}.pt"
    torch.save({k: v.contiguous() for k, v in state.items()}, weights)
    meta = {
        "name": name,
        "weights": weights.name,
        "sha256": sha256_file(weights),
        "model": asdict(model_cfg),
        "data": asdict(data_cfg),
        "vocab": vocab,
        **info,
    }
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


class Predictor:
    """A loaded bundle: ``predict(texts)`` -> P(positive) per text."""

    def __init__(self, meta: dict, state: dict):
        from kexue_dist.sentiment.task import SentimentDataConfig

        self.meta = meta
        self.model_cfg = from_dict(SentimentModelConfig, meta["model"], "model")
        self.data_cfg = from_dict(SentimentDataConfig, meta["data"], "data")
        self.vocab = meta["vocab"]
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self.model = build_model(len(self.vocab), self.model_cfg)
        self.model.load_state_dict(state)
        self.model.eval()

    def encode(self, text: str) -> list[int]:
        return encode(tokenize(text, self.data_cfg.unit), self.index, self.data_cfg.max_len)

    @torch.no_grad()
    def probabilities(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        from kexue_dist.sentiment.task import collate_ids

        out = []
        for start in range(0, len(texts), batch_size):
            ids, lengths = collate_ids([self.encode(t) for t in texts[start : start + batch_size]],
                                       self.model_cfg.arch, self.data_cfg.max_len)
            logits = self.model(torch.from_numpy(ids), torch.from_numpy(lengths))
            out.append(torch.sigmoid(logits.float()).numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability of that label) per text."""
        return [(LABELS[int(p >= 0.5)], float(p if p >= 0.5 else 1 - p)) for p in self.probabilities(texts)]


def resolve_bundle(weights: str) -> Path:
    """A bundle name in the package's weights folder, or a path to a NAME.json."""
    path = Path(weights)
    if path.suffix != ".json":
        path = WEIGHTS_DIR / f"{weights}.json"
    if not path.is_file():
        known = sorted(p.stem for p in WEIGHTS_DIR.glob("*.json"))
        raise UserError(f"--weights {weights}: no such bundle {path} (committed: {', '.join(known) or 'none'})")
    return path


def load_predictor(weights: str = DEFAULT_WEIGHTS) -> Predictor:
    path = resolve_bundle(weights)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise UserError(f"--weights {path}: unreadable bundle ({err})") from None
    pt = path.parent / meta["weights"]
    if not pt.is_file() or sha256_file(pt) != meta["sha256"]:
        raise UserError(f"--weights {path}: {pt.name} is missing or does not match its recorded sha256")
    return Predictor(meta, torch.load(pt, map_location="cpu", weights_only=True))
