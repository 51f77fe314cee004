"""From a file to a clean frame in one canonical table's shape: headers recognised, constants
filled, wide layouts melted, subtotals set aside, values cleaned and validated, bad rows explained
row by row. No warehouse is needed, so file-in/file-out commands use this as well as the loader."""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.errors import InputError
from carsight.i18n import t
from carsight.ingest import clean as C
from carsight.ingest.headers import YEAR, HeaderMatch, match_headers, normalise_header, spellings_for
from carsight.ingest.read import FallBack, Source, iter_chunks, open_source
from carsight.ingest.wide import is_total_header, melt_wide, month_columns, subtotal_rows
from carsight.warehouse import schema as S

REJECTED_COLUMNS = ["row_number", "column_name", "value", "reason", "raw"]
WIDE_MODES = ("auto", "months", "markets", "none")
# Free-text columns are never read as subtotal labels ("합계 금액 문의" is a real consultation).
_FREE_TEXT = {"text", "name", "email", "phone", "offer", "description"}
_MIN_YEAR = 1900


@dataclass
class ReadResult:
    """A file read into one table's shape.

    ``frame`` has every column of the table (canonical names, schema types; columns the file lacks
    are missing values), unique by the table's natural key. ``rejected`` has one row per problem:
    ``row_number`` (1 = first data row after the header, in the original file even when it was
    melted), ``column_name`` (as in the file), ``value``, ``reason`` and the ``raw`` row as JSON.
    """

    frame: pd.DataFrame
    rejected: pd.DataFrame
    subtotals: int
    unknown_columns: list[str]
    file: str = ""
    table: str = ""
    rows_read: int = 0
    rejected_rows: int = 0
    duplicates: int = 0
    columns_found: list[str] = field(default_factory=list)
    row_numbers: pd.Series | None = None
    warnings: list[str] = field(default_factory=list)
    wide: str = "none"
    encoding: str | None = None


@dataclass
class _Plan:
    src: Source
    table: S.Table
    match: HeaderMatch
    constants: dict
    year: int | None
    required: list[str]
    lang: str
    wide: str = "none"  # months | markets | none
    value_headers: list[str] = field(default_factory=list)  # file headers melted into the count column
    dropped_totals: list[str] = field(default_factory=list)

    @property
    def count_column(self) -> str | None:
        return next((c.name for c in self.table.columns if c.role == S.COUNT), None)

    @property
    def month_column(self) -> str | None:
        return next((c.name for c in self.table.columns if c.role == S.MONTH and not c.nullable), None)


def _lang() -> str:
    from carsight.config import get_settings

    try:
        return get_settings().lang
    except Exception:  # a broken config file must not stop a file from being read
        return "ko"


def _reason(plan: _Plan, key: str, **values) -> str:
    return t(f"ingest.reason.{key}", plan.lang, **values)


# ---- planning ------------------------------------------------------------------------------------------
def _plan(
    src: Source,
    table: S.Table,
    mapping: dict[str, str] | None,
    constants: dict | None,
    year: int | None,
    required: list[str] | None,
    wide: str | None,
) -> _Plan:
    names = set(table.column_names)
    mapping = dict(mapping or {})
    for src_name, dst in mapping.items():
        if dst not in names and dst != YEAR and dst != "year":
            raise InputError(
                f"--map {src_name}={dst}: table {table.name} has no column '{dst}'",
                file=src.name,
                column=dst,
                expected="one of " + ", ".join(table.column_names),
            )
        if dst == "year":
            mapping[src_name] = YEAR
        if src_name not in src.headers and normalise_header(src_name) not in {normalise_header(h) for h in src.headers}:
            raise InputError(
                f"--map {src_name}={dst}: the file has no column '{src_name}'",
                file=src.name,
                column=src_name,
                expected="one of " + ", ".join(src.headers),
            )
    constants = dict(constants or {})
    for key in constants:
        if key not in names:
            raise InputError(
                f"--set {key}=…: table {table.name} has no column '{key}'",
                file=src.name,
                column=key,
                expected="one of " + ", ".join(table.column_names),
            )
    for col in required or []:
        if col not in names:
            raise InputError(f"required column '{col}' is not a column of {table.name}", column=col)
    match = match_headers(src.headers, table, mapping)
    plan = _Plan(src, table, match, constants, year, list(required or []), _lang())
    mode = (wide or "auto").lower()
    if mode not in WIDE_MODES:
        raise InputError(f"unknown wide layout '{wide}'", expected=" or ".join(WIDE_MODES))
    mapped = set(match.columns.values())
    count, month = plan.count_column, plan.month_column
    leftovers = list(match.unknown)
    if mode in ("auto", "months") and count and month and month not in mapped and count not in mapped:
        months = month_columns(leftovers)
        if months:
            plan.wide = "months"
            plan.value_headers = list(months)
        elif mode == "months":
            raise InputError("no month columns found", file=src.name, expected="headers such as 1월, Jan, 2024-01")
    market_free = "market" not in mapped and "market" not in constants and count not in mapped
    if plan.wide == "none" and mode in ("auto", "markets") and "market" in names and count and market_free:
        candidates = [h for h in leftovers if not is_total_header(h)]
        if mode == "markets" and not candidates:
            raise InputError("no market columns found", file=src.name, expected="one column per market")
        if candidates:
            plan.wide = "markets" if mode == "markets" else "maybe-markets"
            plan.value_headers = candidates
    if plan.wide != "none":
        plan.dropped_totals = [h for h in leftovers if h not in plan.value_headers and is_total_header(h)]
        match.unknown = [h for h in leftovers if h not in plan.value_headers and h not in plan.dropped_totals]
    _check_required(plan)
    return plan


def _check_required(plan: _Plan) -> None:
    table = plan.table
    have = set(plan.match.columns.values()) | set(plan.constants)
    if plan.wide != "none":
        have |= {plan.count_column or ""}
        have |= {"month"} if plan.wide == "months" else {"market"}
    needed = [c.name for c in table.columns if not c.nullable] + plan.required
    missing = [c for c in dict.fromkeys(needed) if c not in have]
    if not missing:
        return
    looked = "; ".join(f"{c}: " + ", ".join(spellings_for(table.name, c)[:10]) for c in missing)
    raise InputError(
        f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} for table {table.name}; "
        f"looked for headers {looked}",
        file=plan.src.name,
        column=missing[0],
        expected="one of those headers, --map 'YOUR HEADER=" + missing[0] + "' or --set " + missing[0] + "=VALUE",
    )


def _text_headers(plan: _Plan) -> set[str]:
    """File headers to read as text whatever they look like (ids keep leading zeros)."""
    out = set(plan.match.unknown) | set(plan.match.duplicates)
    for header, column in plan.match.columns.items():
        if column == YEAR:
            continue
        col = plan.table.column(column)
        if col.dtype in ("string", "boolean"):
            out.add(header)
    return out


# ---- one chunk -------------------------------------------------------------------------------------------
@dataclass
class _ChunkResult:
    frame: pd.DataFrame
    rejected: list[pd.DataFrame]
    subtotals: int
    rows_read: int


def _raw_json(frame: pd.DataFrame, rows: pd.Index) -> pd.Series:
    part = frame.loc[rows].drop(columns=["__row__"], errors="ignore").astype("object")
    part = part.where(part.notna(), None)
    return pd.Series([json.dumps(r, ensure_ascii=False, default=str) for r in part.to_dict("records")], index=rows)


def _as_raw_text(values: pd.Series) -> pd.Series:
    return values.astype("object").map(lambda v: None if v is None or v is pd.NA or v != v else str(v))


def _process(chunk_frame: pd.DataFrame, first_row: int, errors: list, plan: _Plan) -> _ChunkResult:
    df = chunk_frame
    n_total = len(df)
    df.index = pd.RangeIndex(n_total)
    df["__row__"] = np.arange(first_row, first_row + n_total, dtype="int64")
    source_cols = [c for c in df.columns if c != "__row__"]
    # Readers turn empty cells into missing values, so a blank line is a row of missing values.
    blank = df[source_cols].isna().all(axis=1)
    rejected: list[pd.DataFrame] = []
    error_rows = {e[0] for e in errors}
    if errors:
        rejected.append(
            pd.DataFrame(
                {
                    "row_number": [e[0] for e in errors],
                    "column_name": [None] * len(errors),
                    "value": [None] * len(errors),
                    "reason": [
                        _reason(plan, "fields", found=found, expected=width, delimiter=plan.src.delimiter)
                        for _, found, width in errors
                    ],
                    "raw": [None] * len(errors),
                }
            )
        )
    keep = ~blank
    rows_read = int(keep.sum()) + len(error_rows)
    df = df[keep]
    # Subtotal rows: a label cell says "합계"/"Total".
    label_headers = [
        h
        for h in source_cols
        if h not in plan.value_headers
        and plan.match.columns.get(h) not in _FREE_TEXT
        and plan.match.columns.get(h) != YEAR
        and (h not in plan.match.columns or plan.table.column(plan.match.columns[h]).dtype == "string")
    ]
    subtotal = subtotal_rows(df, label_headers)
    n_sub = int(subtotal.sum())
    if n_sub:
        df = df[~subtotal]
    original = df
    out = pd.DataFrame(index=df.index)
    out["__row__"] = df["__row__"]
    problems: list[tuple[pd.Series, str, pd.Series, str]] = []  # mask, file header, raw values, reason
    header_of: dict[str, str] = {}
    for header, column in plan.match.columns.items():
        out[column] = df[header]
        header_of[column] = header
    year_col = None
    if YEAR in out.columns:
        year_col = out.pop(YEAR)
    for column, value in plan.constants.items():
        if column in out.columns:
            out[column] = out[column].where(out[column].notna(), value)
        else:
            out[column] = pd.Series(value, index=out.index, dtype="object")
            header_of[column] = f"--set {column}"

    # Wide layouts: clean each value column under its own header, then melt.
    if plan.wide in ("months", "markets", "maybe-markets"):
        count = plan.count_column
        assert count is not None
        if plan.wide == "maybe-markets":
            numeric_share = []
            for h in plan.value_headers:
                _, bad = C._number_detail(df[h], dash_is_zero=True)
                filled = df[h].notna().sum()
                numeric_share.append(1.0 - bad.sum() / filled if filled else 1.0)
            if numeric_share and min(numeric_share) >= 0.9:
                plan.wide = "markets"
            else:
                plan.wide = "none"
                plan.match.unknown = list(dict.fromkeys(plan.match.unknown + plan.value_headers))
                plan.value_headers = []
                _check_required(plan)
        if plan.wide != "none":
            wide = out.copy()
            for h in plan.value_headers:
                values, bad = C._number_detail(df[h], dash_is_zero=True)
                problems.append((bad, h, df[h], _reason(plan, "number")))
                negative = values < 0
                problems.append((negative, h, df[h], _reason(plan, "negative")))
                wide[h] = values.where(~(bad | negative))
            if plan.wide == "months":
                if year_col is not None:
                    wide[YEAR] = year_col
                long = melt_wide(wide, year=plan.year, file_name=plan.src.name, value_name=count)
                # a cell left empty by a rejected value is not a fact
                long = long[long[count].notna()]
            else:
                long = wide.melt(
                    id_vars=list(out.columns), value_vars=plan.value_headers, var_name="market", value_name=count
                )
                long = long[long[count].notna()].sort_values("__row__", kind="stable")
            long = long.reset_index(drop=True)
            # The problems above were recorded on the wide rows already.
            rejected += _collect(problems, original, plan)
            problems = []
            out = long
            original = None
            header_of[count] = header_of.get(count, count)
            header_of.setdefault("month", "month")
            header_of.setdefault("market", "market")

    converted, more = _convert(out, plan, year_col if plan.wide == "none" else None)
    problems += [(m, header_of.get(col, col), raw, reason) for m, col, raw, reason in more]
    bad_rows = pd.Series(False, index=converted.index)
    for mask, *_ in problems:
        bad_rows |= mask.reindex(converted.index, fill_value=False)
    if problems:
        rejected += _collect(problems, original if original is not None else out, plan, rows=out["__row__"])
    good = converted[~bad_rows]
    return _ChunkResult(good, rejected, n_sub, rows_read)


def _collect(problems, source: pd.DataFrame | None, plan: _Plan, rows: pd.Series | None = None) -> list[pd.DataFrame]:
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
                    "column_name": header,
                    "value": _as_raw_text(raw.loc[idx]).to_numpy(),
                    "reason": reason,
                    "raw": raw_json.to_numpy(),
                }
            )
        )
    return out


def _convert(
    frame: pd.DataFrame, plan: _Plan, year_col: pd.Series | None
) -> tuple[pd.DataFrame, list[tuple[pd.Series, str, pd.Series, str]]]:
    """Clean and type every table column; return the typed frame and its problems."""
    out = pd.DataFrame(index=frame.index)
    out["__row__"] = frame["__row__"]
    problems: list[tuple[pd.Series, str, pd.Series, str]] = []
    today = pd.Timestamp(_dt.date.today())
    required = {c.name for c in plan.table.columns if not c.nullable} | set(plan.required)
    for col in plan.table.columns:
        name = col.name
        if name not in frame.columns:
            out[name] = _empty(col, frame.index)
            continue
        raw = frame[name]
        if col.dtype == "string":
            values = C.clean_text(raw)
            if col.allowed:
                mapped, bad = C._categorical_detail(values, name, col.allowed)
                problems.append((bad, name, raw, _reason(plan, "allowed", allowed=", ".join(col.allowed))))
                values = mapped
            out[name] = values.astype(pd.StringDtype("pyarrow"))
        elif col.dtype in ("int64", "float64"):
            values, bad = C._number_detail(raw, dash_is_zero=col.role == S.COUNT)
            problems.append((bad, name, raw, _reason(plan, "number")))
            if col.role == S.COUNT:
                problems.append((values < 0, name, raw, _reason(plan, "negative")))
            if col.dtype == "int64":
                fractional = values.notna() & (values != values.round())
                problems.append((fractional & ~bad, name, raw, _reason(plan, "whole")))
                if name == "birth_year":
                    insane = values.notna() & ~values.between(_MIN_YEAR, today.year)
                    problems.append((insane, name, raw, _reason(plan, "range", low=_MIN_YEAR, high=today.year)))
                values = values.where(~fractional).round().astype("Int64")
            out[name] = values
        elif col.dtype in ("date", "timestamp"):
            values, bad, ambiguous = _dates(raw, col, year_col)
            problems.append((bad, name, raw, _reason(plan, "date")))
            problems.append((ambiguous, name, raw, _reason(plan, "ambiguous")))
            future = values > today + pd.Timedelta(days=366)
            past = values < pd.Timestamp(f"{_MIN_YEAR}-01-01")
            problems.append((future, name, raw, _reason(plan, "future")))
            problems.append((past, name, raw, _reason(plan, "past")))
            if col.role == S.MONTH or col.dtype == "date":
                values = values.dt.normalize()
            if col.role == S.MONTH:
                values = values.dt.to_period("M").dt.to_timestamp()
            out[name] = values.astype("datetime64[ns]")
        elif col.dtype == "boolean":
            values, bad = C._boolean_detail(raw)
            problems.append((bad, name, raw, _reason(plan, "boolean")))
            out[name] = values
        else:  # pragma: no cover - schema types are closed
            out[name] = raw
        if name in required:
            missing = out[name].isna() & ~_any(problems, name)
            problems.append((missing, name, raw, _reason(plan, "required")))
    return out, problems


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


def _empty(col: S.Column, index: pd.Index) -> pd.Series:
    dtype = {
        "string": pd.StringDtype("pyarrow"),
        "int64": "Int64",
        "float64": "float64",
        "date": "datetime64[ns]",
        "timestamp": "datetime64[ns]",
        "boolean": "boolean",
    }[col.dtype]
    return pd.Series(pd.NA if col.dtype in ("string", "int64", "boolean") else None, index=index, dtype=dtype)


# ---- the whole file --------------------------------------------------------------------------------------
def _dedupe(frame: pd.DataFrame, table: S.Table) -> tuple[pd.DataFrame, int, list[str]]:
    """Keep the last row of each natural key (a later row in a file corrects an earlier one).

    Sorting beats hashing here: a file already in key order (most exports) is recognised by one
    vectorised comparison, and any other is sorted once (stable, so "last" keeps file order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = list(table.keys)
    if not keys or len(frame) < 2:
        return frame, 0, []
    columns = {k: pa.array(frame[k], from_pandas=True) for k in keys}
    n = len(frame)
    if len(keys) == 1:
        arr = columns[keys[0]]
        if pc.all(pc.greater(arr.slice(1), arr.slice(0, n - 1))).as_py():
            return frame, 0, []
    order = pc.sort_indices(pa.table(columns), sort_keys=[(k, "ascending") for k in keys])
    same_as_next = None
    for k in keys:
        ordered = pc.take(columns[k], order)
        eq = pc.equal(ordered.slice(0, n - 1), ordered.slice(1)).fill_null(False)
        same_as_next = eq if same_as_next is None else pc.and_(same_as_next, eq)
    drop_sorted = np.append(np.asarray(same_as_next.to_numpy(zero_copy_only=False), dtype=bool), False)
    if not drop_sorted.any():
        return frame, 0, []
    order_np = order.to_numpy()
    keep = np.sort(order_np[~drop_sorted])
    examples = []
    for i in order_np[drop_sorted][:5]:
        examples.append(", ".join(f"{k}={frame[k].iloc[i]}" for k in keys))
    return frame.iloc[keep], int(drop_sorted.sum()), examples


def read_table(
    path: str | os.PathLike,
    table: str,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    year: int | None = None,
    required: list[str] | None = None,
    wide: str | None = None,
    chunk_rows: int = 500_000,
    progress: Callable[[int, int], None] | None = None,
) -> ReadResult:
    """Read a CSV/TSV, Excel or Parquet file into ``table``'s shape, without a warehouse.

    ``mapping`` (file header → column) wins over the synonym dictionary; ``constants`` fill columns
    the file lacks (``{"brand": "Hyundai", "kind": "export"}``) and blanks in ones it has; ``year``
    dates month columns that carry no year; ``required`` adds columns that must be present and
    filled; ``wide`` is ``"auto"`` (default), ``"months"``, ``"markets"`` or ``"none"``. ``progress``
    is called with ``(bytes_read, total_bytes)`` after each chunk.

    Raises :class:`InputError` for an unreadable file or a missing required column; bad rows are
    returned in ``rejected``, never raised."""
    src = open_source(path, encoding=encoding, sheet=sheet)
    schema_table = S.get_table(table)
    plan = _plan(src, schema_table, mapping, constants, year, required, wide)
    typed = plan.wide == "none"
    try:
        parts = _read_parts(src, plan, chunk_rows, typed, False, progress)
    except FallBack:
        plan = _plan(src, schema_table, mapping, constants, year, required, wide)
        parts = _read_parts(src, plan, chunk_rows, False, True, progress)
    frames = [p.frame for p in parts if len(p.frame)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else None)
    if frame is None:
        frame = parts[0].frame.iloc[0:0] if parts else pd.DataFrame(columns=["__row__", *schema_table.column_names])
    frame = frame.reset_index(drop=True)
    frame, duplicates, examples = _dedupe(frame, schema_table)
    frame = frame.reset_index(drop=True)
    rejected_parts = [r for p in parts for r in p.rejected if len(r)]
    rejected = (
        pd.concat(rejected_parts, ignore_index=True).sort_values("row_number", kind="stable").reset_index(drop=True)
        if rejected_parts
        else pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else "object") for c in REJECTED_COLUMNS})
    )
    warnings = []
    if duplicates:
        warnings.append(t("ingest.duplicates", plan.lang, count=duplicates, examples="; ".join(examples)))
    if plan.dropped_totals:
        warnings.append(t("ingest.total_columns", plan.lang, columns=", ".join(plan.dropped_totals)))
    if plan.match.duplicates:
        warnings.append(t("ingest.duplicate_headers", plan.lang, columns=", ".join(plan.match.duplicates)))
    rows = frame.pop("__row__")
    found = sorted(set(plan.match.columns.values()) - {YEAR}) + (
        [plan.count_column, "month" if plan.wide == "months" else "market"]
        if plan.wide in ("months", "markets")
        else []
    )
    return ReadResult(
        frame=frame[schema_table.column_names],
        rejected=rejected,
        subtotals=sum(p.subtotals for p in parts),
        unknown_columns=list(plan.match.unknown) + list(plan.match.duplicates),
        file=src.name,
        table=schema_table.name,
        rows_read=sum(p.rows_read for p in parts),
        rejected_rows=int(rejected["row_number"].nunique()) if len(rejected) else 0,
        duplicates=duplicates,
        columns_found=found,
        row_numbers=rows,
        warnings=warnings,
        wide=plan.wide if plan.wide in ("months", "markets") else "none",
        encoding=src.encoding,
    )


def _read_parts(src, plan: _Plan, chunk_rows: int, typed: bool, forgiving: bool, progress) -> list[_ChunkResult]:
    parts = []
    chunks = iter_chunks(src, chunk_rows=chunk_rows, text_columns=_text_headers(plan), typed=typed, forgiving=forgiving)
    for chunk in chunks:
        parts.append(_process(chunk.frame, chunk.first_row, chunk.errors, plan))
        if progress is not None:
            progress(chunk.bytes_read or 0, src.size)
    return parts
