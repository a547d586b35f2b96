"""Read a page: geometry (page.py) -> recogniser top-k per candidate cell -> Viterbi with the bigram LM.

``Reader.load()`` uses the committed weights (kexue_dist/ocr/weights/), so `kexue-dist ocr read` works
on a fresh checkout without training. Boxes are integer pixels of the input image, x1/y1 exclusive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kexue_dist.errors import UserError
from kexue_dist.ocr import page
from kexue_dist.ocr.charset import charset
from kexue_dist.ocr.decode import viterbi
from kexue_dist.ocr.glyphs import normalise_cell
from kexue_dist.ocr.model import WEIGHTS, OCRModelConfig, build_model

DEFAULT_MODEL = "convnet"
MAX_PIXELS = 40_000_000
# decoder weights, tuned on validation pages rendered from the corpus's "valid" split with training fonts
# (benchmarks/ocr_tune.py: validation CER 0.0254 at these values; 0.0472 without the LM)
LM_WEIGHT = 0.25
CHAR_BONUS = 1.0
TOP_K = 5


def weights_path(model: str) -> Path:
    if model.endswith(".pt"):
        return Path(model)
    return WEIGHTS / f"{DEFAULT_MODEL if model == 'default' else model}.pt"


@dataclass
class Reader:
    model: torch.nn.Module
    side: int
    lm: object
    lm_weight: float = LM_WEIGHT
    char_bonus: float = CHAR_BONUS
    top_k: int = TOP_K

    @classmethod
    def load(cls, model: str = "default", use_lm: bool = True, **kw) -> "Reader":
        path = weights_path(model)
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            raise UserError(f"OCR weights {path} (and its .json) not found: train with `kexue-dist ocr train --config ocr_convnet`")
        meta = json.loads(meta_path.read_text())
        net = build_model(OCRModelConfig(**meta["model"]), meta["data"]["side"])
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in torch.load(path, map_location="cpu").items()})
        net.eval()
        from kexue_dist.ocr.lm import default_lm

        return cls(net, meta["data"]["side"], default_lm() if use_lm else None, **kw)

    @torch.no_grad()
    def _topk(self, cells: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.stack([normalise_cell(c, self.side) for c in cells])).float().div_(255).unsqueeze(1)
        logp = torch.cat([torch.log_softmax(self.model(x[i : i + 512]).float(), 1) for i in range(0, len(x), 512)])
        values, classes = logp.topk(self.top_k, dim=1)
        return classes.numpy(), values.numpy()

    def analyse(self, image) -> list[dict]:
        """The decoder-independent part of reading: per line, its box, segments and candidates' top-k."""
        grey = page.denoise(page.to_grey(image))
        ink = page.binarise(grey)
        lines = []
        for line in page.find_lines(ink):
            band_ink, band = ink[line.y0 : line.y1], grey[line.y0 : line.y1]
            segs, pitch = page.segments(band_ink)
            cands = page.candidates(segs, line.height, pitch)
            if cands:
                classes, logp = self._topk([band[:, segs[i][0] : segs[j - 1][1]] for i, j in cands])
                lines.append({"line": line, "segs": segs, "edges": {c: (classes[k], logp[k]) for k, c in enumerate(cands)}})
        return lines

    def decode(self, lines: list[dict], lm_weight: float | None = None, char_bonus: float | None = None) -> dict:
        """Viterbi per line (the LM context runs on across lines) -> the JSON-shaped result."""
        lm_weight = self.lm_weight if lm_weight is None else lm_weight
        char_bonus = self.char_bonus if char_bonus is None else char_bonus
        chars = charset()
        out, prev = [], -1
        for item in lines:
            line, segs = item["line"], item["segs"]
            path = viterbi(len(segs), item["edges"], self.lm, lm_weight, char_bonus, prev)
            text = ""
            for k, (i, j, c) in enumerate(path):
                if k and _spaced(chars[path[k - 1][2]], chars[c], segs[i][0] - segs[path[k - 1][1] - 1][1], line.height):
                    text += " "
                text += chars[c]
            if path:
                prev = path[-1][2]
            out.append({"box": line.box(), "text": text})
        return {"text": "\n".join(line["text"] for line in out), "lines": out}

    def read(self, image) -> dict:
        """PIL image or 2-D array -> {"text": lines joined by "\\n", "lines": [{"box", "text"}]}."""
        return self.decode(self.analyse(image))


def _spaced(left: str, right: str, gap: int, height: int) -> bool:
    """A space between two Latin letters/digits set further apart than letters within a word are."""
    return left.isascii() and right.isascii() and left.isalnum() and right.isalnum() and gap > 0.3 * height


def load_image(path: str) -> np.ndarray:
    """An image file -> grey array, or a one-line UserError (exit 2) for what cannot be read."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file")
    if p.stat().st_size == 0:
        raise UserError(f"{path}: empty file, not an image")
    Image.MAX_IMAGE_PIXELS = None  # our own limit below, checked before decoding
    try:
        with Image.open(p) as img:
            w, h = img.size
            if w * h == 0:
                raise UserError(f"{path}: empty image ({w}x{h} pixels)")
            if w * h > MAX_PIXELS:
                raise UserError(f"{path}: {w}x{h} = {w * h / 1e6:.1f} megapixels, over the {MAX_PIXELS / 1e6:.0f} MP limit; downscale or crop it")
            grey = page.to_grey(img)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable image ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'unknown format'})") from None
    if int(grey.max()) - int(grey.min()) < 16:
        raise UserError(f"{path}: empty image (uniform {w}x{h}, no ink to read)")
    return grey
