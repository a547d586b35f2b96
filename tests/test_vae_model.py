"""The VAE maths: closed-form KL, padding, decoding."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kexue_dist.vae.model import EOS, PAD, TextVAE, TextVAEConfig, gaussian_kl
from kexue_dist.vae.task import pad_batch

finite = st.floats(-3, 3, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, (4, 6), elements=finite), arrays(np.float32, (4, 6), elements=finite))
def test_kl_matches_torch_distributions_and_is_nonnegative(mu, logvar):
    mu, logvar = torch.from_numpy(mu), torch.from_numpy(logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    got = gaussian_kl(mu, logvar)
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert (got >= -1e-6).all()
    # the KL floor behind BN-VAE: KL >= 1/2 sum mu^2 (since s - log s - 1 >= 0)
    assert (got + 1e-5 >= 0.5 * mu.pow(2).sum(-1)).all()


@given(st.lists(st.lists(st.integers(4, 50), min_size=1, max_size=9), min_size=1, max_size=6))
def test_pad_batch_shifts_and_terminates(seqs):
    ids = np.empty(len(seqs), dtype=object)
    ids[:] = [np.array(s) for s in seqs]
    b = pad_batch(ids, torch.device("cpu"))
    for i, s in enumerate(seqs):
        n = len(s)
        assert b["tokens"][i, :n].tolist() == s and (b["tokens"][i, n:] == PAD).all()
        assert b["targets"][i, : n + 1].tolist() == s + [EOS]
        assert b["inputs"][i, 1 : n + 1].tolist() == s


def test_forward_and_greedy_shapes():
    torch.manual_seed(0)
    model = TextVAE(30, TextVAEConfig(emb=8, hidden=8, latent=3))
    ids = np.empty(3, dtype=object)
    ids[:] = [np.array([5, 6, 7]), np.array([8]), np.array([9, 10])]
    b = pad_batch(ids, torch.device("cpu"))
    rec, kl = model(b)
    assert rec.shape == kl.shape == (3,) and (rec > 0).all()
    rec.mean().backward()
    assert model.posterior.mu.weight.grad is not None
    out = model.greedy(torch.zeros(2, 3), max_len=5)
    assert len(out) == 2 and all(len(s) <= 6 for s in out)
