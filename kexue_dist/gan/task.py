"""What the engine calls for a GAN: two models (G and D), each in its own DeepSpeed engine.

One engine step = ``model.d_steps`` discriminator updates (the step's real batch is split into that
many chunks, so ``engine.batch_size`` = d_steps x the per-update batch) and one generator update.
Evaluation generates ``eval_batches x batch_size`` images from fixed noise and scores them with the
evaluation classifier against the validation split (never the test split): Frechet distance (exact
across workers, from summed feature moments), KID and precision/recall (on each rank's own samples).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from kexue_dist.data.images import ImageDataConfig
from kexue_dist.engine.task import Task, evaluating, unwrap
from kexue_dist.errors import UserError
from kexue_dist.gan.losses import FAMILY_NAMES, GENERATORS, get_family, gradient_penalty

FD_NONFINITE = 1e4  # FD reported when samples are NaN/inf (keeps ASHA's comparisons finite)
COLLAPSE_FACTOR = 2.0  # diverged: FD later rose above this multiple of the run's best FD


@dataclass
class GANConfig:
    arch: Literal["dcgan", "mlp_toy"] = "dcgan"
    family: str = "gan"  # a name from kexue_dist.gan.losses.FAMILY_NAMES
    generator: str = "non-saturating"  # saddle | non-saturating | logit
    z_dim: int = 64
    z_dist: Literal["normal", "uniform"] = "normal"
    width: int = 64  # DCGAN channels (D: w, 2w; G: 2w, w)
    d_steps: int = 1  # discriminator updates per generator update
    gp_weight: float = 10.0  # wgan-gp only
    gp_form: Literal["two-sided", "one-sided"] = "two-sided"  # one-sided (unsquared): Su's toy
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    grid_samples: int = 64  # images in the logged sample grid
    classifier: str = ""  # evaluation classifier weights; default: the committed one
    pr_k: int = 3  # k-th neighbour radius for precision/recall
    kid_subsets: int = 10

    def validate(self, where: str) -> None:
        if self.family not in FAMILY_NAMES:
            raise UserError(f"{where}.family: unknown GAN loss family {self.family!r} (valid: {', '.join(FAMILY_NAMES)})")
        if self.generator not in GENERATORS:
            raise UserError(f"{where}.generator: must be one of {', '.join(GENERATORS)}; got {self.generator!r}")
        for name in ("z_dim", "width", "d_steps", "grid_samples", "pr_k", "kid_subsets"):
            if getattr(self, name) < 1:
                raise UserError(f"{where}.{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("g_lr", "d_lr"):
            if getattr(self, name) <= 0:
                raise UserError(f"{where}.{name}: must be > 0, got {getattr(self, name)}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise UserError(f"{where}.betas: two numbers in [0, 1), got {self.betas}")
        if self.gp_weight < 0:
            raise UserError(f"{where}.gp_weight: must be >= 0, got {self.gp_weight}")


class GANTask(Task):
    name = "gan"
    model_config = GANConfig
    data_config = ImageDataConfig

    def __init__(self, cfg, data_meta):
        super().__init__(cfg, data_meta)
        self.family = get_family(self.model_cfg.family)
        self.scale = "unit" if self.model_cfg.arch == "mlp_toy" else "tanh"
        self._classifier = None
        self._reference = None
        self._fake_feats: list[torch.Tensor] = []
        self._eval_calls = 0
        self._best_fd: float | None = None
        self._nonfinite_seen = False

    # -- driver side ------------------------------------------------------------------------------
    @classmethod
    def prepare_data(cls, cfg):
        from kexue_dist.data.images import fashion_mnist_splits
        from kexue_dist.gan.metrics import CLASSIFIER, classifier_info, reference_stats

        splits, directory, _ = fashion_mnist_splits(cfg.data)
        classifier = cfg.model.classifier or str(CLASSIFIER)
        info = classifier_info(Path(classifier).with_suffix(".json"))
        reference = reference_stats(directory, "valid", classifier)
        return splits, {"dataset": str(directory), "reference": str(reference), "classifier": classifier,
                        "classifier_sha256": info["sha256"], "classifier_test_accuracy": info["test_accuracy"]}

    # -- worker side ------------------------------------------------------------------------------
    def build_models(self):
        from kexue_dist.gan.models import build_gan

        m = self.model_cfg
        generator, discriminator = build_gan(m.arch, m.z_dim, m.width)
        return {"G": generator, "D": discriminator}

    def optim_config(self, model_name):
        m = self.model_cfg
        lr = m.g_lr if model_name == "G" else m.d_lr
        return dataclasses.replace(self.cfg.optim, lr=lr, betas=list(m.betas))

    def collate(self, batch, device):
        from kexue_dist.data.images import images_to_tensor

        return {"real": images_to_tensor(batch["image"], device, scale=self.scale)}

    def _z(self, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        from kexue_dist.gan.models import sample_z

        z = sample_z(n, self.model_cfg.z_dim, self.model_cfg.z_dist, "cpu" if generator is not None else device, generator)
        return z.to(device)

    def _bare(self, engine, device):
        """D's module outside its engine, under the engine's autocast. DeepSpeed hooks every engine
        output and refuses a backward pass through it that is not that engine's own backward(): the
        gradient penalty's autograd.grad and the generator's backward both run through D."""
        module = unwrap(engine)

        def call(x):
            with self._autocast(device):
                return module(x)

        return call

    def train_step(self, engines, batch, step):
        m, fam = self.model_cfg, self.family
        g_engine, d_engine = engines["G"], engines["D"]
        real = batch["real"]
        out: dict[str, torch.Tensor] = {}
        d_losses, gps, v_reals, v_fakes = [], [], [], []
        for chunk in real.chunk(m.d_steps):
            n = chunk.size(0)
            with torch.no_grad():
                fake = g_engine(self._z(n, chunk.device))
            v = d_engine(torch.cat([chunk, fake.to(chunk.dtype)])).float()
            v_real, v_fake = v[:n], v[n:]
            d_loss = fam.d_loss(v_real, v_fake)
            loss = d_loss
            if fam.name == "wgan-gp" and m.gp_weight > 0:
                gp = gradient_penalty(self._bare(d_engine, chunk.device), chunk, fake, m.gp_form)
                loss = loss + m.gp_weight * gp
                gps.append(gp.detach())
            d_engine.backward(loss)
            d_engine.step()
            d_losses.append(d_loss.detach())
            v_reals.append(v_real.detach().mean())
            v_fakes.append(v_fake.detach().mean())
        # generator update: D frozen, so its parameters collect no stray gradients for its next step
        d_params = [p for p in unwrap(d_engine).parameters() if p.requires_grad]
        for p in d_params:
            p.requires_grad_(False)
        try:
            fake = g_engine(self._z(real.size(0) // m.d_steps, real.device))
            g_loss = fam.g_loss(self._bare(d_engine, real.device)(fake).float(), m.generator)
            g_engine.backward(g_loss)
            g_engine.step()
        finally:
            for p in d_params:
                p.requires_grad_(True)
        out["d_loss"] = torch.stack(d_losses).mean()
        out["g_loss"] = g_loss.detach()
        out["v_real"] = torch.stack(v_reals).mean()
        out["v_fake"] = torch.stack(v_fakes).mean()
        if gps:
            out["gp"] = torch.stack(gps).mean()
        nonfinite = not (torch.isfinite(out["d_loss"]) and torch.isfinite(out["g_loss"]))
        self._nonfinite_seen |= bool(nonfinite)
        out["nonfinite"] = torch.tensor(float(nonfinite))
        return out

    # -- evaluation -------------------------------------------------------------------------------
    def _load_eval(self, device):
        if self._classifier is None:
            from kexue_dist.gan.metrics import load_classifier

            self._classifier = load_classifier(self.data_meta["classifier"], device)
            ref = np.load(self.data_meta["reference"])
            self._reference = {"mu": ref["mu"], "sigma": ref["sigma"], "feats": ref["feats"].astype(np.float64)}
        return self._classifier

    def _rank(self) -> int:
        import torch.distributed as dist

        return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

    def _autocast(self, device):
        if device.type == "cuda" and self.cfg.engine.precision in ("auto", "bf16"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def eval_sums(self, engines, batch):
        from kexue_dist.gan.metrics import features
        from kexue_dist.gan.models import to_unit

        real = batch["real"]
        device, n = real.device, real.size(0)
        classifier = self._load_eval(device)
        noise = torch.Generator().manual_seed(1_000_003 * self._rank() + self._eval_calls)
        self._eval_calls += 1
        g, d = unwrap(engines["G"]), unwrap(engines["D"])
        with self._autocast(device):
            fake = g(self._z(n, device, noise)).float()
            v_real, v_fake = d(real).float(), d(fake.to(real.dtype)).float()
        fake = to_unit(fake, self.scale)
        finite = torch.isfinite(fake).flatten(1).all(1)
        f = features(classifier, torch.nan_to_num(fake, nan=0.0, posinf=1.0, neginf=0.0)).double()
        self._fake_feats.append(f.cpu())
        sums = {"count": torch.tensor(float(n)), "nonfinite": (~finite).sum().double(),
                "v_real": v_real.double().sum(), "v_fake": v_fake.double().sum()}
        for j, value in enumerate(f.sum(0)):
            sums[f"fsum.{j}"] = value
        for j, value in enumerate((f.T @ f).flatten()):
            sums[f"fouter.{j}"] = value
        return sums

    def eval_metrics(self, totals):
        from kexue_dist.gan.metrics import frechet_distance, kid, precision_recall, stats_from_sums

        n = totals["count"]
        dim = sum(1 for k in totals if k.startswith("fsum."))
        fsum = np.array([totals[f"fsum.{j}"] for j in range(dim)])
        fouter = np.array([totals[f"fouter.{j}"] for j in range(dim * dim)]).reshape(dim, dim)
        mu, sigma = stats_from_sums(fsum, fouter, n)
        ref = self._reference
        fake = torch.cat(self._fake_feats).numpy() if self._fake_feats else np.zeros((0, dim))
        self._fake_feats, self._eval_calls = [], 0
        nonfinite = totals["nonfinite"] > 0 or not np.isfinite(fake).all()
        if nonfinite:
            fd, kid_value, precision, recall = FD_NONFINITE, float("nan"), 0.0, 0.0
        else:
            fd = frechet_distance(mu, sigma, ref["mu"], ref["sigma"])
            real = ref["feats"][: max(len(fake), 2)]
            kid_value = kid(ref["feats"], fake, subsets=self.model_cfg.kid_subsets, subset_size=1000)
            precision, recall = precision_recall(real, fake, k=self.model_cfg.pr_k)
            if not np.isfinite(fd):
                fd, nonfinite = FD_NONFINITE, True
        self._nonfinite_seen |= bool(nonfinite)
        collapsed = self._best_fd is not None and fd > COLLAPSE_FACTOR * self._best_fd
        self._best_fd = fd if self._best_fd is None else min(self._best_fd, fd)
        return {
            "fd": fd, "kid": kid_value, "precision": precision, "recall": recall,
            "v_real": totals["v_real"] / n, "v_fake": totals["v_fake"] / n,
            "nonfinite": float(nonfinite), "diverged": float(self._nonfinite_seen or collapsed),
            "best_fd": self._best_fd, "samples": n,
        }

    @torch.no_grad()
    def samples(self, engines, batch):
        from kexue_dist.gan.grid import make_grid
        from kexue_dist.gan.models import to_unit

        with evaluating(unwrap(engines["G"])) as g:
            device = batch["real"].device
            noise = torch.Generator().manual_seed(4540)  # the same noise at every evaluation
            with self._autocast(device):
                fake = g(self._z(self.model_cfg.grid_samples, device, noise)).float()
        grid = make_grid(to_unit(fake, self.scale).cpu())
        return {"samples": {"image": grid, "caption": f"{self.model_cfg.family} / {self.model_cfg.generator}"}}
