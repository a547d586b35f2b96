"""Glyph recognisers: Su's CNN (his layers, our classes) and a stronger conv net with batch norm."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from kexue_dist.errors import UserError
from kexue_dist.ocr.charset import charset

ARCHS = ("su_cnn", "convnet")
WEIGHTS = Path(__file__).resolve().parent / "weights"  # committed <arch>.pt + .json, written by `ocr train`


@dataclass
class OCRModelConfig:
    arch: str = "convnet"
    width: int = 64  # su_cnn: filters per conv (Su: 64); convnet: channels of the first stage
    hidden: int = 1024  # su_cnn: dense units (Su: 1024); convnet: the embedding before the classifier
    dropout: float = 0.5
    label_smoothing: float = 0.0

    def validate(self, where: str) -> None:
        if self.arch not in ARCHS:
            raise UserError(f"{where}.arch: unknown {self.arch!r} (known: {', '.join(ARCHS)})")
        if self.width < 4 or self.hidden < 16:
            raise UserError(f"{where}: width >= 4 and hidden >= 16 required")
        if not 0 <= self.dropout < 1 or not 0 <= self.label_smoothing < 1:
            raise UserError(f"{where}: dropout and label_smoothing must be in [0, 1)")


class SuCNN(nn.Module):
    """2 x [Conv width@4x4 (valid), ReLU, MaxPool 2, Dropout .25] -> Dense hidden ReLU, Dropout -> classes."""

    def __init__(self, side: int, classes: int, width: int = 64, hidden: int = 1024, dropout: float = 0.5):
        super().__init__()
        block = lambda cin: [nn.Conv2d(cin, width, 4), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25)]
        self.features = nn.Sequential(*block(1), *block(width), nn.Flatten())
        flat = width * (((side - 3) // 2 - 3) // 2) ** 2
        self.head = nn.Sequential(nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvNet(nn.Module):
    """Three stages of 3x3 conv + batch norm (widths w, 2w, 4w), each halving the side, then a dense
    embedding: deeper than Su's net, normalised, and cheaper in parameters (no 5k x 1k dense layer)."""

    def __init__(self, side: int, classes: int, width: int = 64, hidden: int = 512, dropout: float = 0.3):
        super().__init__()

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        w = width
        self.features = nn.Sequential(
            *conv(1, w // 2), nn.MaxPool2d(2),
            *conv(w // 2, w), *conv(w, w), nn.MaxPool2d(2),
            *conv(w, 2 * w), *conv(2 * w, 2 * w), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        flat = 2 * w * (side // 8) ** 2
        self.head = nn.Sequential(nn.Linear(flat, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_model(cfg: OCRModelConfig, side: int) -> nn.Module:
    classes = len(charset())
    if cfg.arch == "su_cnn":
        return SuCNN(side, classes, cfg.width, cfg.hidden, cfg.dropout)
    return ConvNet(side, classes, cfg.width, cfg.hidden, cfg.dropout)
