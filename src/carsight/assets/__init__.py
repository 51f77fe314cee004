"""Files that ship with carsight (the Korean font)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FONT_DIR = Path(__file__).parent / "fonts"
KOREAN_FONT = FONT_DIR / "NanumGothic.ttf"
KOREAN_FONT_BOLD = FONT_DIR / "NanumGothicBold.ttf"
KOREAN_FONT_FAMILY = "NanumGothic"


def korean_font_path(bold: bool = False) -> Path:
    """The bundled NanumGothic TTF (regular or bold)."""
    return KOREAN_FONT_BOLD if bold else KOREAN_FONT


@lru_cache(maxsize=1)
def use_korean_font_in_matplotlib() -> str:
    """Register the bundled font with matplotlib and make it the default; returns the family name."""
    import matplotlib
    from matplotlib import font_manager

    for path in (KOREAN_FONT, KOREAN_FONT_BOLD):
        font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(KOREAN_FONT)).get_name()
    matplotlib.rcParams["font.family"] = family
    matplotlib.rcParams["axes.unicode_minus"] = False  # Nanum has no U+2212 minus glyph
    return family
