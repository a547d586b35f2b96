"""Networks for the GAN workload: Su's MLP WGAN-GP toy, a DCGAN for 28x28, the evaluation classifier.

Su's toy (kexue.fm/archives/4540, shared/docs/gan.md): G 10 -> 32 -> 128 -> 784 (ReLU, sigmoid out),
z ~ U(-1, 1)^10; D 784 -> 128 -> 32 -> 1 (ReLU); every weight U(-0.05, 0.05), biases 0. Su's critic
scores real images LOW; ours scores them high (the loss flips sign, the network is the same).
"""

from __future__ import annotations

import torch
from torch import nn

SIDE = 28
FMNIST_MEAN, FMNIST_STD = 0.286, 0.353  # pixel statistics in [0, 1] (train split)


def _uniform_init(module: nn.Module, bound: float = 0.05) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


class ToyGenerator(nn.Module):
    """Su's MLP generator: z (10) -> 32 -> 128 -> 784, sigmoid: images in [0, 1]."""

    out_scale = "unit"

    def __init__(self, z_dim: int = 10):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, SIDE * SIDE), nn.Sigmoid())
        _uniform_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, SIDE, SIDE)


class ToyCritic(nn.Module):
    """Su's MLP critic: 784 -> 128 -> 32 -> 1 (ReLU); raw score, larger = real in our convention."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(SIDE * SIDE, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 1))
        _uniform_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


def _dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights N(0, 0.02), BN scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z -> 2w x 7 x 7 -> (ConvT 4/2) w x 14 x 14 -> (ConvT 4/2) 1 x 28 x 28, BN + ReLU, tanh: [-1, 1]."""

    out_scale = "tanh"

    def __init__(self, z_dim: int = 64, width: int = 64):
        super().__init__()
        self.z_dim, w = z_dim, width
        self.fc = nn.Sequential(nn.Linear(z_dim, 2 * w * 7 * 7, bias=False), nn.BatchNorm1d(2 * w * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh(),
        )
        self.width = w
        _dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, 2 * self.width, 7, 7))


class DCGANDiscriminator(nn.Module):
    """1 x 28 x 28 -> (Conv 4/2) w x 14 x 14 -> (Conv 4/2) 2w x 7 x 7 -> linear: one raw score.

    LeakyReLU(0.2), no batch norm (the WGAN-GP penalty is per-sample, and batch statistics would let
    the discriminator tell a batch of fakes from a batch of reals)."""

    def __init__(self, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * w * 7 * 7, 1),
        )
        _dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class FMNISTClassifier(nn.Module):
    """The evaluation network: two conv blocks and a ``features``-wide penultimate layer whose
    activations are the feature space of the Frechet distance, KID and precision/recall.

    Input: images in [0, 1] (N, 1, 28, 28); normalised inside."""

    def __init__(self, width: int = 32, features: int = 64, dropout: float = 0.3):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * w * 7 * 7, features), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - FMNIST_MEAN) / FMNIST_STD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_gan(arch: str, z_dim: int, width: int) -> tuple[nn.Module, nn.Module]:
    if arch == "mlp_toy":
        return ToyGenerator(z_dim), ToyCritic()
    if arch == "dcgan":
        return DCGANGenerator(z_dim, width), DCGANDiscriminator(width)
    raise ValueError(f"unknown GAN architecture {arch!r}")


def sample_z(n: int, z_dim: int, dist: str, device, generator: torch.Generator | None = None) -> torch.Tensor:
    if dist == "uniform":  # Su's toy: U(-1, 1)
        return torch.rand(n, z_dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, z_dim, device=device, generator=generator)


def to_unit(x: torch.Tensor, scale: str) -> torch.Tensor:
    """Generator output -> images in [0, 1] (what the classifier and the grids take)."""
    return (x + 1) / 2 if scale == "tanh" else x
