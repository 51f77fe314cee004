"""Vectorised cleaning of the values people type into spreadsheets.

Numbers such as ``" 4,120 "``, ``₩1,200,000``, ``(350)`` or ``-``; dates in a dozen spellings;
categorical values in Korean and English. Costly work runs once per distinct value, never once per
row.
"""

from __future__ import annotations

import datetime as _dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carsight.ingest.headers import boolean_lookup, normalise_value, value_lookup

# Dashes that mean "none" in count columns; blank counts too.
_DASHES = {"-", "–", "—", "―", "－", "‐", "ㅡ"}

_CURRENCY = re.compile(r"(krw|usd|eur|won|원|₩|\$|￦|€|대|건|명|개|units?)", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$", re.IGNORECASE)


def _as_text(series: pd.Series) -> pd.Series:
    """Strings with NFKC applied (full-width digits, ＄, ，), stripped; NA stays NA."""
    text = series.astype("string")
    return text.str.normalize("NFKC").str.strip()


def _number_detail(series: pd.Series, *, dash_is_zero: bool) -> tuple[pd.Series, pd.Series]:
    """(values, bad): ``bad`` marks non-blank values that are not numbers."""
    if pd.api.types.is_bool_dtype(series):
        series = series.astype("Int64")
    if pd.api.types.is_numeric_dtype(series):
        values = pd.to_numeric(series, errors="coerce").astype("float64")
        if dash_is_zero:
            values = values.fillna(0.0)
        return values, pd.Series(False, index=series.index)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    text = _as_text(pd.Series(uniques, dtype="object"))
    blank = text.isna() | (text == "")
    dash = text.isin(_DASHES)
    negative = text.str.match(r"^\(.*\)$", na=False) | text.str.match(r"^△", na=False)
    body = text.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.lstrip("△▲")
    body = body.str.replace(_CURRENCY, "", regex=True).str.replace(r"[\s,'_]", "", regex=True)
    # "1,234-" is an accounting negative some exports write.
    trailing = body.str.match(r"^\d[\d.]*-$", na=False)
    body = body.where(~trailing, "-" + body.str.rstrip("-"))
    ok = body.str.match(_NUMBER, na=False)
    parsed = pd.to_numeric(body.where(ok), errors="coerce").astype("float64")
    parsed = parsed.where(~negative, -parsed.abs())
    empty = blank | dash
    if dash_is_zero:
        parsed = parsed.mask(empty, 0.0)
    bad_u = (~ok & ~empty).to_numpy()
    values_u = parsed.to_numpy(dtype="float64")
    na = codes < 0
    values = np.where(
        na, 0.0 if dash_is_zero else np.nan, values_u[np.where(na, 0, codes)] if len(values_u) else np.nan
    )
    bad = np.where(na, False, bad_u[np.where(na, 0, codes)] if len(bad_u) else False)
    return pd.Series(values, index=series.index, dtype="float64"), pd.Series(bad, index=series.index, dtype=bool)


def clean_number(series: pd.Series, *, dash_is_zero: bool) -> pd.Series:
    """Numbers from spreadsheet text.

    Thousands separators, padding, currency signs (₩ 원 $ KRW), parentheses or △ negatives and
    full-width digits are handled. With ``dash_is_zero`` (count columns) ``-``, ``–`` and blank mean
    0; otherwise (money) blank is missing. Anything else that is not a number becomes NaN.
    """
    return _number_detail(series, dash_is_zero=dash_is_zero)[0]


# ---- dates -----------------------------------------------------------------------------------------
_YMD = re.compile(
    r"^(?P<year>\d{4})\s*(?:[-./]|년)\s*(?P<month>\d{1,2})\s*(?:(?:[-./]|월)\s*(?P<day>\d{1,2})\s*일?)?\.?\s*월?"
    r"(?:[T\s]+(?P<ampm>오전|오후)?\s*(?P<hour>\d{1,2})(?::|시\s*)(?P<minute>\d{1,2})\s*분?"
    r"(?::(?P<second>\d{1,2})(?:\.\d+)?)?\s*초?\s*(?P<ampm2>[ap]m)?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_COMPACT = re.compile(
    r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})?(?:\s*(?P<hour>\d{2})(?P<minute>\d{2})(?P<second>\d{2})?)?$"
)
_DMY = re.compile(
    r"^(?P<a>\d{1,2})[./-](?P<b>\d{1,2})[./-](?P<year>\d{4})"
    r"(?:\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?$"
)
# Excel serial day numbers: 1982-01-01 .. 2064-12-31 (earlier looks like a count, not a date).
_SERIAL_MIN, _SERIAL_MAX = 29952, 60000
_EXCEL_EPOCH = np.datetime64("1899-12-30")


def _date_detail(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(timestamps, bad, ambiguous) for any date spelling; see :func:`parse_dates`."""
    index = series.index
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        # Years outside 1678..2261 do not fit nanoseconds; such dates are typos, so they are bad.
        lo, hi = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
        out_of_range = values.notna() & ((values < lo) | (values > hi))
        values = values.mask(out_of_range).astype("datetime64[ns]")
        return values, out_of_range.astype(bool), pd.Series(False, index=index)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        series = series.astype("float64")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    u = pd.Series(uniques, dtype="object")
    parsed = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
    ambiguous = pd.Series(False, index=u.index)
    # Values that are already dates (Excel cells, parquet) need no text parsing.
    is_dt = u.map(lambda v: isinstance(v, (_dt.date, pd.Timestamp, np.datetime64)))
    dt_failed = pd.Series(False, index=u.index)
    if is_dt.any():
        parsed[is_dt] = pd.to_datetime(u[is_dt], errors="coerce")
        dt_failed = is_dt & parsed.isna()
    numeric = u.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool))
    text = _as_text(u.where(~is_dt & ~numeric).astype("object"))
    if numeric.any():
        num = pd.to_numeric(u[numeric], errors="coerce")
        text[numeric] = num.map(lambda v: f"{v:.0f}" if v == v and float(v).is_integer() else str(v))
    todo = parsed.isna() & text.notna() & (text != "")
    # Plain numbers: YYYYMMDD or an Excel serial.
    numtext = text.where(todo)
    serial = pd.to_numeric(numtext.where(numtext.str.match(r"^\d{5}(\.\d+)?$", na=False)), errors="coerce")
    in_range = serial.between(_SERIAL_MIN, _SERIAL_MAX)
    if in_range.any():
        days = serial[in_range].to_numpy(dtype="float64")
        parsed[in_range] = _EXCEL_EPOCH + (days * 86400).round().astype("timedelta64[s]")
    todo &= parsed.isna()
    for pattern in (_YMD, _COMPACT):
        if not todo.any():
            break
        parts = text.where(todo).str.extract(pattern)
        hit = parts["year"].notna() & todo
        if hit.any():
            parsed[hit] = _from_parts(parts[hit])
            todo &= ~hit
    if todo.any():
        parts = text.where(todo).str.extract(_DMY)
        hit = parts["year"].notna() & todo
        if hit.any():
            a = pd.to_numeric(parts.loc[hit, "a"])
            b = pd.to_numeric(parts.loc[hit, "b"])
            # Day-first or month-first is decided per column: unambiguous only if one side exceeds 12.
            day_first = bool((a > 12).any()) and not bool((b > 12).any())
            month_first = bool((b > 12).any()) and not bool((a > 12).any())
            if day_first or month_first:
                frame = parts.loc[hit].copy()
                frame["day"], frame["month"] = (
                    (parts.loc[hit, "a"], parts.loc[hit, "b"])
                    if day_first
                    else (
                        parts.loc[hit, "b"],
                        parts.loc[hit, "a"],
                    )
                )
                parsed[hit] = _from_parts(frame)
            else:
                ambiguous[hit] = True
            todo &= ~hit
    bad_u = (todo | dt_failed | (parsed.isna() & text.notna() & (text != "") & ~ambiguous)).to_numpy()
    amb_u = ambiguous.to_numpy()
    values_u = parsed.to_numpy(dtype="datetime64[ns]")
    na = codes < 0
    safe = np.where(na, 0, codes)
    if len(values_u) == 0:
        return (
            pd.Series(pd.NaT, index=index, dtype="datetime64[ns]"),
            pd.Series(False, index=index),
            pd.Series(False, index=index),
        )
    values = np.where(na, np.datetime64("NaT"), values_u[safe])
    bad = np.where(na, False, bad_u[safe])
    amb = np.where(na, False, amb_u[safe])
    return (
        pd.Series(values, index=index, dtype="datetime64[ns]"),
        pd.Series(bad, index=index, dtype=bool),
        pd.Series(amb, index=index, dtype=bool),
    )


def _from_parts(parts: pd.DataFrame) -> pd.Series:
    frame = pd.DataFrame(
        {
            "year": pd.to_numeric(parts["year"]),
            "month": pd.to_numeric(parts["month"]),
            "day": pd.to_numeric(parts["day"]).fillna(1) if "day" in parts else 1,
        },
        index=parts.index,
    )
    for unit in ("hour", "minute", "second"):
        frame[unit] = pd.to_numeric(parts[unit]).fillna(0) if unit in parts else 0
    for col in ("ampm", "ampm2"):
        if col in parts:
            pm = parts[col].fillna("").str.lower().isin(["오후", "pm"])
            am = parts[col].fillna("").str.lower().isin(["오전", "am"])
            frame.loc[pm & (frame.hour < 12), "hour"] += 12
            frame.loc[am & (frame.hour == 12), "hour"] = 0
    return pd.to_datetime(frame, errors="coerce")


def parse_dates(series: pd.Series) -> pd.Series:
    """Dates and timestamps from the spellings people use.

    ``2024-03-05``, ``2024.03.05``, ``2024/3/5``, ``20240305``, ``2024년 3월 5일``, ``2024-03`` (first
    of the month), Excel serial day numbers, ``05/03/2024`` when the column makes the order
    unambiguous (some first field above 12 means day-first), and any of these followed by a time
    (``14:05``, ``오후 2:05``). Anything else, and ambiguous day/month orders, become NaT.
    """
    return _date_detail(series)[0]


# ---- categories --------------------------------------------------------------------------------------
def _categorical_detail(series: pd.Series, column: str, allowed: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    """(values, bad): map spellings onto ``allowed``; unknown non-blank values are bad."""
    lookup = dict(value_lookup(column))
    for value in allowed:
        lookup.setdefault(normalise_value(value), value)
    encoded = pc.dictionary_encode(to_arrow_text(series))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
    uniques = encoded.dictionary.to_pylist()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")
    mapped_u = [lookup.get(normalise_value(v)) if v.strip() else None for v in uniques]
    blank_u = [not v.strip() for v in uniques]
    mapped_arr = np.array(mapped_u + [None], dtype=object)
    bad_arr = np.array([m is None and not b for m, b in zip(mapped_u, blank_u, strict=True)] + [False], dtype=bool)
    values = pd.Series(mapped_arr[codes], index=series.index, dtype="string")
    bad = pd.Series(bad_arr[codes], index=series.index, dtype=bool)
    return values, bad


def _boolean_detail(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean"), pd.Series(False, index=series.index)
    lookup = boolean_lookup()
    codes, uniques = pd.factorize(series.astype("object"), use_na_sentinel=True)
    mapped_u: list[bool | None] = []
    bad_u: list[bool] = []
    for v in uniques:
        key = normalise_value(v if not isinstance(v, float) or not v.is_integer() else int(v))
        if not key:
            mapped_u.append(None)
            bad_u.append(False)
        else:
            flag = lookup.get(key)
            mapped_u.append(flag)
            bad_u.append(flag is None)
    mapped_arr = np.array(mapped_u + [None], dtype=object)
    bad_arr = np.array(bad_u + [False], dtype=bool)
    values = pd.Series(mapped_arr[codes], index=series.index, dtype="boolean")
    bad = pd.Series(bad_arr[codes], index=series.index, dtype=bool)
    return values, bad


def to_arrow_text(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The series as an Arrow string array (zero-copy when it is already Arrow-backed)."""
    if isinstance(series.dtype, pd.StringDtype):
        if series.dtype.storage == "pyarrow":
            return pa.array(series.array, from_pandas=True)
        return pa.array(series.astype("object"), from_pandas=True, type=pa.large_string())
    values = series.astype("object").map(lambda v: v if isinstance(v, str) else None if v is None or v != v else str(v))
    return pa.array(values, from_pandas=True, type=pa.large_string())


def from_arrow_text(arr, index: pd.Index) -> pd.Series:
    """An Arrow string array as a pandas Series of Arrow-backed strings (no copy to Python objects)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def clean_text(series: pd.Series) -> pd.Series:
    """Strings: NFC, surrounding spaces removed, blank as missing.

    Integral floats (Excel ids such as ``10234.0``) lose the ``.0``. Runs in Arrow, so millions of
    ids cost little.
    """
    if pd.api.types.is_float_dtype(series):
        as_int = series.dropna()
        if len(as_int) and (as_int == as_int.round()).all():
            series = series.astype("Int64")
    if pd.api.types.is_bool_dtype(series) or (
        pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.StringDtype)
    ):
        series = series.astype("string")
    if series.dtype == object:
        series = series.map(
            lambda v: v if isinstance(v, str) else None if v is None or v is pd.NA or v != v else str(v)
        )
    arr = to_arrow_text(series)
    if pc.all(pc.string_is_ascii(arr)).as_py() is False:
        arr = pc.utf8_normalize(arr, "NFC")
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return from_arrow_text(arr, series.index)
