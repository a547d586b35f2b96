"""Text-VAE evaluation metrics (He et al. 2019 protocol; shared/docs/vae.md), as pure functions.

The engine adds each eval batch's *summed* statistics across batches and workers (scalars only), so
every metric here is either a per-sentence quantity that sums exactly (NLL, KL), a vector statistic
flattened into one scalar key per dimension (active units: sum of mu and of mu^2 per dimension, which
gives Var_x(E_q[z|x]) exactly), or an estimate per batch weighted by the batch size (mutual
information: see :func:`mutual_information`).
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension (broadcasting)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def iw_nll(log_px: torch.Tensor, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Importance-weighted NLL per sentence, -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x).

    log_px (k, B) = log p(x|z_i); z (k, B, d); mu, logvar (B, d). An upper bound on -log p(x) that
    tightens as k grows (in expectation); for k = 1 it is the single-sample ELBO estimate
    rec + log q(z|x) - log p(z), whose expectation is rec + KL."""
    log_w = log_px + log_standard_normal(z) - log_normal_diag(z, mu, logvar)
    return -(torch.logsumexp(log_w, 0) - math.log(log_w.size(0)))


def mutual_information(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """I_q(x; z) = E_x E_q[log q(z|x)] - E_q[log q(z)] with q(z) the mixture of the given posteriors
    (He et al. 2019), estimated with the samples z (S, B, d) or (B, d), z[s, i] ~ q(z|x_i).

    Both terms use the same samples: mean_{s,i} [log q(z_si|x_i) - log (1/B) sum_j q(z_si|x_j)]. Its
    expectation is (1/B) sum_i KL(q(.|x_i) || mixture) >= 0 (He et al. use the analytic entropy for the
    first term; same expectation, but here identical posteriors give exactly 0). A single estimate can
    dip slightly below 0, and it is at most log B: with the mixture over one eval batch the estimate
    is capped by log(batch size), a known limitation of the per-batch protocol."""
    if z.dim() == 2:
        z = z.unsqueeze(0)
    # log q(z_si | x_j): (S, B_i, B_j)
    log_q = log_normal_diag(z.unsqueeze(2), mu.unsqueeze(0).unsqueeze(0), logvar.unsqueeze(0).unsqueeze(0))
    own = log_q.diagonal(dim1=1, dim2=2)  # (S, B)
    mixture = torch.logsumexp(log_q, dim=2) - math.log(mu.size(0))
    return (own - mixture).mean()


def active_units(mu_sum: torch.Tensor, mu_sq_sum: torch.Tensor, n: float, threshold: float = 0.01) -> int:
    """Dimensions with Var_x(E_q[z_j|x]) >= threshold, from per-dimension sums of mu and mu^2 over n
    examples (unbiased variance, as He et al.'s code)."""
    mu_sum, mu_sq_sum = torch.as_tensor(mu_sum, dtype=torch.float64), torch.as_tensor(mu_sq_sum, dtype=torch.float64)
    var = (mu_sq_sum - mu_sum.pow(2) / n) / max(n - 1, 1)
    return int((var >= threshold).sum())


def vector_sums(prefix: str, values: torch.Tensor) -> dict[str, torch.Tensor]:
    """(B, d) -> {"prefix.0": sum over B of column 0, ...}: a per-dimension sum as scalar entries the
    engine can add across batches and workers."""
    sums = values.double().sum(0)
    return {f"{prefix}.{j}": sums[j] for j in range(sums.numel())}


def gather_vector(totals: dict, prefix: str) -> torch.Tensor:
    """Inverse of :func:`vector_sums` on the engine's totals."""
    entries = {int(k[len(prefix) + 1 :]): v for k, v in totals.items() if k.startswith(prefix + ".")}
    return torch.tensor([float(entries[j]) for j in range(len(entries))], dtype=torch.float64)


def perplexity(total_nll: float, tokens: float) -> float:
    """exp(total NLL / predicted tokens, EOS included), capped to stay finite early in training."""
    return math.exp(min(50.0, total_nll / max(tokens, 1.0)))
