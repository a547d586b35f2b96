"""What the engine calls for the sentiment classifiers (Su's three LSTMs and the char CNN)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from kexue_dist.data.sentiment import SentimentSpec, build_sentiment_dataset, load_manifest, pad_ids, split_paths
from kexue_dist.engine.task import Task, evaluating, unwrap
from kexue_dist.errors import UserError
from kexue_dist.sentiment.model import SentimentModelConfig, build_model


@dataclass
class SentimentDataConfig:
    unit: Literal["char", "word"] = "char"  # characters, or jieba words
    max_len: int = 200  # tokens kept per review (Su: 200 chars, 100 words)
    min_count: int = 20  # vocabulary: tokens seen at least this often in train (Su: 20 chars, 5 words)
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    split_seed: int = 0  # the split is fixed by this seed, whatever engine.seed is

    def validate(self, where: str) -> None:
        for name in ("max_len", "min_count"):
            if getattr(self, name) < 1:
                raise UserError(f"{where}.{name}: must be > 0, got {getattr(self, name)}")
        for name in ("valid_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 0.5:
                raise UserError(f"{where}.{name}: must be in (0, 0.5), got {getattr(self, name)}")

    def spec(self) -> SentimentSpec:
        return SentimentSpec(self.unit, self.max_len, self.min_count, self.valid_fraction, self.test_fraction, self.split_seed)


def collate_ids(ids, arch: str, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Su's LSTMs read every text padded to the fixed truncation length (pads after the text, no mask);
    the CNN masks pads, so its batch is only as wide as its longest text."""
    width = max_len if arch == "lstm" else max(1, max((len(s) for s in ids), default=1))
    return pad_ids(ids, width)


class SentimentTask(Task):
    name = "sentiment"
    model_config = SentimentModelConfig
    data_config = SentimentDataConfig

    @classmethod
    def prepare_data(cls, cfg):
        directory = build_sentiment_dataset(cfg.data.spec())
        manifest = load_manifest(directory)
        if len(manifest["vocab"]) < 2:
            raise UserError(f"data.min_count: {cfg.data.min_count} leaves an empty vocabulary")
        meta = {"vocab": manifest["vocab"], "rows": manifest["rows"], "dataset": str(directory), "unit": cfg.data.unit}
        return split_paths(directory, manifest), meta

    def build_models(self):
        return {"sentiment": build_model(len(self.data_meta["vocab"]), self.model_cfg)}

    def collate(self, batch, device):
        ids, lengths = collate_ids(batch["ids"], self.model_cfg.arch, self.cfg.data.max_len)
        return {
            "ids": torch.from_numpy(ids).to(device, non_blocking=True),
            "lengths": torch.from_numpy(lengths).to(device),
            "labels": torch.from_numpy(np.asarray(batch["label"], dtype=np.float32)).to(device),
        }

    def loss(self, engines, batch, step):
        logits = engines["sentiment"](batch["ids"], batch["lengths"]).float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch["labels"])
        accuracy = ((logits > 0).float() == batch["labels"]).float().mean()
        return {"loss": loss, "accuracy": accuracy.detach()}

    @torch.no_grad()
    def eval_sums(self, engines, batch):
        logits = engines["sentiment"](batch["ids"], batch["lengths"]).float()
        labels = batch["labels"]
        return {
            "loss": torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="sum"),
            "accuracy": ((logits > 0).float() == labels).float().sum(),
            "count": torch.tensor(float(labels.numel())),
        }

    @torch.no_grad()
    def samples(self, engines, batch):
        with evaluating(unwrap(engines["sentiment"])) as model:
            probs = torch.sigmoid(model(batch["ids"], batch["lengths"]).float())
        vocab, sep = self.data_meta["vocab"], " " if self.data_meta.get("unit") == "word" else ""
        rows = []
        for i in range(len(probs)):
            n = int(batch["lengths"][i])
            rows.append([sep.join(vocab[t] for t in batch["ids"][i, :n].tolist()), int(batch["labels"][i]), round(float(probs[i]), 4)])
        return {"samples": {"columns": ["text (in-vocabulary tokens)", "label", "p(positive)"], "rows": rows}}
