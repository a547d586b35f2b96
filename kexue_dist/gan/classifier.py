"""The evaluation classifier: trained once through the engine, committed with its hash.

`kexue-dist gan classifier` fits configs/gan_classifier.yaml (Ray Train + DeepSpeed), selects nothing on
the test split (the config is fixed; validation accuracy is what the run logs), then measures test
accuracy once and writes kexue_dist/gan/weights/fmnist_classifier.{pt,json} (sha256, accuracy, config).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from kexue_dist.data.images import ImageDataConfig
from kexue_dist.engine.task import Task, engine_state_dict, unwrap
from kexue_dist.errors import UserError


@dataclass
class ClassifierConfig:
    width: int = 32
    features: int = 64  # the feature space of FD / KID / precision-recall
    dropout: float = 0.3

    def validate(self, where: str) -> None:
        if self.width < 1 or self.features < 2:
            raise UserError(f"{where}: width >= 1 and features >= 2 required")
        if not 0 <= self.dropout < 1:
            raise UserError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")


class ClassifierTask(Task):
    name = "gan_classifier"
    model_config = ClassifierConfig
    data_config = ImageDataConfig

    @classmethod
    def prepare_data(cls, cfg):
        from kexue_dist.data.images import fashion_mnist_splits

        splits, directory, _ = fashion_mnist_splits(cfg.data)
        return splits, {"dataset": str(directory)}

    def build_models(self):
        from kexue_dist.gan.models import FMNISTClassifier

        return {"classifier": FMNISTClassifier(**asdict(self.model_cfg))}

    def collate(self, batch, device):
        from kexue_dist.data.images import images_to_tensor

        x = images_to_tensor(batch["image"], device, scale="unit")
        return {"x": x, "y": torch.as_tensor(batch["label"], device=device)}

    def loss(self, engines, batch, step):
        logits = engines["classifier"](batch["x"])
        loss = F.cross_entropy(logits, batch["y"])
        return {"loss": loss, "accuracy": (logits.argmax(1) == batch["y"]).float().mean()}

    @torch.no_grad()
    def eval_sums(self, engines, batch):
        logits = unwrap(engines["classifier"])(batch["x"])
        return {"loss": F.cross_entropy(logits, batch["y"], reduction="sum"),
                "accuracy": (logits.argmax(1) == batch["y"]).sum().double(), "count": torch.tensor(float(len(logits)))}


@torch.no_grad()
def test_accuracy(model: torch.nn.Module, dataset_dir: Path) -> float:
    from kexue_dist.data.images import load_split

    images, labels = load_split(dataset_dir, "test")
    x = torch.from_numpy(images.copy()).float().div_(255).unsqueeze(1)
    model.eval()
    pred = torch.cat([model(x[i : i + 1000]).argmax(1) for i in range(0, len(x), 1000)]).numpy()
    return float((pred == labels).mean())


def train_classifier(preset: str = "gan_classifier", overrides: list[str] = (), out: Path | None = None) -> dict:
    """Fit through the engine, export the weights + hash + test accuracy. Returns the info dict."""
    from kexue_dist.data.cache import sha256_file
    from kexue_dist.data.images import fashion_mnist_dataset
    from kexue_dist.engine.config import load_train_config
    from kexue_dist.engine.trainer import fit
    from kexue_dist.gan.metrics import CLASSIFIER
    from kexue_dist.gan.models import FMNISTClassifier

    cfg = load_train_config(preset, list(overrides))
    start = time.time()
    res = fit(cfg)
    if not res.checkpoint:
        raise UserError("classifier fit produced no checkpoint")
    model = FMNISTClassifier(**asdict(cfg.model))
    model.load_state_dict(engine_state_dict(res.checkpoint, "classifier"))
    accuracy = test_accuracy(model, fashion_mnist_dataset(cfg.data))
    target = Path(out or CLASSIFIER)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, target)
    info = {
        "sha256": sha256_file(target),
        "test_accuracy": accuracy,
        "valid_accuracy": res.final.get("valid/accuracy"),
        "model": asdict(cfg.model),
        "train": {"preset": preset, "overrides": list(overrides), "steps": cfg.engine.steps, "batch_size": cfg.engine.batch_size,
                  "lr": cfg.optim.lr, "seconds": round(time.time() - start, 1), "run_dir": str(res.run_dir)},
        "bytes": target.stat().st_size,
        "note": "features = the ReLU penultimate layer; FD/KID/PR are comparable only under this sha256",
    }
    target.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    if accuracy < 0.9:
        print(f"[kexue-dist] warning: classifier test accuracy {accuracy:.4f} < 0.90", flush=True)
    return info
