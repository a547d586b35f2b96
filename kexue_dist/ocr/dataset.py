"""The glyph dataset: every class rendered from the Debian CJK fonts, in parallel Ray tasks, into Parquet.

Splits (``OCR_DATA/<key>/<split>/part-*.parquet`` + ``manifest.json`` with sha256 per shard):
- ``train``: the training families, ``copies`` augmented renders per class and face at random sizes;
- ``valid``: one augmented render per class from a random training face (model selection);
- ``test_seen``: one clean render per class and training face (Su's "training fonts" number);
- ``test_unseen``: the held-out family, ``test_copies`` clean renders per class at random sizes;
- ``test_unseen_noise``: the same glyphs with 15% salt-and-pepper noise on the normalised image (Su's setup).
Rows are shuffled across classes before sharding so Ray Data's local shuffle sees every class.
Each Ray task renders one shard and returns an Arrow table; the driver writes it, so the builder works on
a multi-node cluster without a shared filesystem.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kexue_dist.data.cache import building, cache_dir, file_entry, load_manifest, write_manifest
from kexue_dist.errors import UserError
from kexue_dist.ocr import fonts
from kexue_dist.ocr.charset import charset

FORMAT_VERSION = 1
SCHEMA = pa.schema([("image", pa.binary()), ("label", pa.int32()), ("face", pa.string()), ("size", pa.int16())])
TEST_NOISE = 0.15
SPLITS = ("train", "valid", "test_seen", "test_unseen", "test_unseen_noise")


@dataclass
class OCRDataConfig:
    """The ``data:`` section of the OCR task."""

    side: int = 32  # glyph side in pixels after normalisation (Su: 48)
    sizes: list[int] = field(default_factory=lambda: [14, 18, 22, 28, 36])  # font sizes in px, drawn uniformly
    copies: int = 3  # augmented training renders per class and face
    test_copies: int = 2  # renders per class of the held-out family
    held_out: str = fonts.HELD_OUT
    families: list[str] = field(default_factory=lambda: [f for f in fonts.FAMILIES if f != fonts.HELD_OUT])
    shard_rows: int = 20000
    max_classes: int = 0  # render only the first N classes (smoke tests); 0 = the whole charset
    seed: int = 0

    def validate(self, where: str) -> None:
        if not 16 <= self.side <= 128:
            raise UserError(f"{where}.side: must be in [16, 128], got {self.side}")
        if not self.sizes or min(self.sizes) < 8 or max(self.sizes) > 200:
            raise UserError(f"{where}.sizes: a non-empty list of font sizes in [8, 200] px, got {self.sizes}")
        if not 0 <= self.max_classes <= len(charset()):
            raise UserError(f"{where}.max_classes: must be in [0, {len(charset())}], got {self.max_classes}")
        if self.copies < 1 or self.test_copies < 1 or self.shard_rows < 100:
            raise UserError(f"{where}: copies, test_copies >= 1 and shard_rows >= 100 required")
        known = set(fonts.FAMILIES)
        for name in [*self.families, self.held_out]:
            if name not in known:
                raise UserError(f"{where}: unknown font family {name!r} (known: {', '.join(fonts.FAMILIES)})")
        if self.held_out in self.families:
            raise UserError(f"{where}.families: the held-out family {self.held_out!r} must not be trained on")

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "format": FORMAT_VERSION, "classes": len(charset())}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# A job is (class index, face id, size, augment, cell noise, cell blur, glyph noise, seed) -> one row.
def _jobs(cfg: OCRDataConfig) -> tuple[dict[str, np.recarray], list[str]]:
    rng = np.random.default_rng(cfg.seed)
    n = cfg.max_classes or len(charset())
    train_faces = [f"{fam}:{i}" for fam in cfg.families for i in range(len(fonts.FAMILIES[fam]))]
    held = [f"{cfg.held_out}:{i}" for i in range(len(fonts.FAMILIES[cfg.held_out]))]
    face_ids = {f: k for k, f in enumerate(train_faces + held)}
    sizes = np.asarray(cfg.sizes)

    def table(labels, faces, augment: bool, glyph_noise=None):
        m = len(labels)
        aug = np.full(m, augment)
        cell_noise = np.where(aug & (rng.random(m) < 0.25), rng.uniform(0, 0.08, m), 0.0)
        cell_blur = np.where(aug & (rng.random(m) < 0.3), rng.uniform(0.3, 1.0, m), 0.0)
        gnoise = glyph_noise if glyph_noise is not None else np.where(aug & (rng.random(m) < 0.2), rng.uniform(0, 0.15, m), 0.0)
        return np.rec.fromarrays([labels, faces, rng.choice(sizes, m), aug, cell_noise, cell_blur,
                                  np.broadcast_to(gnoise, (m,)).astype(float), rng.integers(0, 2**31, m)],
                                 names="label,face,px,augment,cell_noise,cell_blur,glyph_noise,seed")

    classes = np.arange(n)
    train_ids = np.array([face_ids[f] for f in train_faces])
    held_ids = np.array([face_ids[f] for f in held])
    jobs = {
        "train": table(np.repeat(classes, len(train_ids) * cfg.copies), np.tile(np.repeat(train_ids, cfg.copies), n), True),
        "valid": table(classes, rng.choice(train_ids, n), True),
        "test_seen": table(np.repeat(classes, len(train_ids)), np.tile(train_ids, n), False),
    }
    unseen_labels = np.repeat(classes, cfg.test_copies)
    unseen_faces = rng.choice(held_ids, len(unseen_labels))
    jobs["test_unseen"] = table(unseen_labels, unseen_faces, False, 0.0)
    noisy = jobs["test_unseen"].copy()
    noisy.glyph_noise = TEST_NOISE
    jobs["test_unseen_noise"] = noisy
    for split in ("train", "valid"):
        jobs[split] = jobs[split][rng.permutation(len(jobs[split]))]
    return jobs, train_faces + held


def render_rows(jobs: np.ndarray, face_names: list[str], side: int) -> pa.Table:
    """Render one shard (runs inside a Ray task)."""
    from kexue_dist.ocr.glyphs import render_glyph, salt_and_pepper

    chars = charset()
    images, names = [], []
    for job in jobs:
        family, index = face_names[job.face].split(":")
        face = fonts.faces(family)[int(index)]
        rng = np.random.default_rng(int(job.seed))
        glyph = render_glyph(chars[job.label], face, int(job.px), side, rng, augment=bool(job.augment),
                             noise=float(job.cell_noise), blur=float(job.cell_blur))
        glyph = 255 - salt_and_pepper(255 - glyph, float(job.glyph_noise), rng)
        images.append(glyph.tobytes())
        names.append(face_names[job.face])
    return pa.table({"image": images, "label": jobs.label.astype(np.int32), "face": names,
                     "size": jobs.px.astype(np.int16)}, schema=SCHEMA)


def glyph_dataset(cfg: OCRDataConfig | None = None, root: Path | None = None, progress: bool = True) -> Path:
    """Build (or find) the glyph dataset; returns its directory."""
    cfg = cfg or OCRDataConfig()
    cfg.validate("data")
    final = Path(root or cache_dir()) / "ocr" / f"glyphs-{cfg.key()}"
    if (final / "manifest.json").is_file():
        return final
    for family in [*cfg.families, cfg.held_out]:
        fonts.faces(family)  # a missing font package fails here, before Ray starts
    import ray

    from kexue_dist.cluster import ensure_ray

    ensure_ray()
    jobs, face_names = _jobs(cfg)
    render = ray.remote(num_cpus=1)(render_rows)
    started = time.perf_counter()
    with building(final) as tmp:
        pending, entries, rows = {}, {}, {}
        for split, table in jobs.items():
            (tmp / split).mkdir()
            for k, start in enumerate(range(0, len(table), cfg.shard_rows)):
                ref = render.remote(table[start : start + cfg.shard_rows], face_names, cfg.side)
                pending[ref] = f"{split}/part-{k:05d}.parquet"
        total, done = len(pending), 0
        refs = list(pending)
        while refs:
            ready, refs = ray.wait(refs, num_returns=1)
            name = pending[ready[0]]
            shard = ray.get(ready[0])
            pq.write_table(shard, tmp / name, row_group_size=5000)
            entries[name] = file_entry(tmp / name) | {"file": name}
            split = name.split("/")[0]
            rows[split] = rows.get(split, 0) + shard.num_rows
            done += 1
            if progress:
                print(f"[kexue-dist ocr data] {done}/{total} shards ({time.perf_counter() - started:.0f} s)", flush=True)
        write_manifest(tmp, {"kind": "ocr_glyphs", "format": FORMAT_VERSION, "spec": asdict(cfg), "rows": rows,
                             "files": dict(sorted(entries.items())), "schema": SCHEMA.to_string(),
                             "classes": len(charset()), "faces": face_names, "seconds": round(time.perf_counter() - started, 1)})
    return final


def glyph_splits(cfg: OCRDataConfig) -> tuple[dict[str, str], Path, dict]:
    """({split: shard directory}, dataset directory, manifest): what the OCR task's prepare_data needs."""
    directory = glyph_dataset(cfg)
    manifest = load_manifest(directory)
    return {split: str(directory / split) for split in SPLITS}, directory, manifest


def load_split(directory: Path, split: str, side: int) -> tuple[np.ndarray, np.ndarray]:
    """A whole split in memory: (uint8 N x side x side, int labels). For evaluation, not training."""
    table = pq.read_table(Path(directory) / split)
    images = np.frombuffer(b"".join(table.column("image").to_pylist()), dtype=np.uint8).reshape(-1, side, side)
    return images, table.column("label").to_numpy()
