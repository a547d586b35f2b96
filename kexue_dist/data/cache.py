"""Where built datasets live (``KEXUE_DIST_CACHE``, default ~/.cache/kexue_dist) and file checksums."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("KEXUE_DIST_CACHE") or Path.home() / ".cache" / "kexue_dist")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
