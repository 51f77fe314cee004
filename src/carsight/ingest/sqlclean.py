"""Cleaning a plain UTF-8 CSV of records inside the warehouse, for speed.

DuckDB reads the file's cells as text into a temporary table (its CSV reader is several times faster
than any reader in Python). The cleaning itself stays the one in :func:`carsight.ingest.table.clean_columns`:
it runs once per distinct spelling of each column, and its answers (the typed value, or the reasons a
value is bad) are joined back to the rows in SQL. Only spellings whose cleaning is known to leave them
as they are skip that step: printable ASCII text without surrounding spaces, plain non-negative whole
numbers, and ISO dates (``2024-03-05``) in range, which DuckDB casts itself. One SQL pass then splits
the rows: the good ones typed into the stage, the bad ones (few) gathered with their reasons for the
quarantine, subtotal and blank rows set aside.

A file this path does not cover — another encoding, ragged rows, a header over two lines, columns
worked out from others, keys made from content, blank lines in a file with rejected rows (blank lines
count in row numbers, and DuckDB skips them) — is read in chunks
(:meth:`carsight.ingest.table.RecordFile.parts`), with the same results.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from carsight.ingest.convert import _as_raw_text, _raw_json
from carsight.ingest.headers import YEAR
from carsight.ingest.read import SAMPLE_BYTES, Source, _clean_headers
from carsight.ingest.table import ROW, RecordFile, clean_columns, label_headers
from carsight.ingest.wide import _SUBTOTAL_HINT, subtotal_rows
from carsight.warehouse import schema as S
from carsight.warehouse.staging import SQL_TYPES, CsvCells, CsvNotRegular, Stage, csv_cells

# Spellings whose cleaning SQL can do itself. Text: a letter, digit, punctuation mark or symbol at
# either end (nothing to trim, whatever the language) and already in NFC. Numbers: digits, or digits
# grouped by commas (41,230,000). Dates: an ISO date of 1900..2099, with or without a time
# (2024-03-05, 2024-03-05 14:22:01), checked against convert's range in SQL.
_EDGE = r"[\p{L}\p{N}\p{P}\p{S}]"
_PLAIN_TEXT = f"(?s){_EDGE}(.*{_EDGE})?"
_PLAIN_NUMBER = "[0-9]{1,15}|[0-9]{1,3}(,[0-9]{3}){1,4}"
_PLAIN_DATE = "(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}"
_PLAIN_TIME = "(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"
_KEY, _WHY = "__key__", "__why__"
_BLANK = re.compile(rb"\n\r?\n")
# Derived columns this path works out (from the payment word, by its lookup); any other means chunks.
_DERIVED_HERE = {"payment_detail"}


@dataclass
class Staged:
    """What staging a file in SQL found: rows read, subtotal rows, and the rejected-row records."""

    rows_read: int = 0
    subtotals: int = 0
    rejected: list[pd.DataFrame] = field(default_factory=list)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def has_blank_line(path: Path, header_row: int = 0) -> bool:
    """Whether an empty line follows the header (line ``header_row``).

    Row numbers count such a line; DuckDB's reader skips it. Lines above the header do not count.
    """
    with open(path, "rb") as fh:
        for _ in range(header_row + 1):
            fh.readline()
        tail = b"\n"  # the header's own line end: a blank first data line shows as "\n\n"
        for block in iter(lambda: fh.read(1 << 22), b""):
            if _BLANK.search(tail + block):
                return True
            tail = block[-2:]
    return False


def _header_is_one_line(src: Source) -> bool:
    """Whether the header is the file's line number ``header_row`` (DuckDB skips lines, not rows)."""
    with open(src.path, "rb") as fh:
        lines = fh.read(SAMPLE_BYTES).split(b"\n")
    if len(lines) <= src.header_row + 1:
        return False
    try:
        text = lines[src.header_row].decode(src.encoding or "utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return False
    fields = next(csv.reader([text], delimiter=src.delimiter), [])
    return _clean_headers(fields) == src.headers


def fits(records: RecordFile) -> bool:
    """Whether ``records`` can be staged in SQL (see the module's docstring)."""
    plan = records.plan
    src = plan.src
    if src.kind != "csv" or src.encoding not in ("utf-8", "utf-8-sig", "ascii"):
        return False
    if records.key_column is not None or plan.derivation.provides - _DERIVED_HERE:
        return False
    targets = list(plan.match.columns.values())
    if any(t == YEAR or t.startswith("__") for t in targets):
        return False
    if plan.derivation.provides & set(targets):  # one column from two sources: chunks decide
        return False
    return _header_is_one_line(src)


class _BlankLines(Exception):
    """Rows were rejected, and blank lines would make their numbers wrong: read the file in chunks."""


def stage_csv(records: RecordFile, stage: Stage) -> Staged | None:
    """Stage the good rows of a CSV of records in SQL; None when the file is not for this path.

    Returns the counts and rejected-row records, as :meth:`RecordFile.parts` would give them.
    """
    if not stage.wh.is_duckdb or not fits(records):
        return None
    src = records.plan.src
    try:
        with csv_cells(stage.wh, src.path, len(src.headers), skip=src.header_row + 1, delimiter=src.delimiter) as cells:
            return _Pass(records, stage, cells).run()
    except CsvNotRegular:  # refused as it was read: nothing was staged
        return None
    except _BlankLines:
        stage.clear()
        return None


class _Pass:
    """One file's SQL pass: lookups per column, then the good rows staged and the bad ones gathered."""

    def __init__(self, records: RecordFile, stage: Stage, cells: CsvCells):
        self.plan, self.stage, self.cells = records.plan, stage, cells
        self.table: S.Table = self.plan.table
        self.headers = list(self.plan.src.headers)
        self.cell = {h: f"c{i}" for i, h in enumerate(self.headers)}
        self.joins: list[str] = []
        self.values: dict[str, str] = {}  # column -> SQL expression of its typed value
        self.whys: list[tuple[int, str]] = []  # (table position, SQL of the reasons, NULL when good)
        self.kept = ""  # SQL: the row is neither blank nor a subtotal

    def run(self) -> Staged:
        cells, name = self.cells, self.cells.name
        self.row = f"({name}.rowid + 1)"
        blank = " AND ".join(f"{name}.{c} IS NULL" for c in self.cell.values())
        rows_read, subtotal, subtotals = self._count_and_subtotals(blank)
        self.kept = f"NOT ({blank})" + (f" AND {self.row} NOT IN (SELECT {ROW} FROM {subtotal})" if subtotal else "")
        produced: set[str] = set()
        spellings = self._spellings()
        for header, column in self.plan.match.columns.items():
            produced |= set(self._column(header, column, spellings[header]))
        for column, value in self.plan.constants.items():
            if column not in produced:
                self._constant(column, value)
        whys = [expr for _, expr in sorted(self.whys, key=lambda p: p[0])]
        why = "COALESCE(" + ", ".join(whys) + ")" if whys else "NULL"
        source = f"{name} " + " ".join(self.joins)
        typed = ", ".join(
            f'CAST({self.values.get(c.name, "NULL")} AS {SQL_TYPES[c.dtype]}) AS "{c.name}"' for c in self.table.columns
        )
        self.stage.fill(f"SELECT {self.row} AS {ROW}, {typed} FROM {source} WHERE {self.kept} AND {why} IS NULL")
        rejected = []
        if whys:  # some spelling is bad: gather the rows that hold one
            cols = ", ".join(f"{name}.{c} AS {c}" for c in self.cell.values())
            reasons = ", ".join(f"{expr} AS why{i}" for i, expr in enumerate(whys))
            bad = cells.frame(
                f"SELECT {self.row} AS {ROW}, {cols}, {reasons} FROM {source} "
                f"WHERE {self.kept} AND {why} IS NOT NULL ORDER BY {ROW}"
            )
            if len(bad):
                # DuckDB skips blank lines, which count in row numbers: only rejected rows show them.
                if has_blank_line(self.plan.src.path, self.plan.src.header_row):
                    raise _BlankLines
                rejected.append(self._records(bad, len(whys)))
        return Staged(rows_read=rows_read, subtotals=subtotals, rejected=rejected)

    def _count_and_subtotals(self, blank: str) -> tuple[int, str | None, int]:
        """Rows that are not blank; a lookup of the subtotal rows (None when none is), and their count.

        One scan counts the rows and finds those the chunked reader's regular expression hints at
        (over the label cells joined by a unit separator, as that reader does); the exact check on those few is
        that reader's own (:func:`carsight.ingest.wide.subtotal_rows`).
        """
        name = self.cells.name
        labels = label_headers(self.plan, self.headers)
        joined = "concat_ws(chr(31), " + ", ".join(f"{name}.{self.cell[h]}" for h in labels) + ")"
        hinted = f"regexp_matches({joined}, {_sql_text(_SUBTOTAL_HINT)}, 'i')" if labels else "FALSE"
        counted = self.cells.frame(
            f"SELECT COUNT(*) FILTER (WHERE NOT ({blank})) AS n, list(rowid) FILTER (WHERE {hinted}) AS hinted FROM {name}"
        ).iloc[0]
        rows_read, hints = int(counted["n"]), counted["hinted"]
        if hints is None or not len(hints):
            return rows_read, None, 0
        hinted_rows = self.cells.add_lookup(pa.table({"r": pa.array(list(hints), type=pa.int64())}))
        cols = ", ".join(f'{self.cell[h]} AS "{h}"' for h in labels)  # the file's headers, as the check expects
        rows = self.cells.frame(
            f"SELECT rowid + 1 AS {ROW}, {cols} FROM {name} WHERE rowid IN (SELECT r FROM {hinted_rows})"
        )
        found = rows.loc[subtotal_rows(rows, labels).to_numpy(), ROW]
        if not len(found):
            return rows_read, None, 0
        return (
            rows_read,
            self.cells.add_lookup(pa.table({ROW: pa.array(found.to_numpy(), type=pa.int64())})),
            len(found),
        )

    def _plain(self, column: S.Column, cell: str) -> tuple[str, str] | None:
        """(condition, typed value) in SQL for the spellings of ``column`` that need no cleaning."""
        derived = column.name in ("payment_type", "phone")  # worked out word by word (derive.apply)
        if column.dtype == "string" and not column.allowed and column.name != "brand" and not derived:
            return f"regexp_full_match({cell}, '{_PLAIN_TEXT}') AND nfc_normalize({cell}) = {cell}", cell
        if column.dtype in ("int64", "float64") and column.name != "birth_year":
            number = f"CAST(replace({cell}, ',', '') AS {SQL_TYPES[column.dtype]})"
            return f"regexp_full_match({cell}, '{_PLAIN_NUMBER}')", number
        if column.dtype in ("date", "timestamp") and column.role != S.MONTH:
            latest = (pd.Timestamp(_dt.date.today()) + pd.Timedelta(days=366)).isoformat(sep=" ")  # convert's "future"
            # A date column keeps the day of a time (as convert does); the range is checked on the time.
            day = f"regexp_full_match({cell}, '{_PLAIN_DATE}')"
            time = f"regexp_full_match({cell}, '{_PLAIN_TIME}')"
            condition = f"({day} OR {time}) AND TRY_CAST({cell} AS TIMESTAMP) <= TIMESTAMP '{latest}'"
            value = f"CAST({cell} AS TIMESTAMP)"
            return condition, (f"CAST({value} AS DATE)" if column.dtype == "date" else value)
        return None

    def _spellings(self) -> dict[str, pd.Series]:
        """Per file column, the distinct spellings that need cleaning (a blank cell as a missing value).

        One scan of the cells for every column, over the rows that are neither blank nor subtotals.
        """
        name = self.cells.name
        found = []
        for i, (header, column) in enumerate(self.plan.match.columns.items()):
            cell = f"{name}.{self.cell[header]}"
            plain = self._plain(self.table.column(column), cell)
            others = f"{cell} IS NOT NULL" + (f" AND NOT COALESCE({plain[0]}, FALSE)" if plain else "")
            found.append(f"list(DISTINCT {cell}) FILTER (WHERE {others}) AS v{i}, bool_or({cell} IS NULL) AS n{i}")
        if not found:
            return {}
        row = self.cells.frame(f"SELECT {', '.join(found)} FROM {name} WHERE {self.kept}").iloc[0]
        out = {}
        for i, header in enumerate(self.plan.match.columns):
            values = [] if row[f"v{i}"] is None else list(row[f"v{i}"])
            blank = row[f"n{i}"]
            out[header] = pd.Series(
                values + ([None] if pd.notna(blank) and bool(blank) else []), dtype="string[pyarrow]"
            )
        return out

    def _column(self, header: str, column: str, spellings: pd.Series) -> list[str]:
        """Type one file column: plain spellings in SQL, the others (``spellings``) through their lookup.

        Returns the table columns it gives (a payment word also gives ``payment_detail``).
        """
        cell = f"{self.cells.name}.{self.cell[header]}"
        gives = [column] + (sorted(self.plan.derivation.provides & _DERIVED_HERE) if column == "payment_type" else [])
        plain = self._plain(self.table.column(column), cell)
        if not len(spellings):  # every cell is plain (or there is no row): SQL types them all
            self.values[column] = plain[1] if plain else "NULL"
            return gives
        out = pd.DataFrame({ROW: range(len(spellings)), column: spellings.astype(pd.StringDtype("pyarrow")).to_numpy()})
        out[column] = out[column].astype(pd.StringDtype("pyarrow"))
        constants = {k: v for k, v in self.plan.constants.items() if k in gives}
        why = self._lookup(out, gives, constants, spellings, cell)
        for given in gives:
            if plain and given == column:
                self.values[given] = f"CASE WHEN {plain[0]} THEN {plain[1]} ELSE {self.values[given]} END"
        if why is not None:
            if plain:
                why = f"CASE WHEN {plain[0]} THEN NULL ELSE {why} END"
            self.whys.append((self.table.column_names.index(column), why))
        return gives

    def _constant(self, column: str, value) -> None:
        """A ``--set`` value (or a column's default) for a column the file does not have."""
        why = self._lookup(pd.DataFrame({ROW: [0]}), [column], {column: value}, pd.Series([None]), None)
        if why is not None:
            self.whys.append((self.table.column_names.index(column), why))

    def _lookup(
        self, out: pd.DataFrame, gives: list[str], constants: dict, keys: pd.Series, join: str | None
    ) -> str | None:
        """Clean the spellings in ``out`` as the chunked reader does and join the answers in.

        ``join`` is the SQL of the cell matched against ``keys`` (a blank cell matches a missing key;
        None: one answer for every row). Sets the
        typed values of ``gives``; returns the SQL of the reasons (JSON of each problem's header, value
        and reason; NULL for a good spelling), or None when every spelling is good.
        """
        converted, problems = clean_columns(out, out, self.plan, constants)
        whys: list[list] = [[] for _ in range(len(converted))]
        for mask, header, raw, reason in problems:
            texts = _as_raw_text(raw)
            for i in mask.to_numpy().nonzero()[0]:
                whys[i].append([header, texts.iloc[i], reason])
        data = {_KEY: pa.array(keys.astype(object).where(keys.notna(), None).to_numpy(), type=pa.string())}
        for c in gives:
            data[c] = _arrow(converted[c], self.table.column(c))
        data[_WHY] = pa.array([json.dumps(w, ensure_ascii=False) if w else None for w in whys], type=pa.string())
        lookup = self.cells.add_lookup(pa.table(data))
        alias = f"l{len(self.joins)}"
        on = f"{join} IS NOT DISTINCT FROM {alias}.{_KEY}" if join is not None else "TRUE"
        self.joins.append(f"LEFT JOIN {lookup} {alias} ON {on}")
        for c in gives:
            self.values[c] = f'{alias}."{c}"'
        return f"{alias}.{_WHY}" if any(whys) else None

    def _records(self, bad: pd.DataFrame, n_whys: int) -> pd.DataFrame:
        """Rejected-row records of the bad rows, in the order the chunked reader writes them."""
        source = bad[[ROW, *self.cell.values()]].rename(columns={c: h for h, c in self.cell.items()})
        raw = _raw_json(source, source.index)
        rows = []
        for i in range(len(bad)):
            for k in range(n_whys):
                why = bad[f"why{k}"].iloc[i]
                if why is None or why is pd.NA:
                    continue
                for header, value, reason in json.loads(why):
                    rows.append((int(bad[ROW].iloc[i]), header, value, reason, raw.iloc[i]))
        return pd.DataFrame(rows, columns=["row_number", "column_name", "value", "reason", "raw"]).astype(
            {"row_number": "int64"}
        )


def _arrow(values: pd.Series, column: S.Column) -> pa.Array:
    """A typed column of a lookup as Arrow (DuckDB casts it to the stage's type)."""
    if column.dtype in ("date", "timestamp"):
        return pa.array(values.astype("datetime64[ns]"), type=pa.timestamp("ns"), from_pandas=True)
    if column.dtype == "string":
        return pa.array(values.astype(object).where(values.notna(), None).to_numpy(), type=pa.string())
    return pa.array(values, from_pandas=True)
