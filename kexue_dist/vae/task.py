"""What the engine calls for the text VAE."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from kexue_dist.data.text import TextSpec, build_text_dataset, load_manifest, split_paths
from kexue_dist.engine.task import Task, evaluating, unwrap
from kexue_dist.vae.metrics import active_units, gather_vector, iw_nll, mutual_information, perplexity, vector_sums
from kexue_dist.vae.model import BOS, EOS, PAD, VAE, TextVAE, TextVAEConfig, gaussian_kl
from kexue_dist.vae.posterior import kl_floor


def pad_batch(ids: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
    """Object array of int arrays -> tokens (B, T), decoder inputs <bos>+x and targets x+<eos>."""
    lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max()) + 1
    tokens = np.full((len(ids), width), PAD, dtype=np.int64)
    for row, seq in enumerate(ids):
        tokens[row, : len(seq)] = seq
    inputs = np.concatenate([np.full((len(ids), 1), BOS), tokens[:, :-1]], axis=1)
    targets = tokens.copy()
    targets[np.arange(len(ids)), lengths] = EOS
    as_tensor = lambda a: torch.from_numpy(a).to(device, non_blocking=True)  # noqa: E731
    return {
        "tokens": as_tensor(tokens[:, :-1]),
        "lengths": torch.from_numpy(lengths),
        "inputs": as_tensor(inputs),
        "targets": as_tensor(targets),
    }


class VAETask(Task):
    """The loss and evaluation every VAE shares; subclasses add data, model, collate and samples."""

    def beta(self, step: int) -> float:
        warm = self.model_cfg.kl_warmup_steps
        return 1.0 if warm == 0 else min(1.0, step / warm)

    def loss(self, engines, batch, step):
        rec, kl_dims = engines["vae"](batch, per_dim=True)
        beta = self.beta(step)
        kl_term = unwrap(engines["vae"]).kl_objective(kl_dims)  # = batch-mean KL except for free bits
        loss = rec.mean() + beta * kl_term
        return {"loss": loss, "rec": rec.mean(), "kl": kl_dims.sum(-1).mean(), "kl_term": kl_term.detach(),
                "beta": torch.tensor(beta)}

    def _autocast(self, device: torch.device):
        """Eval calls the module directly (several decoder passes), so mirror the engine's bf16 autocast."""
        if device.type == "cuda" and self.cfg.engine.precision in ("auto", "bf16"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def eval_sums(self, engines, batch):
        """Per batch: k = model.iw_samples posterior samples per example give the importance-weighted
        NLL; the first one also gives the single-sample ELBO's reconstruction term (the KL is analytic).
        MI is estimated against the mixture of this batch's posteriors (weighted by batch size when
        summed); active units come from per-dimension sums of mu and mu^2 (exact across batches)."""
        model: VAE = unwrap(engines["vae"])
        with self._autocast(next(iter(batch.values())).device):
            mu, logvar, z, log_px = model.iw_terms(batch, self.model_cfg.iw_samples)
        n = mu.size(0)
        return {
            "rec": -log_px[0].sum(),
            "kl": gaussian_kl(mu, logvar).sum(),
            "nll_iw": iw_nll(log_px, z, mu, logvar).sum(),
            "mi": mutual_information(mu, logvar, z) * n,
            "count": torch.tensor(float(n)),
            **vector_sums("mu_sum", mu),
            **vector_sums("mu_sq_sum", mu.pow(2)),
        }

    def eval_metrics(self, totals):
        n = totals["count"]
        return {
            "rec": totals["rec"] / n,
            "kl": totals["kl"] / n,
            "nll_elbo": (totals["rec"] + totals["kl"]) / n,  # an upper bound on NLL
            "nll_iw": totals["nll_iw"] / n,  # tighter bound: importance-weighted with iw_k samples
            "iw_k": float(self.model_cfg.iw_samples),
            "mi": totals["mi"] / n,  # per-batch mixture estimate, at most log(batch size)
            "au": float(active_units(gather_vector(totals, "mu_sum"), gather_vector(totals, "mu_sq_sum"), n)),
            "kl_floor": kl_floor(self.model_cfg),  # what the variant guarantees in train mode
        }

    @torch.no_grad()
    def samples(self, engines, batch):
        with evaluating(unwrap(engines["vae"])) as model:  # BN heads: running statistics, never updated here
            return self._samples(model, batch)

    def _samples(self, model, batch) -> dict:
        raise NotImplementedError


class TextVAETask(VAETask):
    name = "vae"
    model_config = TextVAEConfig

    @classmethod
    def prepare_data(cls, cfg):
        d = cfg.data
        spec = TextSpec(d.corpus, d.max_len, d.min_len, d.vocab_size, d.valid_fraction, d.test_fraction)
        directory = build_text_dataset(spec)
        manifest = load_manifest(directory)
        return split_paths(directory, manifest), {"vocab": manifest["vocab"], "rows": manifest["rows"], "dataset": str(directory)}

    def build_models(self):
        return {"vae": TextVAE(len(self.data_meta["vocab"]), self.model_cfg)}

    def collate(self, batch, device):
        return pad_batch(batch["ids"], device)

    @torch.no_grad()
    def eval_sums(self, engines, batch):
        return {**super().eval_sums(engines, batch), "tokens": (batch["targets"] != PAD).sum()}

    def eval_metrics(self, totals):
        out = super().eval_metrics(totals)
        out["ppl_elbo"] = perplexity(out["nll_elbo"] * totals["count"], totals["tokens"])
        out["ppl_iw"] = perplexity(totals["nll_iw"], totals["tokens"])
        return out

    def _samples(self, model: TextVAE, batch):
        vocab = self.data_meta["vocab"]
        text = lambda ids: " ".join(vocab[i] for i in ids)  # noqa: E731
        mu, _ = model.encode(batch["tokens"], batch["lengths"])
        recon = model.greedy(mu, self.cfg.data.max_len)
        prior = model.greedy(torch.randn_like(mu), self.cfg.data.max_len)
        rows = []
        for i in range(len(recon)):
            length = int(batch["lengths"][i])
            rows.append(["reconstruction", text(batch["tokens"][i, :length].tolist()), text(recon[i])])
        rows += [["prior sample", "", text(p)] for p in prior]
        return {"samples": {"columns": ["kind", "input", "output"], "rows": rows}}
