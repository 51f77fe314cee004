"""Word clouds as PNG from keyword frequencies.

Never from raw text, so masks, stop words and dictionary compounds are already handled; drawn with
the bundled Korean font.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from carsight.assets import korean_font_path
from carsight.errors import InputError


def render_wordcloud(
    frequencies: Mapping[str, float],
    path: str | Path,
    *,
    width: int = 1200,
    height: int = 800,
    max_words: int = 150,
    background: str = "white",
    colormap: str = "viridis",
    seed: int = 0,
) -> Path:
    """Draw ``frequencies`` (keyword → count) into a PNG at ``path``; returns the path."""
    from wordcloud import WordCloud

    words = {str(k): float(v) for k, v in frequencies.items() if v and float(v) > 0 and str(k).strip()}
    if not words:
        raise InputError("no keywords to draw: the selection has no text left after masking and stop words")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cloud = WordCloud(
        font_path=str(korean_font_path()),
        width=width,
        height=height,
        max_words=max_words,
        background_color=background,
        colormap=colormap,
        random_state=seed,
        prefer_horizontal=0.95,
        collocations=False,
    ).generate_from_frequencies(words)
    cloud.to_file(str(path))
    return path
