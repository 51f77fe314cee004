"""Recognising headers and categorical values.

The synonym dictionary (``synonyms.toml``) and the normalisation that makes "Customer No",
"customer_no" and "고객 번호 (필수)" compare equal.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from carsight.warehouse import schema as S

YEAR = "__year__"  # helper column: a year beside a month number, never stored

# Unit and note suffixes people put in headers: "(단위: 대)", "[원]", "（천원）", "(필수)".
_BRACKETS = re.compile(r"[\(\[\{（【［<〈][^\)\]\}）】］>〉]*[\)\]\}）】］>〉]")
_UNIT_TAIL = re.compile(r"(단위|unit)\s*[:：].*$", re.IGNORECASE)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def nfc(text: str) -> str:
    """``text`` in Unicode NFC (macOS writes Hangul decomposed)."""
    return unicodedata.normalize("NFC", text)


def normalise_header(name: object) -> str:
    """The comparison form of a header.

    NFKC (full-width letters), lower case, bracketed notes and unit suffixes removed, spaces and
    punctuation removed.
    """
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    stripped = _BRACKETS.sub("", text)
    stripped = _UNIT_TAIL.sub("", stripped)
    out = _PUNCT.sub("", stripped)
    # A header that is nothing but a bracketed note ("(단위: 대)") keeps its letters.
    return out or _PUNCT.sub("", text)


def normalise_value(value: str) -> str:
    """The comparison form of a categorical value (same rules as headers, brackets kept)."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", str(value)).strip().lower())


@lru_cache(maxsize=1)
def synonyms() -> dict:
    """The parsed ``synonyms.toml``."""
    text = resources.files(__package__).joinpath("synonyms.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@dataclass
class HeaderMatch:
    """How a file's headers map onto a table's columns."""

    columns: dict[str, str] = field(default_factory=dict)  # original header -> canonical column
    unknown: list[str] = field(default_factory=list)  # headers matching nothing
    duplicates: list[str] = field(default_factory=list)  # headers naming a column already taken


@lru_cache(maxsize=64)
def header_lookup(table_name: str) -> dict[str, str]:
    """Normalised spelling -> canonical column, for one table (table-specific spellings win)."""
    table = S.get_table(table_name)
    data = synonyms()
    lookup: dict[str, str] = {}
    names = set(table.column_names)
    for column, spellings in data.get("columns", {}).items():
        if column in names:
            for spelling in spellings:
                lookup.setdefault(normalise_header(spelling), column)
    for column, spellings in data.get("pseudo", {}).items():
        for spelling in spellings:
            lookup.setdefault(normalise_header(spelling), column)
    for column, spellings in data.get("tables", {}).get(table_name, {}).items():
        for spelling in spellings:
            lookup[normalise_header(spelling)] = column
    for column in table.column_names:  # the canonical name always means itself
        lookup[normalise_header(column)] = column
    return lookup


def spellings_for(table_name: str, column: str) -> list[str]:
    """Every header spelling that is recognised as ``column`` (for error messages and docs)."""
    data = synonyms()
    out = [column]
    out += data.get("columns", {}).get(column, [])
    out += data.get("tables", {}).get(table_name, {}).get(column, [])
    return list(dict.fromkeys(out))


def match_headers(headers: list[str], table: S.Table, mapping: dict[str, str] | None = None) -> HeaderMatch:
    """Map ``headers`` onto ``table``'s columns.

    ``mapping`` (source header -> column) always wins; its source names are compared both as written
    and normalised.
    """
    lookup = header_lookup(table.name)
    result = HeaderMatch()
    taken: set[str] = set()
    forced: dict[str, str] = {}
    if mapping:
        by_norm = {normalise_header(h): h for h in headers}
        for src, dst in mapping.items():
            header = src if src in headers else by_norm.get(normalise_header(src))
            if header is None:
                continue  # reported by the caller, which knows the file name
            forced[header] = dst
            taken.add(dst)
    for header in headers:
        if header in forced:
            result.columns[header] = forced[header]
            continue
        column = lookup.get(normalise_header(header))
        if column is None:
            result.unknown.append(header)
        elif column in taken:
            result.duplicates.append(header)
        else:
            result.columns[header] = column
            taken.add(column)
    return result


@lru_cache(maxsize=64)
def value_lookup(column: str) -> dict[str, str]:
    """Normalised spelling -> allowed value, for a categorical column."""
    data = synonyms().get("values", {})
    lookup: dict[str, str] = {}
    for canonical, spellings in data.get(column, {}).items():
        lookup[normalise_value(canonical)] = canonical
        for spelling in spellings:
            lookup.setdefault(normalise_value(spelling), canonical)
    return lookup


@lru_cache(maxsize=1)
def boolean_lookup() -> dict[str, bool]:
    """Every spelling of yes and no the synonyms file knows, lower-cased."""
    data = synonyms().get("values", {}).get("__boolean__", {})
    lookup: dict[str, bool] = {}
    for key, flag in (("true", True), ("false", False)):
        for spelling in data.get(key, []):
            lookup[normalise_value(spelling)] = flag
    return lookup
