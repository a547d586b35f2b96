"""Fashion-MNIST into Parquet, the convolutional VAE with the BN posteriors, and its engine fit."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_dist.data import images
from kexue_dist.engine.config import load_train_config
from kexue_dist.errors import UserError
from kexue_dist.report import image_grid
from kexue_dist.vae.image import ImageVAE, ImageVAEConfig, ImageVAETask


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@settings(max_examples=25, deadline=None)
@given(dims=st.lists(st.integers(1, 6), min_size=1, max_size=3), gz=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_idx_round_trip(tmp_path_factory, dims, gz, seed):
    array = np.random.default_rng(seed).integers(0, 256, size=dims, dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / ("x.gz" if gz else "x")
    write_idx(path, array, gz)
    np.testing.assert_array_equal(images.read_idx(path), array)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(50, 400))
def test_stratified_split_is_a_balanced_partition(seed, valid_size):
    labels = np.random.default_rng(seed).integers(0, 10, size=2000)
    train, valid = images.stratified_split(labels, valid_size, seed)
    assert len(np.intersect1d(train, valid)) == 0 and len(train) + len(valid) == len(labels)
    assert abs(len(valid) - valid_size) <= 10  # per-class rounding
    for cls in range(10):  # every class gets its share, to rounding
        share = (labels == cls).mean() * valid_size
        assert abs((labels[valid] == cls).sum() - share) <= 1


def test_fashion_mnist_parquet_and_missing_source(tmp_path, monkeypatch):
    directory = images.fashion_mnist_dataset()
    assert images.fashion_mnist_dataset() == directory  # cached: built once
    x, y = images.load_split(directory, "valid")
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and set(np.bincount(y)) == {500}
    monkeypatch.setattr(images, "FASHION_DIR", tmp_path / "nowhere")
    with pytest.raises(UserError, match="dataset-fashion-mnist"):
        images.fashion_mnist_dataset(images.ImageDataConfig(valid_size=1234), root=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing partial left behind


@pytest.mark.parametrize("posterior", ["bn_su_tau", "bn_fixed_gamma"])
def test_conv_vae_keeps_the_kl_floor(posterior):
    torch.manual_seed(0)
    model = ImageVAE(ImageVAEConfig(latent=6, channels=4, hidden=16, posterior=posterior))
    # Images that differ in brightness, as real ones do: BN's floor needs the pre-BN batch variance to be
    # large against its eps (1e-5); i.i.d. noise images all look alike to a fresh encoder (variance ~1e-5).
    x = torch.rand(32, 1, 1, 1) * torch.rand(32, 1, 28, 28)
    rec, kl = model({"image": x})
    assert rec.shape == (32,) and (rec > 0).all()
    assert kl.mean() >= model.kl_floor - 1e-4  # the floor holds for the train batch, whatever the weights


def test_image_grid_layout():
    tiles = np.stack([np.full((3, 2), i * 20, dtype=np.uint8) for i in range(5)])
    grid = image_grid(tiles, cols=2, pad=1)
    assert grid.shape == (3 * (3 + 1) + 1, 2 * (2 + 1) + 1)
    assert grid[1, 1] == 0 and grid[1, 4] == 20 and grid[9, 1] == 80 and grid[9, 4] == 0  # last cell empty


def test_bad_image_vae_config_names_the_field():
    with pytest.raises(UserError, match="model.channels"):
        load_train_config("image_vae_smoke", ["model.channels=0"])
    with pytest.raises(UserError, match="data.dataset"):
        load_train_config("image_vae_smoke", ["data.dataset=cifar"])


def test_image_vae_fit_writes_grids(ray_local, tmp_path):
    from kexue_dist.engine.trainer import fit
    from kexue_dist.engine.tracking import read_offline_run

    cfg = load_train_config("image_vae_smoke", [f"run.out_dir={tmp_path}", "run.name=img"])
    assert ImageVAETask.model_config is type(cfg.model)
    res = fit(cfg)
    assert res.final["valid/kl"] >= res.final["valid/kl_floor"] * 0.5  # eval mode: running stats, not a hard floor
    grids = sorted(p.name for p in (res.run_dir / "samples").glob("*_last.png"))
    assert grids == ["prior_samples_last.png", "reconstructions_last.png"]
    (run,) = (res.run_dir / "wandb").glob("offline-run-*")
    logged = {k: v for row in read_offline_run(str(run))["history"] for k, v in row.items()}
    assert "valid/nll_iw" in logged  # W&B records an image as nested keys under its name
    assert logged["prior_samples/_type"] == logged["reconstructions/_type"] == "image-file"
