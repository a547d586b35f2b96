"""Image datasets -> Parquet: Fashion-MNIST from Debian's dataset-fashion-mnist, built once into the cache.

A dataset directory holds ``train/valid/test.parquet`` (``image: binary`` = 784 uint8 bytes, row-major
28x28; ``label: int64``) and ``manifest.json`` (rows, sha256 per file, class names). The validation split
is a seeded, class-stratified 5,000 taken from the official 60,000 training images; the official
10,000 test images stay the test split, untouched for model selection.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from kexue_dist.data.cache import building, cache_dir, file_entry, load_manifest, write_manifest
from kexue_dist.errors import UserError

# Debian's dataset-fashion-mnist; KEXUE_DIST_FASHION_DIR points elsewhere (a non-Debian machine, a GPU
# node the raw files were copied to). Files may be gzipped (as Debian ships them) or plain.
FASHION_DIR = Path(os.environ.get("KEXUE_DIST_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SCHEMA = pa.schema([("image", pa.binary()), ("label", pa.int64())])
SIDE = 28
FORMAT_VERSION = 1


@dataclass
class ImageDataConfig:
    """The ``data:`` section of image tasks (VAE, GAN, classifier)."""

    dataset: str = "fashion_mnist"
    valid_size: int = 5000
    seed: int = 0

    def validate(self, where: str) -> None:
        if self.dataset != "fashion_mnist":
            raise UserError(f"{where}.dataset: unknown image dataset {self.dataset!r} (known: fashion_mnist)")
        if not 0 < self.valid_size < 60000:
            raise UserError(f"{where}.valid_size: must be in (0, 60000), got {self.valid_size}")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format, plain or gzipped): big-endian header of dims, then uint8 data."""
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as handle:
        raw = handle.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise UserError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw[4 : 4 + 4 * ndim], dtype=">u4").astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise UserError(f"{path}: truncated ({data.size} bytes for dims {dims.tolist()})")
    return data.reshape(dims)


def stratified_split(labels: np.ndarray, valid_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, valid indices), sorted; valid takes the same share of every class."""
    rng = np.random.default_rng(seed)
    valid = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        take = int(round(valid_size * len(idx) / len(labels)))
        valid.append(rng.choice(idx, size=take, replace=False))
    valid = np.sort(np.concatenate(valid))
    train = np.setdiff1d(np.arange(len(labels)), valid)
    return train, valid


def write_images(path: Path, images: np.ndarray, labels: np.ndarray) -> int:
    flat = np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.uint8)
    table = pa.table({"image": [row.tobytes() for row in flat], "label": labels.astype(np.int64)}, schema=SCHEMA)
    pq.write_table(table, path, row_group_size=5000)
    return table.num_rows


def fashion_mnist_dataset(cfg: ImageDataConfig | None = None, root: Path | None = None) -> Path:
    """Build (or find) Fashion-MNIST as Parquet; returns its directory."""
    cfg = cfg or ImageDataConfig()
    key = hashlib.sha256(json.dumps({**asdict(cfg), "format": FORMAT_VERSION}, sort_keys=True).encode()).hexdigest()[:12]
    final = Path(root or cache_dir()) / "images" / f"{cfg.dataset}-{key}"
    if (final / "manifest.json").is_file():
        return final
    files = {n: _idx_file(f"{n}-idx{1 if 'labels' in n else 3}-ubyte")
             for n in ("train-images", "train-labels", "t10k-images", "t10k-labels")}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise UserError(f"data.dataset fashion_mnist: {missing[0]} is missing; install the Debian package dataset-fashion-mnist (or set KEXUE_DIST_FASHION_DIR)")
    train_x, train_y = read_idx(files["train-images"]), read_idx(files["train-labels"])
    test_x, test_y = read_idx(files["t10k-images"]), read_idx(files["t10k-labels"])
    train_idx, valid_idx = stratified_split(train_y, cfg.valid_size, cfg.seed)
    parts = {"train": (train_x[train_idx], train_y[train_idx]), "valid": (train_x[valid_idx], train_y[valid_idx]),
             "test": (test_x, test_y)}
    with building(final) as tmp:
        rows, entries = {}, {}
        for split, (x, y) in parts.items():
            path = tmp / f"{split}.parquet"
            rows[split] = write_images(path, x, y)
            entries[split] = file_entry(path)
        write_manifest(tmp, {"kind": "images", "format": FORMAT_VERSION, "source": str(FASHION_DIR), "spec": asdict(cfg),
                             "rows": rows, "files": entries, "schema": SCHEMA.to_string(), "shape": [SIDE, SIDE],
                             "classes": FASHION_CLASSES})
    return final


def _idx_file(stem: str) -> Path:
    gz = FASHION_DIR / f"{stem}.gz"
    return gz if gz.is_file() or not (FASHION_DIR / stem).is_file() else FASHION_DIR / stem


def fashion_mnist_splits(cfg: ImageDataConfig) -> tuple[dict[str, str], Path, dict]:
    """What image tasks' ``prepare_data`` needs: ({split: parquet path}, dataset directory, manifest)."""
    directory = fashion_mnist_dataset(cfg)
    manifest = load_manifest(directory)
    return {split: str(directory / entry["file"]) for split, entry in manifest["files"].items()}, directory, manifest


def load_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A whole split in memory: (uint8 N x 28 x 28, int64 labels). For metrics and tests, not training."""
    manifest = load_manifest(directory, verify=False)
    table = pq.read_table(Path(directory) / manifest["files"][split]["file"])
    return bytes_to_array(table.column("image").to_pylist()), table.column("label").to_numpy()


def bytes_to_array(images) -> np.ndarray:
    """A sequence of 784-byte images -> uint8 array (N, 28, 28)."""
    return np.frombuffer(b"".join(images), dtype=np.uint8).reshape(-1, SIDE, SIDE)


def images_to_tensor(images, device: torch.device, scale: str = "tanh") -> torch.Tensor:
    """Bytes from a Ray Data batch -> float tensor (N, 1, 28, 28); ``tanh``: in [-1, 1], ``unit``: in [0, 1]."""
    x = torch.from_numpy(bytes_to_array(images).copy()).to(device, non_blocking=True).float().div_(255.0).unsqueeze(1)
    if scale == "tanh":
        return x.mul_(2.0).sub_(1.0)
    if scale != "unit":
        raise ValueError(f"scale must be 'tanh' or 'unit', got {scale!r}")
    return x
