"""Cleaning and typing the values of one canonical table.

Text, categories mapped onto the schema's allowed values, numbers, dates, yes/no; every bad value
becomes a problem with its reason, so the row is rejected with an explanation instead of the load
failing.
"""

from __future__ import annotations

import datetime as _dt
import json

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carsight.i18n import t
from carsight.ingest import clean as C
from carsight.ingest.vocab import brand_of
from carsight.warehouse import schema as S

REJECTED_COLUMNS = ["row_number", "column_name", "value", "reason", "raw"]
MIN_YEAR = 1900


def reason(lang: str, key: str, **values) -> str:
    """A rejection reason from the catalogue (``ingest.reason.<key>``)."""
    return t(f"ingest.reason.{key}", lang, **values)


def _raw_json(frame: pd.DataFrame, rows: pd.Index) -> pd.Series:
    part = frame.loc[rows].drop(columns=["__row__"], errors="ignore").astype("object")
    part = part.where(part.notna(), None)
    return pd.Series([json.dumps(r, ensure_ascii=False, default=str) for r in part.to_dict("records")], index=rows)


def _as_raw_text(values: pd.Series) -> pd.Series:
    return values.astype("object").map(lambda v: None if v is None or v is pd.NA or v != v else str(v))


def collect(problems, source: pd.DataFrame | None, rows: pd.Series | None = None) -> list[pd.DataFrame]:
    """Rejected-row records (``REJECTED_COLUMNS``) for ``problems``.

    Each problem is (mask, file header, raw values, reason); a header may be a Series (one per row,
    e.g. the month header a figure sat under).
    """
    out = []
    for mask, header, raw, reason in problems:
        if not mask.any():
            continue
        idx = mask[mask].index
        row_numbers = (rows if rows is not None else source["__row__"]).loc[idx]
        raw_json = _raw_json(source, idx) if source is not None else pd.Series(None, index=idx, dtype="object")
        out.append(
            pd.DataFrame(
                {
                    "row_number": row_numbers.to_numpy(dtype="int64"),
                    "column_name": header.loc[idx].to_numpy() if isinstance(header, pd.Series) else header,
                    "value": _as_raw_text(raw.loc[idx]).to_numpy(),
                    "reason": reason,
                    "raw": raw_json.to_numpy(),
                }
            )
        )
    return out


def convert(
    frame: pd.DataFrame,
    table: S.Table,
    required: list[str],
    lang: str,
    year_col: pd.Series | None = None,
    *,
    relaxed: list[str] | None = None,
) -> tuple[pd.DataFrame, list[tuple[pd.Series, str, pd.Series, str]]]:
    """Clean and type every column of ``table`` found in ``frame``.

    ``frame`` has canonical names, raw values, plus ``__row__``; columns the frame lacks come out
    empty. Returns the typed frame and its problems: (mask of bad rows, column, raw values, reason in
    ``lang``).
    """
    out = pd.DataFrame(index=frame.index)
    out["__row__"] = frame["__row__"]
    problems: list[tuple[pd.Series, str, pd.Series, str]] = []
    today = pd.Timestamp(_dt.date.today())
    required_names = ({c.name for c in table.columns if not c.nullable} - set(relaxed or [])) | set(required)
    for col in table.columns:
        name = col.name
        if name not in frame.columns:
            out[name] = empty_column(col, frame.index)
            continue
        raw = frame[name]
        if col.dtype == "string":
            values = C.clean_text(raw)
            if name == "brand":  # one spelling per brand: 현대자동차(주), HYUNDAI, 현대 → Hyundai
                values = map_distinct(values, lambda v: brand_of(v) or v)
            if col.allowed:
                mapped, bad = C._categorical_detail(values, name, col.allowed)
                problems.append((bad, name, raw, reason(lang, "allowed", allowed=", ".join(col.allowed))))
                values = mapped
            out[name] = _arrow_backed(values)
        elif col.dtype in ("int64", "float64"):
            values, bad = C._number_detail(raw, dash_is_zero=col.role == S.COUNT)
            problems.append((bad, name, raw, reason(lang, "number")))
            if col.role == S.COUNT and not col.signed:
                problems.append((values < 0, name, raw, reason(lang, "negative")))
            if col.dtype == "int64":
                fractional = values.notna() & (values != values.round())
                problems.append((fractional & ~bad, name, raw, reason(lang, "whole")))
                if name == "birth_year":
                    insane = values.notna() & ~values.between(MIN_YEAR, today.year)
                    problems.append((insane, name, raw, reason(lang, "range", low=MIN_YEAR, high=today.year)))
                values = values.where(~fractional).round().astype("Int64")
            out[name] = values
        elif col.dtype in ("date", "timestamp"):
            values, bad, ambiguous = _dates(raw, col, year_col)
            problems.append((bad, name, raw, reason(lang, "date")))
            problems.append((ambiguous, name, raw, reason(lang, "ambiguous")))
            future = values > today + pd.Timedelta(days=366)
            past = values < pd.Timestamp(f"{MIN_YEAR}-01-01")
            problems.append((future, name, raw, reason(lang, "future")))
            problems.append((past, name, raw, reason(lang, "past")))
            if col.role == S.MONTH or col.dtype == "date":
                values = values.dt.normalize()
            if col.role == S.MONTH:
                values = values.dt.to_period("M").dt.to_timestamp()
            out[name] = values.astype("datetime64[ns]")
        elif col.dtype == "boolean":
            values, bad = C._boolean_detail(raw)
            problems.append((bad, name, raw, reason(lang, "boolean")))
            out[name] = values
        else:  # pragma: no cover - schema types are closed
            out[name] = raw
        if name in required_names:
            missing = out[name].isna() & ~_any(problems, name)
            problems.append((missing, name, raw, reason(lang, "required")))
    return out, problems


def map_distinct(values: pd.Series, func) -> pd.Series:
    """Apply ``func`` to each distinct non-missing value of a text column, not to each row.

    A column of millions of rows holds a few dozen brands.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = pa.array([func(v) for v in uniques], type=pa.large_string())
    taken = pc.take(mapped, pa.array(codes, mask=codes < 0))
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=values.index)


def _arrow_backed(values: pd.Series) -> pd.Series:
    """Text as Arrow-backed strings (faster than ``astype`` from Python strings)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return values
    arr = pa.array(values.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=values.index)


def _any(problems, name: str) -> pd.Series | bool:
    masks = [m for m, col, _, _ in problems if col == name]
    if not masks:
        return False
    total = masks[0].copy()
    for m in masks[1:]:
        total |= m
    return total


def _dates(raw: pd.Series, col: S.Column, year_col: pd.Series | None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Dates, plus a month number (1..12) beside a year column or a year in the name for MONTH columns."""
    if col.role == S.MONTH and year_col is not None:
        month_num = pd.to_numeric(raw.astype("string").str.extract(r"^\s*(\d{1,2})\s*월?\s*$")[0], errors="coerce")
        year_num = pd.to_numeric(year_col.astype("string").str.extract(r"(\d{4})")[0], errors="coerce")
        usable = month_num.between(1, 12) & year_num.notna()
        if usable.any():
            values, bad, ambiguous = C._date_detail(raw.where(~usable))
            built = pd.to_datetime(
                pd.DataFrame({"year": year_num[usable], "month": month_num[usable], "day": 1}), errors="coerce"
            )
            values = values.copy()
            values[usable] = built
            return values, bad & ~usable, ambiguous & ~usable
    return C._date_detail(raw)


def empty_column(col: S.Column, index: pd.Index) -> pd.Series:
    """An all-missing column typed for ``col``."""
    dtype = {
        "string": pd.StringDtype("pyarrow"),
        "int64": "Int64",
        "float64": "float64",
        "date": "datetime64[ns]",
        "timestamp": "datetime64[ns]",
        "boolean": "boolean",
    }[col.dtype]
    return pd.Series(pd.NA if col.dtype in ("string", "int64", "boolean") else None, index=index, dtype=dtype)
