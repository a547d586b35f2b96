"""The Debian CJK font families the glyph data is rendered from, and which one is held out.

A family is every face of one design (Noto Sans CJK Regular + Bold count as one family): holding out a
family, not a file, is what makes "unseen font" accuracy mean something. The held-out family
(WenQuanYi Micro Hei) is never rendered into training or validation data; it renders the
``test_unseen`` splits and the benchmark pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kexue_dist.errors import UserError

NOTO = Path("/usr/share/fonts/opentype/noto")
TRUETYPE = Path("/usr/share/fonts/truetype")


@dataclass(frozen=True)
class Face:
    path: str
    index: int = 0  # face index inside a .ttc collection

    def load(self, size: int):
        return _load(self.path, self.index, size)


@lru_cache(maxsize=256)
def _load(path: str, index: int, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size=size, index=index)


# family -> faces; index 2 of the Noto CJK collections is the Simplified Chinese (SC) face
FAMILIES: dict[str, tuple[Face, ...]] = {
    "noto_sans": (Face(str(NOTO / "NotoSansCJK-Regular.ttc"), 2), Face(str(NOTO / "NotoSansCJK-Bold.ttc"), 2)),
    "noto_serif": (Face(str(NOTO / "NotoSerifCJK-Regular.ttc"), 2), Face(str(NOTO / "NotoSerifCJK-Bold.ttc"), 2)),
    "wqy_zenhei": (Face(str(TRUETYPE / "wqy" / "wqy-zenhei.ttc"), 0),),
    "ar_pl_uming": (Face(str(TRUETYPE / "arphic" / "uming.ttc"), 0),),
    "ar_pl_ukai": (Face(str(TRUETYPE / "arphic" / "ukai.ttc"), 0),),
    "wqy_microhei": (Face(str(TRUETYPE / "wqy" / "wqy-microhei.ttc"), 0),),
}
HELD_OUT = "wqy_microhei"
DEBIAN_PACKAGES = "fonts-noto-cjk fonts-wqy-zenhei fonts-wqy-microhei fonts-arphic-uming fonts-arphic-ukai"


def faces(family: str) -> tuple[Face, ...]:
    """The faces of one family, checked to exist (a missing Debian package is a clear exit-2 error)."""
    if family not in FAMILIES:
        raise UserError(f"font family {family!r} unknown (known: {', '.join(FAMILIES)})")
    missing = [f.path for f in FAMILIES[family] if not Path(f.path).is_file()]
    if missing:
        raise UserError(f"font family {family}: {missing[0]} is missing (install Debian packages: {DEBIAN_PACKAGES})")
    return FAMILIES[family]
