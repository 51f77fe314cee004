"""The Korean web font the dashboard serves to browsers, and the CSS that uses it.

A fresh machine (or a phone) has no Korean font, so the browser is given NanumGothic from
``static/`` (Streamlit static serving). The served files are subsets of the bundled OFL fonts in
``carsight/assets/fonts`` (Latin, Hangul syllables and jamo, common symbols; no Hanja), WOFF2,
about 0.5 MB each instead of 4.7 MB. Regenerate them with ``python -m carsight.dashboard.fonts``.
"""

from __future__ import annotations

from pathlib import Path

from carsight.assets import KOREAN_FONT, KOREAN_FONT_BOLD

STATIC_DIR = Path(__file__).parent / "static"
REGULAR = "NanumGothic-subset.woff2"
BOLD = "NanumGothicBold-subset.woff2"
FAMILY = "NanumGothic"
# Plotly and CSS font stack: the served face first, then what a machine may have.
FONT_STACK = "NanumGothic, 'Nanum Gothic', 'Noto Sans CJK KR', 'Malgun Gothic', sans-serif"

_UNICODES = (
    "U+0020-007E,U+00A0-00FF,U+2000-206F,U+20A9,U+2190-21FF,U+2460-24FF,U+25A0-25FF,"
    "U+3000-303F,U+3131-318E,U+AC00-D7A3,U+FF01-FFEE"
)


def css(base: str = "app/static") -> str:
    """A <style> block declaring the served faces and making them the page font."""
    return f"""<style>
@font-face {{font-family: '{FAMILY}'; src: url('{base}/{REGULAR}') format('woff2'); font-weight: 400; font-display: swap;}}
@font-face {{font-family: '{FAMILY}'; src: url('{base}/{BOLD}') format('woff2'); font-weight: 700; font-display: swap;}}
html, body, .stApp, .stMarkdown, .stMetric, button, input, textarea, select, [data-testid="stSidebar"] {{
  font-family: {FONT_STACK};
}}
</style>"""


def build(out_dir: Path = STATIC_DIR) -> list[Path]:
    """Write the WOFF2 subsets from the bundled TTF files (needs fontTools and brotli)."""
    from fontTools import subset

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name in ((KOREAN_FONT, REGULAR), (KOREAN_FONT_BOLD, BOLD)):
        target = out_dir / name
        subset.main([str(source), f"--unicodes={_UNICODES}", "--flavor=woff2", f"--output-file={target}"])
        written.append(target)
    return written


if __name__ == "__main__":
    for path in build():
        print(path)
