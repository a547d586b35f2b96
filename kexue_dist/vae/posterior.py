"""Posterior heads q(z|x) = N(mu, diag exp(logvar)) of the text VAE (science: shared/docs/vae.md).

Every head maps the encoder state h (B, hidden) to (mu, logvar), so the model and the KL code do not
care which one is configured (``model.posterior``):

- ``vanilla``: two linear maps. Collapses unless something stops it (KL warm-up only delays it).
- ``free_bits``: the same head; the *loss* keeps sum_j max(lambda, batch-mean KL_j) (Kingma et al. 2016),
  see :func:`kl_objective`.
- ``bn_fixed_gamma``: the BN-VAE paper (Zhu et al. 2020). mu = gamma * BN(W h) + beta with BN's own
  affine off, gamma a plain Python constant (never a parameter, never trained) and beta trainable;
  logvar is a plain linear map. In train mode E_batch[mu_j^2] = gamma^2 + beta_j^2, so the batch KL
  >= d * gamma^2 / 2.
- ``bn_su_tau``: Su Jianlin's scheme. BN without affine on both branches, scaled per dimension by
  gamma_mu = sqrt(tau + (1 - tau) sigmoid(theta)) and gamma_sigma = sqrt((1 - tau) sigmoid(-theta)),
  recomputed from the trainable theta (init 0) at every call. The sigma branch *is* the standard
  deviation (no activation; it may be negative) and logvar = log(sigma^2 + SIGMA_EPS). In train mode
  E_batch[mu_j^2 + sigma_j^2] = 1 and E_batch[mu_j^2] >= tau, so the batch KL >= d * tau / 2.

The port mistakes the doc lists are avoided by construction: scales are computed in ``forward`` (so
theta trains), BN layers have ``affine=False`` (no trainable weight to break the tie), the sigma
branch scales sigma rather than log-variance, the two branches use their own scales, and the KL is
computed by the model from the (mu, logvar) returned here, i.e. from the normalised statistics.

Heads run in float32 with autocast off: they are tiny, and the floor identities rely on the batch
statistics being exact.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

POSTERIORS = ("vanilla", "free_bits", "bn_fixed_gamma", "bn_su_tau")
BN_EPS = 1e-5
SIGMA_EPS = 1e-6  # guard in log sigma^2 (Su's sigma branch can be ~0 or negative)


class _Head(nn.Module):
    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(h.device.type, enabled=False):
            return self._forward(h.float())

    def _forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class GaussianHead(_Head):
    """``vanilla`` and ``free_bits``: mu and logvar are linear in h."""

    def __init__(self, hidden: int, latent: int):
        super().__init__()
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)

    def _forward(self, h):
        return self.mu(h), self.logvar(h)


class BNFixedGammaHead(_Head):
    """``bn_fixed_gamma``: mu = gamma * BN(W h) + beta, gamma fixed, beta trainable; logvar linear."""

    def __init__(self, hidden: int, latent: int, gamma: float):
        super().__init__()
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.bn = nn.BatchNorm1d(latent, eps=BN_EPS, affine=False)
        self.gamma = float(gamma)  # a constant: not a Parameter, so no optimiser can move it
        self.beta = nn.Parameter(torch.zeros(latent))

    def _forward(self, h):
        return self.gamma * self.bn(self.mu(h)) + self.beta, self.logvar(h)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma} (fixed)"


class BNSuTauHead(_Head):
    """``bn_su_tau``: BN (no affine) on mu and on sigma, scaled by gamma_mu / gamma_sigma from theta."""

    def __init__(self, hidden: int, latent: int, tau: float):
        super().__init__()
        self.mu = nn.Linear(hidden, latent)
        self.sigma = nn.Linear(hidden, latent)
        self.bn_mu = nn.BatchNorm1d(latent, eps=BN_EPS, affine=False)
        self.bn_sigma = nn.BatchNorm1d(latent, eps=BN_EPS, affine=False)
        self.tau = float(tau)
        self.theta = nn.Parameter(torch.zeros(latent))

    def scales(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma_mu, gamma_sigma), recomputed from theta on every call; gamma_mu^2 + gamma_sigma^2 = 1."""
        theta = self.theta.float()
        gamma_mu = torch.sqrt(self.tau + (1 - self.tau) * torch.sigmoid(theta))
        gamma_sigma = torch.sqrt((1 - self.tau) * torch.sigmoid(-theta))
        return gamma_mu, gamma_sigma

    def mu_sigma(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) with sigma the signed standard deviation (for tests and inspection)."""
        with torch.autocast(h.device.type, enabled=False):
            h = h.float()
            gamma_mu, gamma_sigma = self.scales()
            return gamma_mu * self.bn_mu(self.mu(h)), gamma_sigma * self.bn_sigma(self.sigma(h))

    def _forward(self, h):
        mu, sigma = self.mu_sigma(h)
        return mu, torch.log(sigma.square() + SIGMA_EPS)

    def extra_repr(self) -> str:
        return f"tau={self.tau}"


def build_posterior(cfg) -> _Head:
    """The head for a :class:`~kexue_dist.vae.model.TextVAEConfig`."""
    if cfg.posterior in ("vanilla", "free_bits"):
        return GaussianHead(cfg.hidden, cfg.latent)
    if cfg.posterior == "bn_fixed_gamma":
        return BNFixedGammaHead(cfg.hidden, cfg.latent, cfg.gamma)
    if cfg.posterior == "bn_su_tau":
        return BNSuTauHead(cfg.hidden, cfg.latent, cfg.tau)
    raise ValueError(f"unknown posterior {cfg.posterior!r}")


def kl_floor(cfg) -> float:
    """The floor the variant puts under the train-batch mean KL (nats per sentence): d*gamma^2/2 for
    the paper's head (ignoring beta, which only raises it), d*tau/2 for Su's (Jensen gives the tighter
    -d/2 log(1 - tau)), 0 for ``vanilla`` and ``free_bits`` (free bits bounds the loss term, not the KL)."""
    if cfg.posterior == "bn_fixed_gamma":
        return cfg.latent * cfg.gamma**2 / 2
    if cfg.posterior == "bn_su_tau":
        return cfg.latent * cfg.tau / 2
    return 0.0


def kl_objective(kl_dims: torch.Tensor, posterior: str, free_bits: float) -> torch.Tensor:
    """The KL term of the loss from per-example, per-dimension KLs (B, d): the batch-mean KL, or for
    ``free_bits`` sum_j max(lambda, batch-mean KL_j) (dimensions under lambda get no gradient)."""
    per_dim = kl_dims.mean(0)
    if posterior == "free_bits":
        per_dim = per_dim.clamp(min=free_bits)
    return per_dim.sum()


def su_kl_floor_jensen(latent: int, tau: float) -> float:
    """Su's tighter floor -d/2 log(1 - tau) (about 11.1 nats for d = 32, tau = 0.5), for reference."""
    return -latent / 2 * math.log(1 - tau)
