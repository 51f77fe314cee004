"""The message catalogue.

Every user-facing sentence in Korean and English, so the CLI, dashboard, API and reports say the
same thing. Each area keeps its messages in ``i18n/<area>.toml``:

    [rfm.grade.very_strong]
    ko = "매우 우수"
    en = "Very Strong"
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Literal

Lang = Literal["ko", "en"]
LANGS: tuple[str, ...] = ("ko", "en")


def _flatten(prefix: str, node: dict, out: dict[str, dict[str, str]]) -> None:
    if any(k in LANGS for k in node) and all(isinstance(v, str) for v in node.values()):
        out[prefix] = node
        return
    for key, value in node.items():
        if isinstance(value, dict):
            _flatten(f"{prefix}.{key}" if prefix else key, value, out)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """Every message of every ``i18n/*.toml``, by dotted key."""
    out: dict[str, dict[str, str]] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            _flatten("", tomllib.loads(entry.read_text(encoding="utf-8")), out)
    return out


def t(key: str, lang: str = "ko", **values) -> str:
    """The message ``key`` in ``lang`` (falls back to English, then to the key itself)."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry.get("en") or key
    return text.format(**values) if values else text


def word(section: str, value: object, lang: str = "ko") -> str:
    """The catalogue's word for a stored value, or the value itself.

    The word is the message ``<section>.<value>`` (e.g. ``value.target.churn``); a value the
    catalogue has no word for (a company's own label) is shown as it is.
    """
    key = f"{section}.{value}"
    return t(key, lang) if key in catalogue() else str(value)
