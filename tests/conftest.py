"""Shared fixtures: one local Ray per test session, a private dataset cache, W&B offline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.pop("RAY_ADDRESS", None)  # never attach to a head someone left running
# Train's controller notices worker exits sooner (default 2 s): ~5 s off each fit. Tests only: in real
# runs the extra polling would cost the worker CPU time.
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory):
    """Datasets are built once per session into a private cache (the user's cache stays untouched)."""
    path = os.environ.get("KEXUE_DIST_TEST_CACHE") or str(tmp_path_factory.mktemp("kx-cache"))
    os.environ["KEXUE_DIST_CACHE"] = path
    return path


@pytest.fixture(scope="session")
def ray_local():
    """One in-process local Ray (2 CPUs) shared by every test that needs it; Ray fits are costly."""
    from kexue_dist.cluster import ensure_ray

    ray = ensure_ray(num_cpus=2)
    yield ray
    ray.shutdown()
