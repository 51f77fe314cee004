"""From a file to a clean frame in one canonical table's shape.

Headers are recognised, constants filled, subtotals set aside, values cleaned and validated, and bad
rows explained row by row.

Tables of records (customers, purchases, leads, …) are read here, in chunks; tables of figures
(``sales_monthly``) are read by their layout in :mod:`carsight.ingest.sales`. No warehouse is
needed, so file-in/file-out commands use this as well as the loader.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.errors import InputError
from carsight.i18n import t
from carsight.ingest import derive
from carsight.ingest.convert import REJECTED_COLUMNS, collect, convert, reason
from carsight.ingest.headers import YEAR, HeaderMatch, match_headers, normalise_header, spellings_for
from carsight.ingest.read import FallBack, Source, iter_chunks, open_source
from carsight.ingest.wide import subtotal_rows
from carsight.warehouse import schema as S

WIDE_MODES = ("auto", "months", "markets", "none")
# Rows read, cleaned and staged at a time: memory holds about two chunks; larger ones are no faster.
CHUNK_ROWS = 100_000
ROW = "__row__"  # helper column: the row's number in the file (1 = first data row)
# Free-text columns are never read as subtotal labels ("합계 금액 문의" is a real consultation).
_FREE_TEXT = {"text", "name", "email", "phone", "offer", "description", "payment_detail"}


@dataclass
class ReadResult:
    """A file read into one table's shape.

    ``frame`` has every column of the table (canonical names, schema types; columns the file lacks
    are missing values), unique by the table's natural key. ``rejected`` has one row per problem:
    ``row_number`` (1 = first data row after the header, in the original file even when it was
    melted), ``column_name`` (as in the file), ``value``, ``reason`` and the ``raw`` row as JSON.
    ``notes`` are the assumptions the reader made (a default, a derived key), for the load report.
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
    notes: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    src: Source
    table: S.Table
    match: HeaderMatch
    constants: dict
    year: int | None
    required: list[str]
    lang: str
    derivation: derive.Derivation = field(default_factory=derive.Derivation)
    relaxed: list[str] = field(default_factory=list)  # required by the schema, not by this caller


def _lang() -> str:
    from carsight.config import get_settings

    try:
        return get_settings().lang
    except Exception:  # a broken config file must not stop a file from being read
        return "ko"


def empty_rejected() -> pd.DataFrame:
    """A frame of rejected rows with no rows: the columns of :data:`REJECTED_COLUMNS`."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else "object") for c in REJECTED_COLUMNS})


# ---- planning ------------------------------------------------------------------------------------------
def check_options(src_name: str, headers: list[str], table: S.Table, mapping: dict, constants: dict, required) -> dict:
    """Validate ``--map``/``--set``/required against the table and the file.

    Returns the mapping with ``year`` spelt as the helper column.

    Raises
    ------
    InputError
        For a mapping to a column the table lacks or from a header the file lacks, a constant for a
        column the table lacks, or a required column that is not the table's.
    """
    names = set(table.column_names)
    mapping = dict(mapping or {})
    for src_name_, dst in list(mapping.items()):
        if dst not in names and dst not in (YEAR, "year") and dst not in derive.PSEUDO_TARGETS:
            raise InputError(
                f"--map {src_name_}={dst}: table {table.name} has no column '{dst}'",
                file=src_name,
                column=dst,
                expected="one of " + ", ".join(table.column_names),
            )
        if dst == "year":
            mapping[src_name_] = YEAR
        if src_name_ not in headers and normalise_header(src_name_) not in {normalise_header(h) for h in headers}:
            raise InputError(
                f"--map {src_name_}={dst}: the file has no column '{src_name_}'",
                file=src_name,
                column=src_name_,
                expected="one of " + ", ".join(headers),
            )
    for key in constants or {}:
        if key not in names:
            raise InputError(
                f"--set {key}=…: table {table.name} has no column '{key}'",
                file=src_name,
                column=key,
                expected="one of " + ", ".join(table.column_names),
            )
    for col in required or []:
        if col not in names:
            raise InputError(f"required column '{col}' is not a column of {table.name}", column=col)
    return mapping


def _plan(
    src: Source,
    table: S.Table,
    mapping: dict[str, str] | None,
    constants: dict | None,
    year: int | None,
    required: list[str] | None,
    relaxed: list[str] | None = None,
) -> _Plan:
    mapping = check_options(src.name, src.headers, table, mapping or {}, constants or {}, required)
    match = match_headers(src.headers, table, mapping)
    plan = _Plan(src, table, match, dict(constants or {}), year, list(required or []), _lang())
    # A column with a default (an event's scope, "(all)") gets it where the file is silent or blank.
    for c in table.columns:
        if c.default is not None:
            plan.constants.setdefault(c.name, c.default)
    plan.relaxed = list(relaxed or [])
    plan.derivation = derive.plan(match, table, src.headers, plan.constants, plan.lang)
    _check_required(plan)
    return plan


def _check_required(plan: _Plan) -> None:
    table = plan.table
    have = set(plan.match.columns.values()) | set(plan.constants) | set(plan.derivation.provides)
    needed = [c.name for c in table.columns if not c.nullable and c.name not in plan.relaxed] + plan.required
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
        if column == YEAR or column.startswith("__"):
            out.add(header)
            continue
        col = plan.table.column(column)
        if col.dtype in ("string", "boolean"):
            out.add(header)
    return out


# ---- one chunk -------------------------------------------------------------------------------------------
def label_headers(plan: _Plan, headers: list[str]) -> list[str]:
    """The file headers whose cells may label a row as a subtotal (text, not free text or helpers)."""
    columns = plan.match.columns
    return [
        h
        for h in headers
        if columns.get(h) not in _FREE_TEXT
        and columns.get(h) != YEAR
        and not str(columns.get(h, "")).startswith("__")
        and (h not in columns or plan.table.column(columns[h]).dtype == "string")
    ]


def clean_columns(
    out: pd.DataFrame, source: pd.DataFrame, plan: _Plan, constants: dict
) -> tuple[pd.DataFrame, list[tuple[pd.Series, str, pd.Series, str]]]:
    """Work out, fill and convert the canonical columns in ``out`` (and its ``__row__``).

    Derived columns are worked out (:func:`carsight.ingest.derive.apply`), ``constants`` fill blanks
    or add their columns, and every value is cleaned and typed (:func:`convert`). Returns the typed
    frame (every column of the table) and its problems: (mask of bad rows, file header, raw values,
    reason). Rows are independent of one another except in date columns, whose day/month order is
    decided over all the values given.
    """
    header_of = {column: header for header, column in plan.match.columns.items()}
    year_col = out.pop(YEAR) if YEAR in out.columns else None
    out, derived_headers = derive.apply(out, source, plan.derivation)
    header_of.update(derived_headers)
    for column, value in constants.items():
        if column in out.columns:
            out[column] = out[column].where(out[column].notna(), value)
        else:
            out[column] = pd.Series(value, index=out.index, dtype="object")
            header_of[column] = f"--set {column}"
    converted, more = convert(out, plan.table, plan.required, plan.lang, year_col, relaxed=plan.relaxed)
    return converted, [(m, header_of.get(col, col), raw, why) for m, col, raw, why in more]


@dataclass
class _ChunkResult:
    frame: pd.DataFrame
    rejected: list[pd.DataFrame]
    subtotals: int
    rows_read: int


def _process(chunk_frame: pd.DataFrame, first_row: int, errors: list, plan: _Plan) -> _ChunkResult:
    df = chunk_frame
    n_total = len(df)
    df.index = pd.RangeIndex(n_total)
    df["__row__"] = np.arange(first_row, first_row + n_total, dtype="int64")
    source_cols = [c for c in df.columns if c != "__row__"]
    # Readers turn empty cells into missing values, so a blank line is a row of missing values.
    blank = pd.Series(True, index=df.index)
    for column in source_cols:  # column by column: selecting them all would copy the chunk
        blank &= df[column].isna()
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
                        reason(plan.lang, "fields", found=found, expected=width, delimiter=plan.src.delimiter)
                        for _, found, width in errors
                    ],
                    "raw": [None] * len(errors),
                }
            )
        )
    keep = ~blank
    rows_read = int(keep.sum()) + len(error_rows)
    if not keep.all():  # filtering copies every column, so only when there is something to drop
        df = df[keep]
    # Subtotal rows: a label cell says "합계"/"Total".
    subtotal = subtotal_rows(df, label_headers(plan, source_cols))
    n_sub = int(subtotal.sum())
    if n_sub:
        df = df[~subtotal]
    out = pd.DataFrame(index=df.index)
    out["__row__"] = df["__row__"]
    for header, column in plan.match.columns.items():
        out[column] = df[header]
    converted, problems = clean_columns(out, df, plan, plan.constants)
    bad_rows = pd.Series(False, index=converted.index)
    for mask, *_ in problems:
        bad_rows |= mask.reindex(converted.index, fill_value=False)
    if problems:
        rejected += collect(problems, df, rows=out["__row__"])
    good = converted[~bad_rows] if bad_rows.any() else converted
    return _ChunkResult(good, rejected, n_sub, rows_read)


# ---- the whole file --------------------------------------------------------------------------------------
def _dedupe(frame: pd.DataFrame, table: S.Table) -> tuple[pd.DataFrame, int, list[str]]:
    """Keep the last row of each natural key (a later row in a file corrects an earlier one).

    Sorting beats hashing here: a file already in key order (most exports) is recognised by one
    vectorised comparison, and any other is sorted once (stable, so "last" keeps file order).
    """
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


@dataclass
class RecordFile:
    """A file of records opened for one table: where it is, how its headers map, what to work out.

    :meth:`parts` reads and cleans it chunk by chunk; :func:`read_table` gathers the chunks in memory,
    the loader stages them in the warehouse (:func:`carsight.ingest.load_file`).
    """

    src: Source
    plan: _Plan
    _options: tuple = ()

    def parts(
        self,
        chunk_rows: int = CHUNK_ROWS,
        progress: Callable[[int, int], None] | None = None,
        restart: Callable[[], None] | None = None,
    ) -> Iterator[_ChunkResult]:
        """Each chunk cleaned and validated (good rows typed, with ``__row__``; bad rows explained).

        The typed reader is tried first; a file it cannot read to its end (CP949, ragged rows, a
        column whose type changes half way) is read again from its start as text. ``restart`` is
        called before that, so the caller can drop what it kept of the earlier chunks.
        """
        try:
            yield from self._read(chunk_rows, progress, typed=True)
        except FallBack:
            self.plan = _plan(self.src, self.plan.table, *self._options)  # counts start again too
            if restart is not None:
                restart()
            yield from self._read(chunk_rows, progress, typed=False)

    def _read(self, chunk_rows: int, progress, typed: bool) -> Iterator[_ChunkResult]:
        plan = self.plan
        chunks = iter_chunks(
            self.src, chunk_rows=chunk_rows, text_columns=_text_headers(plan), typed=typed, forgiving=not typed
        )
        for chunk in chunks:
            yield _process(chunk.frame, chunk.first_row, chunk.errors, plan)
            if progress is not None:
                progress(chunk.bytes_read or 0, self.src.size)

    @property
    def key_column(self) -> str | None:
        """The key column worked out from each row's content, when the file has no key of its own."""
        return self.plan.derivation.key_column if self.plan.derivation.key_from is not None else None

    def content_keys(self, frame: pd.DataFrame) -> tuple[pd.Series, list[str]]:
        """Keys made from the rows' content, numbered over ``frame`` only, and the note saying so.

        See :func:`carsight.ingest.derive.content_keys`.
        """
        d = self.plan.derivation
        text = frame[list(d.key_from)].copy()
        for column in d.key_from:
            text[column] = _stable_text(text[column])
        keyed, notes = derive.content_keys(text, self.plan.table, d, self.plan.lang)
        return keyed[d.key_column], notes

    def empty_frame(self) -> pd.DataFrame:
        """No rows, with the columns content keys are made of."""
        return pd.DataFrame({c: pd.Series(dtype="string") for c in self.plan.derivation.key_from or ()})

    @property
    def columns_found(self) -> list[str]:
        """The table's columns the file provides: matched to its headers or worked out."""
        plan = self.plan
        found = set(plan.match.columns.values()) | set(plan.derivation.provides)
        return sorted(found & set(plan.table.column_names))

    @property
    def unknown_columns(self) -> list[str]:
        """The file's headers that fill no column: matching nothing, or naming a column already taken."""
        return list(self.plan.match.unknown) + list(self.plan.match.duplicates)

    def warnings(self, duplicates: int, examples: list[str]) -> list[str]:
        """The load's warnings in the reader's language: duplicate keys dropped, and duplicate headers."""
        out = []
        if duplicates:
            out.append(t("ingest.duplicates", self.plan.lang, count=duplicates, examples="; ".join(examples)))
        if self.plan.match.duplicates:
            out.append(t("ingest.duplicate_headers", self.plan.lang, columns=", ".join(self.plan.match.duplicates)))
        return out


def _stable_text(values: pd.Series) -> pd.Series:
    """Timestamps as text that does not depend on the other rows.

    pandas writes a column whose times are all midnight as bare dates, and one with any other time
    with every time, so the same row would hash differently in another file or chunk. Here a midnight
    time is written as the bare date, whatever its neighbours.
    """
    if not pd.api.types.is_datetime64_any_dtype(values):
        return values
    filled = values.dropna()
    if not len(filled) or (filled == filled.dt.normalize()).all():
        return values  # bare dates already, as pandas writes them
    midnight = values == values.dt.normalize()
    return values.dt.strftime("%Y-%m-%d %H:%M:%S").where(~midnight, values.dt.strftime("%Y-%m-%d"))


def open_records(
    path: str | os.PathLike,
    table: S.Table,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    year: int | None = None,
    required: list[str] | None = None,
    relaxed: list[str] | None = None,
) -> RecordFile:
    """Open a file of records for ``table`` (see :func:`read_table` for the options).

    Raises :class:`InputError` for an unreadable file or a missing required column.
    """
    src = open_source(path, encoding=encoding, sheet=sheet)
    options = (mapping, constants, year, required, relaxed)
    return RecordFile(src, _plan(src, table, *options), options)


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
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
    relaxed: list[str] | None = None,
) -> ReadResult:
    """Read a CSV/TSV, Excel or Parquet file into ``table``'s shape, without a warehouse.

    ``mapping`` (file header → column) wins over the synonym dictionary; ``constants`` fill columns
    the file lacks (``{"brand": "Hyundai", "kind": "export"}``) and blanks in ones it has; ``year``
    dates month columns that carry no year; ``required`` adds columns that must be present and
    filled, ``relaxed`` removes columns the schema requires but the caller does not need (an RFM on a
    plain log of customer, date and amount needs no model); ``wide`` (``sales_monthly`` only) is ``"auto"`` (default), ``"months"``, ``"markets"`` or
    ``"none"``. ``sheet`` picks one sheet of a workbook; by default a table of records reads the
    first sheet and ``sales_monthly`` every sheet that holds monthly figures. ``progress`` is
    called with ``(bytes_read, total_bytes)`` after each chunk.

    Raises :class:`InputError` for an unreadable file or a missing required column; bad rows are
    returned in ``rejected``, never raised.
    """
    schema_table = S.get_table(table)
    mode = (wide or "auto").lower()
    if mode not in WIDE_MODES:
        raise InputError(f"unknown wide layout '{wide}'", expected=" or ".join(WIDE_MODES))
    if schema_table.name == S.SALES_MONTHLY.name:
        from carsight.ingest.sales import read_sales

        return read_sales(
            path, mapping=mapping, constants=constants, sheet=sheet, encoding=encoding, year=year, wide=mode,
            required=required, progress=progress,
        )  # fmt: skip
    records = open_records(
        path, schema_table, mapping=mapping, constants=constants, sheet=sheet, encoding=encoding, year=year,
        required=required, relaxed=relaxed,
    )  # fmt: skip
    parts: list[_ChunkResult] = []
    for part in records.parts(chunk_rows, progress, restart=parts.clear):
        parts.append(part)
    frames = [p.frame for p in parts if len(p.frame)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames[0] if frames else None)
    if frame is None:
        frame = parts[0].frame.iloc[0:0] if parts else pd.DataFrame(columns=[ROW, *schema_table.column_names])
    frame = frame.reset_index(drop=True)
    key_notes: list[str] = []
    if records.key_column is not None:
        frame[records.key_column], key_notes = records.content_keys(frame)
    frame, duplicates, examples = _dedupe(frame, schema_table)
    frame = frame.reset_index(drop=True)
    rejected = gather_rejected(r for p in parts for r in p.rejected)
    rows = frame.pop(ROW)
    return ReadResult(
        frame=frame[schema_table.column_names],
        rejected=rejected,
        subtotals=sum(p.subtotals for p in parts),
        unknown_columns=records.unknown_columns,
        file=records.src.name,
        table=schema_table.name,
        rows_read=sum(p.rows_read for p in parts),
        rejected_rows=int(rejected["row_number"].nunique()) if len(rejected) else 0,
        duplicates=duplicates,
        columns_found=records.columns_found,
        row_numbers=rows,
        warnings=records.warnings(duplicates, examples),
        encoding=records.src.encoding,
        notes=records.plan.derivation.notes + key_notes,
    )


def gather_rejected(parts) -> pd.DataFrame:
    """One frame of rejected-row records, in file order."""
    parts = [r for r in parts if len(r)]
    if not parts:
        return empty_rejected()
    return pd.concat(parts, ignore_index=True).sort_values("row_number", kind="stable").reset_index(drop=True)
