"""Wide layouts and subtotals.

Month columns (``1월``..``12월``, ``Jan``..``Dec``, ``2024-01``) melted into monthly rows, "total"
columns dropped, and subtotal rows (``합계``, ``Total``, ``소계``) told apart from the facts so nothing
is counted twice.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carsight.errors import InputError
from carsight.ingest.headers import YEAR, header_lookup, normalise_header, normalise_value

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")  # fmt: skip
_KO_MONTH = re.compile(r"^(\d{1,2})\s*월$")
_EN_MONTH = re.compile(r"^([a-z]{3,9})\.?(?:[\s\-'/,.]*(\d{2}|\d{4}))?$")
_YM = re.compile(r"^((?:19|20)\d{2})\s*(?:[-./]\s*(\d{1,2})(?:[-./]\d{1,2})?|(\d{2}))$")
_KO_YM = re.compile(r"^(\d{2}|\d{4})\s*년\s*(\d{1,2})\s*월$")
_FILE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")

# Labels of subtotal rows and of total columns, compared in normalised form.
SUBTOTAL_WORDS = ("total", "합계", "총합", "소계", "계", "총계", "subtotal", "grandtotal", "sum", "누계")
_SUBTOTAL = {normalise_value(w) for w in SUBTOTAL_WORDS}
_SUBTOTAL_SUFFIX = ("total", "합계", "소계", "총계")
# A label that ends in a subtotal word, before trailing punctuation and the next field.
_SUBTOTAL_HINT = r"(total|sum|계|합|ｔｏｔａｌ|ｓｕｍ)[\s.:;,)\]}\-_*=·]*(\x1f|$)"


def _is_subtotal_label(value: str) -> bool:
    key = normalise_value(value)
    return bool(key) and (key in _SUBTOTAL or key.endswith(_SUBTOTAL_SUFFIX))


_TOTAL_COLUMNS = _SUBTOTAL | {"ytd", "연간", "연계", "년계", "누적", "연간합계", "annual", "year"}


def month_of_header(header: object) -> tuple[int | None, int] | None:
    """``(year or None, month)`` when a header names a month, else None."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    if m := _KO_MONTH.match(text):
        month = int(m.group(1))
        return (None, month) if 1 <= month <= 12 else None
    if m := _KO_YM.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        year = year + 2000 if year < 100 else year
        return (year, month) if 1 <= month <= 12 else None
    if m := _YM.match(text):
        year, month = int(m.group(1)), int(m.group(2) or m.group(3))
        return (year, month) if 1 <= month <= 12 else None
    if m := _EN_MONTH.match(text):
        word = m.group(1)
        for i, name in enumerate(_MONTHS):
            # A prefix ("Jan", "Sept") or the full name with one letter wrong or missing ("Febuary").
            if name.startswith(word) or (word == "sept" and i == 8) or _one_edit(word, name):
                if len(word) < 3:
                    return None
                year = m.group(2)
                if year is None:
                    return (None, i + 1)
                y = int(year)
                return (y + 2000 if y < 100 else y, i + 1)
    return None


def _one_edit(word: str, name: str) -> bool:
    """``word`` is ``name`` (5+ letters) with one letter left out, added or changed."""
    if len(name) < 5 or abs(len(word) - len(name)) > 1 or word[:3] != name[:3]:
        return False
    if len(word) == len(name):
        return sum(a != b for a, b in zip(word, name, strict=True)) == 1
    short, long = sorted((word, name), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def is_total_header(header: object) -> bool:
    """A column holding the sum of others (``합계``, ``Total``, ``YTD``): never melted as a month."""
    return normalise_header(header) in _TOTAL_COLUMNS


def is_subtotal(series: pd.Series) -> pd.Series:
    """True where a label cell says the row is a subtotal.

    ``Total``, ``합계``, ``총합``, ``소계``, ``계``, ``총계``, ``Sub-total``, ``Grand Total`` (any case), or
    a label ending in one (``SUV 소계``).
    """
    return subtotal_rows(series.to_frame(name="label"), ["label"])


def subtotal_rows(frame: pd.DataFrame, columns: list) -> pd.Series:
    """True for rows where any of ``columns`` holds a subtotal label (see :func:`is_subtotal`).

    The label columns are joined and searched once with a regular expression (Arrow, vectorised);
    only the few rows it flags get the exact check.
    """
    from carsight.ingest.clean import to_arrow_text

    columns = [c for c in columns if pd.api.types.is_string_dtype(frame[c]) or pd.api.types.is_object_dtype(frame[c])]
    flags = np.zeros(len(frame), dtype=bool)
    if not columns or not len(frame):
        return pd.Series(flags, index=frame.index)
    arrays = [to_arrow_text(frame[c]).cast(pa.large_string()) for c in columns]
    sep = pa.scalar("\x1f", pa.large_string())
    joined = arrays[0] if len(arrays) == 1 else pc.binary_join_element_wise(*arrays, sep, null_handling="replace")
    hint = pc.match_substring_regex(joined, _SUBTOTAL_HINT, ignore_case=True).fill_null(False)
    candidates = np.flatnonzero(np.asarray(hit_array(hint), dtype=bool))
    if len(candidates):
        take = pa.array(candidates)
        verdict = np.zeros(len(candidates), dtype=bool)
        for arr in arrays:
            values = pc.take(arr, take).to_pylist()
            verdict |= np.array([v is not None and _is_subtotal_label(v) for v in values], dtype=bool)
        flags[candidates] = verdict
    return pd.Series(flags, index=frame.index)


def hit_array(arr) -> np.ndarray:
    """An Arrow array as NumPy (copying where it must)."""
    return arr.to_numpy(zero_copy_only=False)


def year_from_name(name: str | None) -> int | None:
    """The last four-digit year in a file name, or None."""
    if not name:
        return None
    years = _FILE_YEAR.findall(unicodedata.normalize("NFC", str(name)))
    return int(years[-1]) if years else None


def month_columns(headers: list[str]) -> dict[str, tuple[int | None, int]]:
    """Headers that name months (at least two of them, else the file is not wide by month)."""
    found = {h: ym for h in headers if (ym := month_of_header(h)) is not None}
    return found if len(found) >= 2 else {}


def _year_column(frame: pd.DataFrame) -> str | None:
    lookup = header_lookup("sales_monthly")
    for column in frame.columns:
        if column == YEAR or lookup.get(normalise_header(column)) == YEAR:
            return column
    return None


def melt_wide(
    frame: pd.DataFrame, *, year: int | None = None, file_name: str | None = None, value_name: str = "units"
) -> pd.DataFrame:
    """Wide month columns → one row per month, in a ``month`` column (first day of the month).

    Month headers may be ``1월``..``12월``, ``Jan``..``Dec``, ``Jan.``, ``January``, or carry their own year
    (``2024-01``, ``2024.01``, ``202401``, ``2024년 1월``, ``Jan-24``). The year of the others comes from
    a year column (``연도``/``year``), then ``year``, then a 4-digit year in ``file_name``; without one,
    an :class:`InputError`. Total columns (``합계``, ``Total``) are dropped, not melted. The other
    columns are repeated on every month row. A frame with no month columns is returned unchanged.
    Values are not cleaned here (see :func:`clean_number`).
    """
    months = month_columns([str(c) for c in frame.columns])
    if not months:
        return frame
    totals = [c for c in frame.columns if c not in months and is_total_header(c)]
    year_col = _year_column(frame)
    ids = [c for c in frame.columns if c not in months and c not in totals and c != year_col]
    if any(y is None for y, _ in months.values()):
        if year_col is not None:
            years = pd.to_numeric(frame[year_col].astype("string").str.extract(r"(\d{4})")[0], errors="coerce")
        else:
            fixed = year if year is not None else year_from_name(file_name)
            if fixed is None:
                raise InputError(
                    "month columns have no year",
                    file=file_name,
                    column=next(h for h, (y, _) in months.items() if y is None),
                    expected="a year column (연도/year), --year YYYY, or a year in the file name",
                )
            years = pd.Series(fixed, index=frame.index, dtype="float64")
    else:
        years = pd.Series(np.nan, index=frame.index)
    pieces = []
    for header, (y, m) in months.items():
        part = frame[ids].copy()
        row_years = years if y is None else pd.Series(float(y), index=frame.index)
        part["month"] = pd.to_datetime(pd.DataFrame({"year": row_years, "month": m, "day": 1}), errors="coerce").astype(
            "datetime64[ns]"
        )
        part[value_name] = frame[header].astype("object")
        part["__source_row__"] = np.arange(len(frame))
        pieces.append(part)
    long = pd.concat(pieces, ignore_index=True)
    # Each source row's months stay together and in calendar order.
    long = long.sort_values(["__source_row__", "month"], kind="stable", na_position="last")
    long = long.drop(columns="__source_row__").reset_index(drop=True)
    return long
