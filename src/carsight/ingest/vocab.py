"""Recognising what a cell holds.

A market, a vehicle class, a brand, a plant, a kind of sales figure (``vocab.toml``), and the hints
a file gives about itself in its name, sheet name and title lines (``Y2023 US Retail Sales by
Model`` says: retail, USA, 2023).

Columns are understood by what they hold, not only by their header: a header may be missing,
misleading (``Car`` over ``Passenger Car``/``Recreational Vehicle``) or in another language.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

# Dimensions a label column of a sales table can hold.
MARKET = "market"
VEHICLE_CLASS = "vehicle_class"
BRAND = "brand"
PLANT = "plant"
KIND = "kind"
POWERTRAIN = "powertrain"

_MARKS = re.compile(r"^[\s*※＊·•\-–]+|[\s*※＊]+$")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_TOKENS = re.compile(r"[^\W_]+", re.UNICODE)


def key(value: object) -> str:
    """The comparison form of a cell: NFKC, lower case, leading ``*``/``※`` marks and punctuation gone."""
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    text = _MARKS.sub("", text)
    return _PUNCT.sub("", text)


def tidy(value: object) -> str:
    r"""A label as it should be stored.

    NFC, marks and line breaks gone, inner spaces collapsed, one space before a bracket
    (``"*Russia Plant\n(HMMR)"`` and ``"Russia Plant(HMMR)"`` → ``"Russia Plant (HMMR)"``).
    """
    text = unicodedata.normalize("NFC", str(value)).replace("\u3000", " ")
    text = _MARKS.sub("", text.strip())
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(?<=[^\s(])\(", " (", text).strip()


@lru_cache(maxsize=1)
def _data() -> dict:
    text = resources.files(__package__).joinpath("vocab.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def _lookup(section: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, spellings in _data()[section].items():
        out.setdefault(key(canonical), canonical)
        for spelling in spellings:
            out.setdefault(key(spelling), canonical)
    return out


@cache
def _words(section: str) -> tuple[str, ...]:
    return tuple(key(w) for w in _data()[section]["words"])


def market_of(value: object) -> str | None:
    """The canonical market a label names (``"U.S.A."`` → ``USA``), or None."""
    return _lookup("markets").get(key(value))


def is_market_like(value: object) -> bool:
    """A known market, or a label built on a geographic word (``Europe Subsidiaries``)."""
    k = key(value)
    return bool(k) and (k in _lookup("markets") or any(w in k for w in _words("market_words")))


def vehicle_class_of(value: object) -> str | None:
    """The vehicle class (PC, RV, CV, …) a label stands for, or None."""
    return _lookup("vehicle_classes").get(key(value))


def brand_of(value: object) -> str | None:
    """The brand a label stands for, or None."""
    return _lookup("brands").get(key(value))


def is_brand_like(value: object) -> bool:
    """A known brand, or a brand group (``Volkswagen Group``, ``Renault Group``)."""
    k = key(value)
    if not k:
        return False
    if k in _lookup("brands"):
        return True
    return any(k.endswith(w) for w in _words("brand_group_words")) and len(k) > 5


def kind_of(value: object) -> str | None:
    """``domestic``, ``export``, ``overseas_plant`` or ``retail`` when a label names one."""
    return _lookup("kinds").get(key(value))


def is_plant_label(value: object) -> bool:
    """A label that names a plant: a plant word (``US Plant``, ``해외공장``) or a known plant code."""
    k = key(value)
    return bool(k) and (k in _lookup("plant_codes") or any(w in k for w in _words("plant_words")))


def plant_country(value: object) -> str | None:
    """The country of a plant label.

    A known code (``HMI`` → India), a code in brackets (``Russia Plant (HMMR)``), or a country named
    in the label (``Slovakia Plant`` → Slovakia).
    """
    text = unicodedata.normalize("NFKC", str(value))
    codes = _lookup("plant_codes")
    if (country := codes.get(key(text))) is not None:
        return country
    for token in _TOKENS.findall(text):
        if (country := codes.get(key(token))) is not None:
            return country
    stripped = key(text)
    for word in _words("plant_words"):
        stripped = stripped.replace(word, "")
    return market_of(stripped) if stripped else None


def powertrain_of(value: object) -> str | None:
    """A powertrain word (가솔린, LPG, hybrid, EV …) through the loader's own value synonyms."""
    from carsight.ingest.headers import normalise_value, value_lookup

    return value_lookup("powertrain").get(normalise_value(value))


# Recognisers per dimension: (strict match, loose match). Column shares are counted on distinct values.
RECOGNISERS = {
    MARKET: (market_of, is_market_like),
    VEHICLE_CLASS: (vehicle_class_of, vehicle_class_of),
    BRAND: (brand_of, is_brand_like),
    PLANT: (is_plant_label, is_plant_label),
    KIND: (kind_of, kind_of),
    POWERTRAIN: (powertrain_of, powertrain_of),
}


def shares(values: Iterable[object]) -> dict[str, float]:
    """For each dimension, the share of distinct non-empty values it recognises (loosely)."""
    distinct = {key(v): v for v in values if v is not None and key(v)}
    if not distinct:
        return dict.fromkeys(RECOGNISERS, 0.0)
    out = {}
    for dim, (_, loose) in RECOGNISERS.items():
        out[dim] = sum(1 for v in distinct.values() if loose(v)) / len(distinct)
    return out


# ---- what a file says about itself ----------------------------------------------------------
_YEAR = re.compile(r"(?<![0-9])(?:y|fy)?((?:19|20)\d{2})(?:\s*년)?(?![0-9])", re.IGNORECASE)


@dataclass
class Hints:
    """Kind, market, year and month a file names in its file name, sheet name or title lines.

    ``sources`` says where each came from, for the load report.
    """

    kind: str | None = None
    market: str | None = None
    year: int | None = None
    month: int | None = None
    sources: dict[str, str] = field(default_factory=dict)


def _phrases(text: str) -> list[str]:
    """Every run of one to three words, so ``Retail Sales``, ``global plant`` and ``U.S.A`` are seen."""
    tokens = [t for t in re.split(r"[\s_\-–,/()\[\]{}|:;]+", unicodedata.normalize("NFKC", text)) if t]
    out = []
    for n in (3, 2, 1):
        out += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return out


def _found(text: str, lookup, *, also_inside: bool = False) -> set[str]:
    hits = {lookup(p) for p in _phrases(text)}
    hits.discard(None)
    if also_inside:  # Korean compounds: "현지판매실적", "지역별수출실적"
        k = key(text)
        for spelling, canonical in _lookup("kinds").items():
            if len(spelling) >= 2 and not spelling.isascii() and spelling in k:
                hits.add(canonical)
    return hits


def hints_from(texts: list[tuple[str, str]]) -> Hints:
    """Hints from ``(where, text)`` pairs, most specific first (title lines, sheet name, file name).

    A hint is taken only when the texts name exactly one value for it.
    """
    from carsight.ingest.wide import month_of_header

    hints = Hints()
    kinds: dict[str, str] = {}
    markets: dict[str, str] = {}
    years: dict[int, str] = {}
    months: dict[int, str] = {}
    for where, text in texts:
        if not text:
            continue
        for k in _found(text, kind_of, also_inside=True):
            kinds.setdefault(k, where)
        for m in _found(text, market_of):
            markets.setdefault(m, where)
        for y in _YEAR.findall(text):
            years.setdefault(int(y), where)
        for phrase in _phrases(text):
            ym = month_of_header(phrase)
            if ym is not None and len(key(phrase)) >= 3:
                months.setdefault(ym[1], where)
                if ym[0] is not None:
                    years.setdefault(ym[0], where)
    # A plant table that also says "export" or "domestic" is still a plant table (its rows split them).
    if "overseas_plant" in kinds:
        kinds = {"overseas_plant": kinds["overseas_plant"]}
    for name, found in (("kind", kinds), ("market", markets), ("year", years), ("month", months)):
        if len(found) == 1:
            value, where = next(iter(found.items()))
            setattr(hints, name, value)
            hints.sources[name] = where
    return hints
