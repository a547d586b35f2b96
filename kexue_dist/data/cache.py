"""Where built datasets live (``KEXUE_DIST_CACHE``, default ~/.cache/kexue_dist) and file checksums."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kexue_dist.errors import UserError


def cache_dir() -> Path:
    return Path(os.environ.get("KEXUE_DIST_CACHE") or Path.home() / ".cache" / "kexue_dist")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def building(final: Path) -> Iterator[Path]:
    """Build a dataset directory atomically: yields a temp dir beside ``final`` that is renamed into place
    on success (if a concurrent builder won the race, its identical copy stays) and removed on any error,
    so a crash never leaves a half-built dataset behind."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        yield tmp
        try:
            tmp.rename(final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def file_entry(path: Path) -> dict:
    """A manifest's record of one data file: its name and checksum."""
    return {"file": path.name, "sha256": sha256_file(path)}


def write_manifest(directory: Path, manifest: dict) -> None:
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def load_manifest(dataset_dir: Path, verify: bool = True) -> dict:
    """Read a dataset's manifest; with ``verify``, fail (UserError) if any file is missing or altered."""
    dataset_dir = Path(dataset_dir)
    try:
        manifest = json.loads((dataset_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"dataset {dataset_dir}: unreadable manifest ({err})") from None
    if verify:
        for entry in manifest["files"].values():
            path = dataset_dir / entry["file"]
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                raise UserError(f"dataset {dataset_dir}: {entry['file']} is missing or corrupt (checksum mismatch); delete the directory to rebuild")
    return manifest


def split_paths(dataset_dir: Path, manifest: dict) -> dict[str, str]:
    """{split: parquet path} from a manifest's ``files``."""
    return {split: str(Path(dataset_dir) / entry["file"]) for split, entry in manifest["files"].items()}
