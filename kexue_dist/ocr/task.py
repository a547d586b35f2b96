"""The OCR task for the engine: glyph classification over the charset, plus the export of trained weights.

`kexue-dist ocr train --config ocr_su` (or ocr_convnet) fits through Ray Train + DeepSpeed, keeps the
best-validation checkpoint, scores it once on the three test splits, and writes
``kexue_dist/ocr/weights/<arch>.pt`` (fp16 state dict) + ``.json`` (sha256, accuracies, config).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kexue_dist.engine.task import Task, engine_state_dict, evaluating, unwrap
from kexue_dist.errors import UserError
from kexue_dist.ocr.charset import charset
from kexue_dist.ocr.dataset import OCRDataConfig
from kexue_dist.ocr.model import WEIGHTS, OCRModelConfig, build_model

TEST_SPLITS = ("test_seen", "test_unseen", "test_unseen_noise")


def glyphs_to_tensor(images, side: int, device: torch.device) -> torch.Tensor:
    """Bytes (or a uint8 array) of ink maps -> float (N, 1, side, side) in [0, 1]."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        images = np.frombuffer(b"".join(images), dtype=np.uint8)
    return torch.from_numpy(images.reshape(-1, 1, side, side).copy()).to(device).float().div_(255.0)


class OCRTask(Task):
    name = "ocr"
    model_config = OCRModelConfig
    data_config = OCRDataConfig

    @classmethod
    def prepare_data(cls, cfg):
        from kexue_dist.ocr.dataset import glyph_splits

        splits, directory, manifest = glyph_splits(cfg.data)
        return {s: splits[s] for s in ("train", "valid")}, {"dataset": str(directory), "rows": manifest["rows"]}

    def build_models(self):
        return {"recogniser": build_model(self.model_cfg, self.cfg.data.side)}

    def collate(self, batch, device):
        return {"x": glyphs_to_tensor(batch["image"], self.cfg.data.side, device),
                "y": torch.as_tensor(batch["label"], device=device).long()}

    def loss(self, engines, batch, step):
        logits = engines["recogniser"](batch["x"])
        loss = F.cross_entropy(logits.float(), batch["y"], label_smoothing=self.model_cfg.label_smoothing)
        return {"loss": loss, "accuracy": (logits.argmax(1) == batch["y"]).float().mean()}

    @torch.no_grad()
    def eval_sums(self, engines, batch):
        logits = unwrap(engines["recogniser"])(batch["x"]).float()
        top5 = logits.topk(5, dim=1).indices
        return {"loss": F.cross_entropy(logits, batch["y"], reduction="sum"),
                "accuracy": (top5[:, 0] == batch["y"]).sum().double(),
                "top5": (top5 == batch["y"][:, None]).any(1).sum().double(),
                "count": torch.tensor(float(len(logits)))}

    @torch.no_grad()
    def samples(self, engines, batch):
        """Validation glyphs as the recogniser sees them (a grid) and what it reads (a table)."""
        from kexue_dist.report import image_grid

        with evaluating(unwrap(engines["recogniser"])) as model:
            probs = torch.softmax(model(batch["x"]).float(), 1)
        p, pred = probs.max(1)
        chars = charset()
        rows = [[chars[t], chars[c], round(float(q), 4)] for t, c, q in zip(batch["y"].tolist(), pred.tolist(), p.tolist())]
        grid = image_grid(batch["x"][:, 0].cpu().numpy(), cols=8, scale=2)
        return {"glyphs": {"image": grid}, "predictions": {"columns": ["truth", "read", "probability"], "rows": rows}}


@torch.no_grad()
def split_accuracy(model: torch.nn.Module, directory: Path, split: str, side: int, batch: int = 1024) -> float:
    from kexue_dist.ocr.dataset import load_split

    images, labels = load_split(directory, split, side)
    model.eval()
    hits = 0
    for i in range(0, len(images), batch):
        hits += int((model(glyphs_to_tensor(images[i : i + batch], side, torch.device("cpu"))).argmax(1).numpy()
                     == labels[i : i + batch]).sum())
    return hits / len(images)


def train_recogniser(preset: str, overrides: list[str] = (), out: Path | None = None) -> dict:
    """Fit through the engine, score the best checkpoint on the test splits, export weights + hash."""
    from kexue_dist.data.cache import sha256_file
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.engine.trainer import fit
    from kexue_dist.ocr.dataset import glyph_dataset

    cfg = load_train_config(preset, list(overrides))
    if cfg.task != "ocr":
        raise UserError(f"--config {preset}: task is {cfg.task!r}, not ocr")
    start = time.time()
    res = fit(cfg)
    if not res.checkpoint:
        raise UserError("OCR fit produced no checkpoint")
    model = build_model(cfg.model, cfg.data.side)
    model.load_state_dict(engine_state_dict(res.checkpoint, "recogniser"))
    directory = glyph_dataset(cfg.data, progress=False)
    scores = {split: split_accuracy(model, directory, split, cfg.data.side) for split in TEST_SPLITS}
    target = Path(out or WEIGHTS / f"{cfg.model.arch}.pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}, target)
    info = {
        "sha256": sha256_file(target), "bytes": target.stat().st_size, "arch": cfg.model.arch,
        "model": asdict(cfg.model), "data": asdict(cfg.data), "classes": len(charset()),
        "test": scores, "valid": {k: res.final.get(f"valid/{k}") for k in ("accuracy", "top5", "loss")},
        "train": {"preset": preset, "overrides": list(overrides), "steps": cfg.engine.steps, "batch_size": cfg.engine.batch_size,
                  "checkpoint": str(res.checkpoint), "seconds": round(time.time() - start, 1), "run_dir": str(res.run_dir)},
        "note": "fp16 state dict; test splits scored once, after training, with the checkpoint the run kept",
    }
    target.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    return info
