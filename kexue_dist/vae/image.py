"""Convolutional VAE on Fashion-MNIST with the same posterior options as the text VAE (issue item 4).

Encoder: two stride-2 convolutions (28 -> 14 -> 7) and a dense layer to ``hidden``; the posterior head
is the text VAE's (vanilla, free bits, the paper's fixed gamma, Su's tau). Decoder: the mirror image
with transposed convolutions, giving per-pixel Bernoulli logits. Grey levels in [0, 1] are the
Bernoulli targets (the usual practice), so "NLL" here is the binary cross-entropy in nats per image:
comparable across variants, not a proper likelihood of grey-level images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from kexue_dist.data.images import ImageDataConfig, fashion_mnist_splits, images_to_tensor
from kexue_dist.errors import UserError
from kexue_dist.report import image_grid
from kexue_dist.vae.model import VAE, PosteriorConfig
from kexue_dist.vae.posterior import build_posterior
from kexue_dist.vae.task import VAETask


@dataclass
class ImageVAEConfig(PosteriorConfig):
    latent: int = 16
    channels: int = 32  # first conv's channels; the second has twice as many
    hidden: int = 256
    kl_warmup_steps: int = 0

    def validate(self, where: str) -> None:
        for name in ("channels", "hidden"):
            if getattr(self, name) < 1:
                raise UserError(f"{where}.{name}: must be >= 1, got {getattr(self, name)}")
        super().validate(where)


class ImageVAE(VAE):
    def __init__(self, cfg: ImageVAEConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * c * 7 * 7, cfg.hidden), nn.ReLU(),
        )
        self.posterior = build_posterior(cfg)
        self.decoder = nn.Sequential(
            nn.Linear(cfg.latent, cfg.hidden), nn.ReLU(),
            nn.Linear(cfg.hidden, 2 * c * 7 * 7), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, 2, 1),
        )
        # He init for the ReLU encoder: PyTorch's default shrinks the signal at every layer, leaving the
        # pre-BN batch variance near BN's eps (1e-5) at the start, where the BN heads' KL floor
        # (which assumes var >> eps) did not hold (measured: KL 0.81 < floor 1.08 with the default).
        for layer in self.encoder:
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def encode_batch(self, batch):
        return self.posterior(self.encoder(batch["image"]))

    def reconstruction_batch(self, batch, z):
        """Bernoulli NLL of the grey levels, summed over the 784 pixels (nats per image)."""
        logits = self.decoder(z).float()
        return F.binary_cross_entropy_with_logits(logits, batch["image"].float(), reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z).float())


class ImageVAETask(VAETask):
    name = "image_vae"
    model_config = ImageVAEConfig
    data_config = ImageDataConfig

    @classmethod
    def prepare_data(cls, cfg):
        splits, directory, manifest = fashion_mnist_splits(cfg.data)
        return splits, {"rows": manifest["rows"], "dataset": str(directory)}

    def build_models(self):
        return {"vae": ImageVAE(self.model_cfg)}

    def collate(self, batch, device):
        return {"image": images_to_tensor(batch["image"], device, scale="unit")}

    def _samples(self, model: ImageVAE, batch):
        """Two grids: inputs above their reconstructions (posterior means), and 64 draws from the prior."""
        x = batch["image"]
        mu, _ = model.encode_batch(batch)
        recon = model.decode_mean(mu)
        pairs = torch.cat([x.float(), recon]).squeeze(1).cpu().numpy()
        generator = torch.Generator(device="cpu").manual_seed(0)  # the same z every eval: comparable grids
        prior = model.decode_mean(torch.randn(64, self.model_cfg.latent, generator=generator).to(x.device))
        return {
            "reconstructions": {"image": image_grid(pairs, cols=len(x), scale=2), "caption": "top: input, bottom: reconstruction"},
            "prior_samples": {"image": image_grid(prior.squeeze(1).cpu().numpy(), cols=8, scale=2), "caption": "x ~ p(x|z), z ~ N(0, I)"},
        }
