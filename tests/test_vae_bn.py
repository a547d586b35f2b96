"""BN-VAE posterior heads and the VAE metrics: properties from shared/docs/vae.md (fast, CPU)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kexue_dist.config import from_dict
from kexue_dist.errors import UserError
from kexue_dist.vae.metrics import (
    active_units,
    gather_vector,
    iw_nll,
    log_normal_diag,
    log_standard_normal,
    mutual_information,
    vector_sums,
)
from kexue_dist.vae.model import TextVAE, TextVAEConfig, gaussian_kl, gaussian_kl_dims
from kexue_dist.vae.posterior import (
    SIGMA_EPS,
    BNFixedGammaHead,
    BNSuTauHead,
    kl_floor,
    kl_objective,
    su_kl_floor_jensen,
)
from kexue_dist.vae.task import pad_batch

FAST = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**31 - 1)


def batch_var(x: torch.Tensor) -> torch.Tensor:
    return x.var(0, unbiased=False)


@FAST
@given(seeds, st.integers(4, 32), st.integers(1, 6), st.floats(0.05, 0.95), st.floats(-4, 4))
def test_su_tau_second_moments_and_floor(seed, batch, latent, tau, theta_scale):
    torch.manual_seed(seed)
    head = BNSuTauHead(5, latent, tau).train()
    with torch.no_grad():
        head.theta.copy_(theta_scale * torch.randn(latent))
    h = 3 * torch.randn(batch, 5)
    pre_mu, pre_sigma = head.mu(h), head.sigma(h)
    assume(bool((batch_var(pre_mu) > 1e-2).all() and (batch_var(pre_sigma) > 1e-2).all()))
    mu, sigma = head.mu_sigma(h)
    # E_batch[mu_j^2 + sigma_j^2] = gamma_mu^2 + gamma_sigma^2 = 1 per dimension (up to BN's eps)
    assert torch.allclose((mu.pow(2) + sigma.pow(2)).mean(0), torch.ones(latent), atol=2e-3)
    gamma_mu, gamma_sigma = head.scales()
    assert torch.allclose(gamma_mu.pow(2) + gamma_sigma.pow(2), torch.ones(latent), atol=1e-6)
    assert (gamma_mu.pow(2) >= tau - 1e-6).all()
    assert torch.allclose(mu.mean(0), torch.zeros(latent), atol=1e-4)  # E[mu] = 0 too
    # logvar is log(sigma^2 + eps) of the signed sigma branch
    _, logvar = head(h)
    assert torch.allclose(logvar.exp(), sigma.pow(2) + SIGMA_EPS, rtol=1e-5, atol=1e-7)
    # the batch KL, from the normalised statistics, never goes under the floor d*tau/2 (nor Jensen's)
    kl = gaussian_kl(mu, logvar).mean()
    cfg = TextVAEConfig(latent=latent, posterior="bn_su_tau", tau=tau)
    assert kl >= kl_floor(cfg) * (1 - 2e-3) - 1e-5
    assert kl >= su_kl_floor_jensen(latent, tau + 2e-3) - 1e-4


@FAST
@given(seeds, st.integers(4, 32), st.integers(1, 6), st.floats(0.1, 2.0), st.floats(-2, 2))
def test_fixed_gamma_second_moment_and_floor(seed, batch, latent, gamma, beta_scale):
    torch.manual_seed(seed)
    head = BNFixedGammaHead(5, latent, gamma).train()
    with torch.no_grad():
        head.beta.copy_(beta_scale * torch.randn(latent))
    h = 3 * torch.randn(batch, 5)
    assume(bool((batch_var(head.mu(h)) > 1e-2).all()))
    mu, logvar = head(h)
    # E_batch[mu_j^2] = gamma^2 + beta_j^2 per dimension
    expected = gamma**2 + head.beta.detach().pow(2)
    assert torch.allclose(mu.pow(2).mean(0), expected, rtol=2e-3, atol=1e-5)
    assert torch.allclose(logvar, head.logvar(h))  # log-variance left alone
    kl = gaussian_kl(mu, logvar).mean()
    floor = kl_floor(TextVAEConfig(latent=latent, posterior="bn_fixed_gamma", gamma=gamma))
    assert floor == pytest.approx(latent * gamma**2 / 2)
    assert kl >= floor * (1 - 2e-3) - 1e-5


def tiny_batch(n=6):
    rng = np.random.default_rng(0)
    ids = np.empty(n, dtype=object)
    ids[:] = [rng.integers(4, 30, size=rng.integers(1, 7)) for _ in range(n)]
    return pad_batch(ids, torch.device("cpu"))


def train_steps(model: TextVAE, steps=5, lr=0.05):
    b = tiny_batch()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        rec, kl_dims = model(b, per_dim=True)
        loss = rec.mean() + model.kl_objective(kl_dims)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return b


def test_su_theta_trains_and_bn_has_no_trainable_weight():
    torch.manual_seed(0)
    model = TextVAE(30, TextVAEConfig(emb=8, hidden=8, latent=4, posterior="bn_su_tau", tau=0.5))
    head = model.posterior
    trainable = {n for n, p in head.named_parameters() if p.requires_grad}
    assert trainable == {"mu.weight", "mu.bias", "sigma.weight", "sigma.bias", "theta"}
    assert head.bn_mu.weight is None and head.bn_sigma.weight is None and head.bn_mu.bias is None
    b = tiny_batch()
    rec, kl = model(b)
    (rec + kl).mean().backward()
    assert head.theta.grad is not None and head.theta.grad.abs().sum() > 0
    model.zero_grad()
    before = head.theta.detach().clone()
    train_steps(model)
    assert not torch.equal(head.theta.detach(), before)  # the scales follow theta (not frozen in __init__)
    gamma_mu, gamma_sigma = head.scales()
    expected = torch.sqrt(0.5 + 0.5 * torch.sigmoid(head.theta.detach()))
    assert torch.allclose(gamma_mu.detach(), expected)
    assert torch.allclose((gamma_mu.pow(2) + gamma_sigma.pow(2)).detach(), torch.ones(4))


def test_fixed_gamma_stays_fixed_after_optimiser_steps():
    torch.manual_seed(0)
    model = TextVAE(30, TextVAEConfig(emb=8, hidden=8, latent=4, posterior="bn_fixed_gamma", gamma=0.6))
    head = model.posterior
    assert {n for n, p in head.named_parameters()} == {"mu.weight", "mu.bias", "logvar.weight", "logvar.bias", "beta"}
    assert head.bn.weight is None
    b = train_steps(model, steps=8)
    assert head.gamma == 0.6 and head.beta.detach().abs().sum() > 0  # beta trains, gamma does not
    with torch.no_grad():
        mu, _ = model.encode(b["tokens"], b["lengths"])
    assert torch.allclose(mu.pow(2).mean(0), 0.36 + head.beta.detach().pow(2), rtol=1e-3, atol=1e-4)


@FAST
@given(arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(1, 6)), elements=st.floats(0, 5, width=32)),
       st.floats(0, 3))
def test_free_bits_term(kl_dims, lam):
    kl_dims = torch.from_numpy(kl_dims)
    d = kl_dims.size(1)
    term = kl_objective(kl_dims, "free_bits", lam)
    assert term >= lam * d - 1e-4
    assert term >= kl_dims.sum(1).mean() - 1e-4
    assert torch.isclose(term, torch.maximum(kl_dims.mean(0), torch.tensor(lam)).sum())
    assert torch.isclose(kl_objective(kl_dims, "vanilla", lam), kl_dims.sum(1).mean())


def test_free_bits_gives_no_gradient_below_lambda():
    kl_dims = torch.tensor([[0.1, 2.0], [0.2, 3.0]], requires_grad=True)
    kl_objective(kl_dims, "free_bits", 0.5).backward()
    assert torch.equal(kl_dims.grad, torch.tensor([[0.0, 0.5], [0.0, 0.5]]))


@FAST
@given(seeds, st.integers(2, 6), st.integers(1, 4))
def test_mutual_information_nonnegative_in_expectation(seed, batch, latent):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, latent, generator=g, dtype=torch.float64)
    logvar = torch.randn(batch, latent, generator=g, dtype=torch.float64)
    samples = 2000
    z = mu + torch.randn(samples, batch, latent, generator=g, dtype=torch.float64) * (0.5 * logvar).exp()
    per_draw = torch.stack([mutual_information(mu, logvar, z[s]) for s in range(0, samples, 50)])
    est = mutual_information(mu, logvar, z)
    assert est <= math.log(batch) + 1e-9
    # the estimator's expectation is the mean KL(q_i || mixture) >= 0: allow 4 standard errors
    stderr = per_draw.std() / math.sqrt(samples)
    assert est >= -4 * stderr - 1e-9


def test_mutual_information_identical_and_separated():
    torch.manual_seed(0)
    mu = torch.randn(1, 3).expand(8, 3)
    logvar = torch.randn(1, 3).expand(8, 3)
    z = mu + torch.randn(5, 8, 3) * (0.5 * logvar).exp()
    assert abs(float(mutual_information(mu, logvar, z))) < 1e-5  # identical posteriors carry nothing
    far = torch.arange(8.0).unsqueeze(1) * 100 * torch.ones(8, 3)
    tight = torch.full((8, 3), -4.0)
    z = far + torch.randn(5, 8, 3) * (0.5 * tight).exp()
    assert float(mutual_information(far, tight, z)) == pytest.approx(math.log(8), abs=1e-4)


@FAST
@given(arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 6)), elements=st.floats(-2, 2)),
       st.integers(1, 5))
def test_active_units_from_sums_match_direct(mu, chunks):
    mu = torch.from_numpy(mu)
    mu[:, 0] = 0.7  # one dead dimension
    totals: dict[str, float] = {}
    for part in torch.tensor_split(mu, chunks):
        if len(part):
            for k, v in {**vector_sums("mu_sum", part), **vector_sums("mu_sq_sum", part.pow(2))}.items():
                totals[k] = totals.get(k, 0.0) + float(v)
    n = mu.size(0)
    direct = int((mu.var(0, unbiased=True) >= 0.01).sum())
    got = active_units(gather_vector(totals, "mu_sum"), gather_vector(totals, "mu_sq_sum"), n)
    var = mu.var(0, unbiased=True)
    assume(bool(((var - 0.01).abs() > 1e-9).all()))  # not on the threshold itself
    assert got == direct and got <= mu.size(1) - 1


@FAST
@given(seeds, st.integers(1, 5), st.integers(1, 4), st.sampled_from([2, 4, 8]))
def test_iw_nll_k1_is_elbo_estimate_and_more_samples_tighten(seed, batch, latent, k):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, latent, generator=g, dtype=torch.float64)
    logvar = torch.randn(batch, latent, generator=g, dtype=torch.float64)
    z = mu + torch.randn(k, batch, latent, generator=g, dtype=torch.float64) * (0.5 * logvar).exp()
    log_px = -10 * torch.rand(k, batch, generator=g, dtype=torch.float64) - z.pow(2).sum(-1)  # any function of z
    # k = 1, same noise: rec + log q(z|x) - log p(z)
    single = torch.stack([iw_nll(log_px[i : i + 1], z[i : i + 1], mu, logvar) for i in range(k)])
    elbo_terms = -log_px + log_normal_diag(z, mu, logvar) - log_standard_normal(z)
    assert torch.allclose(single, elbo_terms)
    # with the same samples, the k-sample bound is never looser than the mean of smaller blocks (Jensen)
    full = iw_nll(log_px, z, mu, logvar)
    halves = (iw_nll(log_px[: k // 2], z[: k // 2], mu, logvar) + iw_nll(log_px[k // 2 :], z[k // 2 :], mu, logvar)) / 2
    assert (full <= halves + 1e-9).all() and (halves <= single.mean(0) + 1e-9).all()


def test_iw_nll_k1_expectation_is_rec_plus_kl():
    torch.manual_seed(1)
    mu, logvar = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    n = 100_000
    z = mu + torch.randn(n, 3, 4, dtype=torch.float64) * (0.5 * logvar).exp()
    log_px = torch.full((n, 3), -7.0, dtype=torch.float64)  # a decoder that ignores z
    est = (-log_px + log_normal_diag(z, mu, logvar) - log_standard_normal(z)).mean(0)
    assert torch.allclose(est, 7.0 + gaussian_kl(mu, logvar), atol=0.05)
    # and IW with all n samples is tighter: exactly 7 + 0 here is impossible, but below the ELBO
    assert (iw_nll(log_px, z, mu, logvar) <= 7.0 + gaussian_kl(mu, logvar)).all()


def test_kl_dims_sum_to_kl():
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    assert torch.allclose(gaussian_kl_dims(mu, logvar).sum(-1), gaussian_kl(mu, logvar))


@pytest.mark.parametrize(
    "section, message",
    [
        ({"posterior": "bn_su_tau", "tau": 1.5}, "model.tau: must be in (0, 1)"),
        ({"tau": 0.0}, "model.tau: must be in (0, 1)"),
        ({"tau": 1}, "model.tau: must be in (0, 1)"),
        ({"gamma": 0}, "model.gamma: must be > 0"),
        ({"gamma": -0.6}, "model.gamma: must be > 0"),
        ({"latent": 0}, "model.latent: must be >= 1"),
        ({"free_bits": -0.1}, "model.free_bits: must be >= 0"),
        ({"iw_samples": 0}, "model.iw_samples: must be >= 1"),
        ({"posterior": "gaussian"}, "model.posterior: must be one of vanilla, free_bits, bn_fixed_gamma, bn_su_tau"),
    ],
)
def test_bad_model_config_names_the_field(section, message):
    with pytest.raises(UserError) as err:
        from_dict(TextVAEConfig, section, "model")
    assert message in str(err.value)


@pytest.mark.parametrize("posterior", ["vanilla", "free_bits", "bn_fixed_gamma", "bn_su_tau"])
def test_every_variant_trains_and_evaluates(posterior):
    torch.manual_seed(0)
    model = TextVAE(30, TextVAEConfig(emb=8, hidden=8, latent=3, posterior=posterior))
    b = train_steps(model, steps=2)
    model.eval()
    with torch.no_grad():
        mu, logvar, z, log_px = model.iw_terms(b, k=3)
    assert z.shape == (3, 6, 3) and log_px.shape == (3, 6) and torch.isfinite(iw_nll(log_px, z, mu, logvar)).all()
