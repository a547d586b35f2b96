"""LSTM text VAE (Bowman et al.; the BN-VAE paper's reference setup).

q(z|x) = N(mu(x), diag sigma^2(x)) from an LSTM encoder's last state; the decoder LSTM sees z
concatenated to every input embedding and starts from a linear map of z. The posterior head is its own
module (kexue_dist/vae/posterior.py: vanilla, free bits, the BN-VAE paper's fixed gamma, Su's tau
scheme) and always returns (mu, logvar); the KL is computed here from those normalised statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from kexue_dist.errors import UserError
from kexue_dist.vae.posterior import POSTERIORS, build_posterior, kl_floor, kl_objective

PAD, BOS, EOS = 0, 1, 2


@dataclass
class PosteriorConfig:
    """The latent and posterior options every VAE here shares (text and image)."""

    latent: int = 32
    # vanilla | free_bits | bn_fixed_gamma | bn_su_tau (Su's scheme, the default; see posterior.py)
    posterior: Literal["vanilla", "free_bits", "bn_fixed_gamma", "bn_su_tau"] = "bn_su_tau"
    kl_warmup_steps: int = 1000  # beta rises linearly 0 -> 1 (vanilla VAE's usual fix; see vae.md)
    free_bits: float = 0.5  # free_bits: per-dimension KL target lambda (nats)
    gamma: float = 0.6  # bn_fixed_gamma: the fixed BN scale on mu (KL floor d*gamma^2/2)
    tau: float = 0.5  # bn_su_tau: in (0, 1); gamma_mu^2 >= tau (KL floor d*tau/2)
    iw_samples: int = 10  # k for the importance-weighted NLL on the validation split (He et al.: 500)

    def validate(self, where: str) -> None:
        if self.latent < 1:
            raise UserError(f"{where}.latent: must be >= 1, got {self.latent}")
        if self.kl_warmup_steps < 0:
            raise UserError(f"{where}.kl_warmup_steps: must be >= 0, got {self.kl_warmup_steps}")
        if self.posterior not in POSTERIORS:
            raise UserError(f"{where}.posterior: must be one of {', '.join(POSTERIORS)}; got {self.posterior!r}")
        if not self.free_bits >= 0:
            raise UserError(f"{where}.free_bits: must be >= 0 nats, got {self.free_bits}")
        if not self.gamma > 0:
            raise UserError(f"{where}.gamma: must be > 0, got {self.gamma}")
        if not 0 < self.tau < 1:
            raise UserError(f"{where}.tau: must be in (0, 1), got {self.tau}")
        if self.iw_samples < 1:
            raise UserError(f"{where}.iw_samples: must be >= 1, got {self.iw_samples}")


@dataclass
class TextVAEConfig(PosteriorConfig):
    emb: int = 256
    hidden: int = 256
    dropout: float = 0.0

    def validate(self, where: str) -> None:
        for name in ("emb", "hidden"):
            if getattr(self, name) < 1:
                raise UserError(f"{where}.{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")
        super().validate(where)


def gaussian_kl_dims(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(0, I)) per example and dimension: 1/2 (mu^2 + sigma^2 - log sigma^2 - 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(0, I)) per example: 1/2 sum_j (mu^2 + sigma^2 - log sigma^2 - 1)."""
    return gaussian_kl_dims(mu, logvar).sum(-1)


class VAE(nn.Module):
    """What every VAE here shares. A subclass says how to encode a batch (dict of tensors) into
    (mu, logvar) and how to score it given z; the training loss, KL objective, floor and the
    importance-weighted terms for evaluation are the same for text and images."""

    cfg: PosteriorConfig

    def encode_batch(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def reconstruction_batch(self, batch: dict, z: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per example (nats)."""
        raise NotImplementedError

    @staticmethod
    def sample_z(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp()

    def forward(self, batch: dict, per_dim: bool = False):
        """Per-example reconstruction NLL and KL: (B,), or (B, d) per latent dimension with ``per_dim``
        (what :meth:`kl_objective` wants)."""
        mu, logvar = self.encode_batch(batch)
        rec = self.reconstruction_batch(batch, self.sample_z(mu, logvar))
        kl = gaussian_kl_dims(mu.float(), logvar.float())
        return rec, (kl if per_dim else kl.sum(-1))

    def kl_objective(self, kl_dims: torch.Tensor) -> torch.Tensor:
        """The loss's KL term (batch mean) for the configured posterior; free bits clamps per dimension."""
        return kl_objective(kl_dims, self.cfg.posterior, self.cfg.free_bits)

    @property
    def kl_floor(self) -> float:
        return kl_floor(self.cfg)

    @torch.no_grad()
    def iw_terms(self, batch: dict, k: int):
        """k posterior samples per example for the importance-weighted NLL: returns mu, logvar (B, d),
        z (k, B, d) and log p(x|z) (k, B). One decoder pass per sample keeps memory at a forward's."""
        mu, logvar = self.encode_batch(batch)
        mu, logvar = mu.float(), logvar.float()
        zs, log_px = [], []
        for _ in range(k):
            z = self.sample_z(mu, logvar)
            zs.append(z)
            log_px.append(-self.reconstruction_batch(batch, z).float())
        return mu, logvar, torch.stack(zs), torch.stack(log_px)


class TextVAE(VAE):
    def __init__(self, vocab_size: int, cfg: TextVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(vocab_size, cfg.emb, padding_idx=PAD)
        self.encoder = nn.LSTM(cfg.emb, cfg.hidden, batch_first=True)
        self.posterior = build_posterior(cfg)
        self.z_to_state = nn.Linear(cfg.latent, cfg.hidden)
        self.decoder = nn.LSTM(cfg.emb + cfg.latent, cfg.hidden, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden, vocab_size)

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens: (B, T) without BOS/EOS, right-padded; returns (mu, logvar)."""
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.encoder(packed)
        return self.posterior(h[-1])

    def decode_logits(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits; inputs start with BOS. z joins every step and sets the initial state."""
        emb = self.drop(self.embed(inputs))
        emb = torch.cat([emb, z.unsqueeze(1).expand(-1, emb.size(1), -1)], dim=-1)
        c0 = self.z_to_state(z).unsqueeze(0)
        h, _ = self.decoder(emb, (torch.tanh(c0), c0))
        return self.out(self.drop(h))

    def reconstruction(self, inputs: torch.Tensor, targets: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per sentence (nats, summed over tokens incl. EOS)."""
        logits = self.decode_logits(inputs, z)
        nll = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=PAD, reduction="none")
        return nll.view_as(targets).sum(1)

    def encode_batch(self, batch):
        return self.encode(batch["tokens"], batch["lengths"])

    def reconstruction_batch(self, batch, z):
        return self.reconstruction(batch["inputs"], batch["targets"], z)

    @torch.no_grad()
    def greedy(self, z: torch.Tensor, max_len: int) -> list[list[int]]:
        """Greedy decoding from latent codes (for sample tables)."""
        token = torch.full((z.size(0), 1), BOS, dtype=torch.long, device=z.device)
        c0 = self.z_to_state(z).unsqueeze(0)
        state = (torch.tanh(c0), c0)
        out = []
        for _ in range(max_len + 1):
            emb = torch.cat([self.embed(token), z.unsqueeze(1)], dim=-1)
            h, state = self.decoder(emb, state)
            token = self.out(h).argmax(-1)
            out.append(token)
        seqs = torch.cat(out, 1).tolist()
        return [s[: s.index(EOS)] if EOS in s else s for s in seqs]
