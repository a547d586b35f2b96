"""What the engine calls for the text VAE."""

from __future__ import annotations

import math

import numpy as np
import torch

from kexue_dist.data.text import TextSpec, build_text_dataset, load_manifest, split_paths
from kexue_dist.engine.task import Task
from kexue_dist.vae.model import BOS, EOS, PAD, TextVAE, TextVAEConfig


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


class TextVAETask(Task):
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

    def beta(self, step: int) -> float:
        warm = self.model_cfg.kl_warmup_steps
        return 1.0 if warm == 0 else min(1.0, step / warm)

    def loss(self, engines, batch, step):
        rec, kl = engines["vae"](batch["tokens"], batch["lengths"], batch["inputs"], batch["targets"])
        beta = self.beta(step)
        loss = (rec + beta * kl).mean()
        return {"loss": loss, "rec": rec.mean(), "kl": kl.mean(), "beta": torch.tensor(beta)}

    @torch.no_grad()
    def eval_sums(self, engines, batch):
        rec, kl = engines["vae"](batch["tokens"], batch["lengths"], batch["inputs"], batch["targets"])
        return {
            "rec": rec.sum(),
            "kl": kl.sum(),
            "tokens": (batch["targets"] != PAD).sum(),
            "count": torch.tensor(float(rec.numel())),
        }

    def eval_metrics(self, totals):
        n, tokens = totals["count"], totals["tokens"]
        elbo = (totals["rec"] + totals["kl"]) / n
        return {
            "rec": totals["rec"] / n,
            "kl": totals["kl"] / n,
            "nll_elbo": elbo,  # an upper bound on NLL (importance-weighted NLL arrives with the BN-VAE issue)
            "ppl_elbo": math.exp(min(50.0, elbo * n / tokens)),
        }

    @torch.no_grad()
    def samples(self, engines, batch):
        model: TextVAE = engines["vae"].module
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
