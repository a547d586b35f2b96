"""Sample-quality metrics on the features of our own Fashion-MNIST classifier (no Inception weights
offline; shared/docs/gan.md): Frechet distance ("Frechet classifier distance"), KID and
precision/recall. Numbers are comparable only under one classifier checkpoint: its sha256 and test
accuracy are recorded in kexue_dist/gan/weights/fmnist_classifier.json and in every results file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from kexue_dist.errors import UserError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CLASSIFIER = WEIGHTS_DIR / "fmnist_classifier.pt"
CLASSIFIER_INFO = WEIGHTS_DIR / "fmnist_classifier.json"


# ------------------------------------------------------------------------------------ the metrics
def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^{1/2}), in float64.

    tr (S1 S2)^{1/2} = sum of sqrt(eig(S1^{1/2} S2 S1^{1/2})) (a symmetric PSD matrix, so eigh is exact
    and stable; no complex sqrtm round-off)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)


def mean_cov(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def stats_from_sums(total: np.ndarray, outer: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance from sum f and sum f f^T over n samples (exact across workers)."""
    mu = total / n
    return mu, (outer - n * np.outer(mu, mu)) / max(n - 1, 1)


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = 10, subset_size: int = 1000, seed: int = 0) -> float:
    """Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial
    kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of size min(subset_size, n)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    d = real.shape[1]
    m = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))  # noqa: E731
        values.append(off(kxx) + off(kyy) - 2 * kxy.mean())
    return float(np.mean(values))


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.clip(sq, 0, None))


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the union of
    balls reaching each point's k-th nearest neighbour. Precision = share of fakes inside the real
    manifold (quality); recall = share of reals inside the fake manifold (coverage)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)

    def radii(x):
        dist = _pairwise(x, x)
        return np.partition(dist, k, axis=1)[:, k]  # the k-th smallest; index 0 is the point itself

    r_real, r_fake = radii(real), radii(fake)
    precision = float((_pairwise(fake, real) <= r_real[None, :]).any(1).mean())
    recall = float((_pairwise(real, fake) <= r_fake[None, :]).any(1).mean())
    return precision, recall


# ------------------------------------------------------------------------------------ the classifier
def classifier_info(path: Path = CLASSIFIER_INFO) -> dict:
    if not Path(path).is_file():
        raise UserError(f"{path}: no evaluation classifier; train it with `kexue-dist gan classifier`")
    return json.loads(Path(path).read_text())


def load_classifier(path: Path | str = "", device: torch.device | str = "cpu", verify: bool = True) -> torch.nn.Module:
    """The committed evaluation classifier (eval mode, no grad), its hash checked against the JSON."""
    from kexue_dist.data.cache import sha256_file
    from kexue_dist.gan.models import FMNISTClassifier

    path = Path(path or CLASSIFIER)
    info_path = path.with_suffix(".json")
    info = classifier_info(info_path)
    if not path.is_file():
        raise UserError(f"{path}: classifier weights missing; train them with `kexue-dist gan classifier`")
    if verify and sha256_file(path) != info["sha256"]:
        raise UserError(f"{path}: sha256 differs from {info_path} (numbers would not be comparable)")
    model = FMNISTClassifier(**info["model"])
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.to(device).eval().requires_grad_(False)


@torch.no_grad()
def features(classifier: torch.nn.Module, images_unit: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Penultimate-layer features (fp32) of images in [0, 1], (N, 1, 28, 28)."""
    device = next(classifier.parameters()).device
    out = [classifier.features(images_unit[i : i + batch].to(device).float()) for i in range(0, len(images_unit), batch)]
    return torch.cat(out).float()


def reference_stats(dataset_dir: Path, split: str = "valid", classifier_path: Path | str = "", max_keep: int = 5000) -> Path:
    """Features of a real split (mean, covariance, and up to ``max_keep`` rows for KID/PR), cached as
    .npz in the data cache and keyed by the classifier's hash. Built on the driver, before Ray."""
    from kexue_dist.data.images import load_split

    info = classifier_info(Path(classifier_path or CLASSIFIER).with_suffix(".json"))
    from kexue_dist.data.cache import cache_dir

    out = cache_dir() / "gan" / f"ref_{Path(dataset_dir).name}_{split}_{info['sha256'][:12]}.npz"
    if out.is_file():
        return out
    images, _ = load_split(dataset_dir, split)
    x = torch.from_numpy(images.copy()).float().div_(255).unsqueeze(1)
    feats = features(load_classifier(classifier_path), x).numpy().astype(np.float64)
    mu, sigma = mean_cov(feats)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{np.random.randint(1 << 30)}.npz")
    np.savez(tmp, mu=mu, sigma=sigma, feats=feats[:max_keep].astype(np.float32), n=len(feats))
    tmp.replace(out)
    return out
