import os

import pytest


@pytest.fixture(scope="session")
def shred_ray():
    """A private local Ray for the shred tests (short temp dir)."""
    os.environ.setdefault("RAY_TMPDIR", "/tmp/rsh")
    from kexue_dist.cluster import ensure_ray

    ray = ensure_ray(num_cpus=2)
    yield ray
    ray.shutdown()
