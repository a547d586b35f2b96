"""LSTM text VAE (Bowman et al.; the BN-VAE paper's reference setup).

q(z|x) = N(mu(x), diag sigma^2(x)) from an LSTM encoder's last state; the decoder LSTM sees z
concatenated to every input embedding and starts from a linear map of z. The posterior head is its own
module so that the BN variants (shared/docs/vae.md) slot in without touching the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from kexue_dist.errors import UserError

PAD, BOS, EOS = 0, 1, 2


@dataclass
class TextVAEConfig:
    emb: int = 256
    hidden: int = 256
    latent: int = 32
    posterior: Literal["gaussian"] = "gaussian"
    kl_warmup_steps: int = 1000  # beta rises linearly 0 -> 1 (vanilla VAE's usual fix; see vae.md)
    dropout: float = 0.0

    def validate(self, where: str) -> None:
        for name in ("emb", "hidden", "latent"):
            if getattr(self, name) < 1:
                raise UserError(f"{where}.{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"{where}.dropout: must be in [0, 1), got {self.dropout}")
        if self.kl_warmup_steps < 0:
            raise UserError(f"{where}.kl_warmup_steps: must be >= 0, got {self.kl_warmup_steps}")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(0, I)) per example: 1/2 sum_j (mu^2 + sigma^2 - log sigma^2 - 1)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(-1)


class GaussianPosterior(nn.Module):
    """Plain diagonal Gaussian head: returns (mu, logvar)."""

    def __init__(self, hidden: int, latent: int):
        super().__init__()
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu(h), self.logvar(h)


class TextVAE(nn.Module):
    def __init__(self, vocab_size: int, cfg: TextVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(vocab_size, cfg.emb, padding_idx=PAD)
        self.encoder = nn.LSTM(cfg.emb, cfg.hidden, batch_first=True)
        self.posterior = GaussianPosterior(cfg.hidden, cfg.latent)
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

    def forward(self, tokens, lengths, inputs, targets):
        """Per-sentence reconstruction NLL (nats, summed over tokens incl. EOS) and KL."""
        mu, logvar = self.encode(tokens, lengths)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        logits = self.decode_logits(inputs, z)
        nll = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=PAD, reduction="none")
        rec = nll.view_as(targets).sum(1)
        return rec, gaussian_kl(mu.float(), logvar.float())

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
