"""Staging a file in the warehouse before it is written.

A temporary table shaped like a source table, filled chunk by chunk or by one query (:class:`Stage`),
and a delimited file's cells read by DuckDB's own CSV reader (:func:`csv_cells`). Temporary tables are
never stored, so a load killed half way leaves nothing of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from carsight.errors import WarehouseError
from carsight.warehouse import schema as S

if TYPE_CHECKING:
    from carsight.warehouse.connection import Warehouse

SQL_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}


def quote(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


def typed_select(table: S.Table, expr: ibis.Table) -> ibis.Table:
    """``expr`` with exactly ``table``'s columns, cast to their types; missing ones get their default.

    Extra columns are dropped. How an Ibis expression is written to a table by SQL (such as
    :meth:`Warehouse.replace` with an expression: computed in the warehouse, never fetched).

    Raises
    ------
    WarehouseError
        When the expression lacks a required column (not nullable, no default).
    """
    have = set(expr.columns)
    required = [c.name for c in table.columns if c.name not in have and not c.nullable and c.default is None]
    if required:
        raise WarehouseError(f"data for {table.name} lacks columns: {', '.join(required)}")
    return expr.select(
        *[
            (expr[c.name] if c.name in have else ibis.literal(c.default, type=c.dtype)).cast(c.dtype).name(c.name)
            for c in table.columns
        ]
    )


class Stage:
    """A temporary table shaped like a source table plus helper columns (see :meth:`Warehouse.stage`).

    Chunks of a file are appended as they are read, so memory holds one chunk, never the file; the
    whole-file steps (keeping the last row of a key, numbering identical rows) then run as set-based
    SQL over everything staged.
    """

    def __init__(self, wh: Warehouse, table: S.Table, name: str, extra: dict[str, str]):
        self.wh, self.table, self.name, self.extra = wh, table, name, extra
        self.rows = 0

    def append(self, data: pd.DataFrame | pa.Table) -> int:
        """Append rows holding (some of) the table's columns and the helper columns.

        Columns the data lacks (added to the schema later) get their default. Returns the number of
        rows appended.
        """
        wh, table = self.wh, self.table
        with wh._registered(data) as (raw, have):
            missing = [c for c in table.columns if c.name not in have]
            required = [c.name for c in missing if not c.nullable and c.default is None]
            if required:
                raise WarehouseError(f"data for {table.name} lacks columns: {', '.join(required)}")

            def value(c: S.Column) -> str:
                if c not in missing:
                    return quote(c.name)
                return "NULL" if c.default is None else "'" + c.default.replace("'", "''") + "'"

            casts = [f"CAST({value(c)} AS {SQL_TYPES[c.dtype]})" for c in table.columns]
            casts += [f"CAST({quote(n) if n in have else 'NULL'} AS {SQL_TYPES[d]})" for n, d in self.extra.items()]
            names = ", ".join(quote(n) for n in [*table.column_names, *self.extra])
            n = len(data)
            if n:
                wh._execute(f"INSERT INTO {quote(self.name)} ({names}) SELECT {', '.join(casts)} FROM {quote(raw)}")
        self.rows += n
        return n

    def fill(self, select: str) -> int:
        """Append the rows of a query (typed like the stage, columns named like it; any order).

        Returns the number of rows appended.
        """
        names = ", ".join(quote(n) for n in [*self.table.column_names, *self.extra])
        before = self.rows
        self.wh._execute(f"INSERT INTO {quote(self.name)} ({names}) SELECT {names} FROM ({select}) q")
        self.rows = self.wh._scalar(f"SELECT COUNT(*) FROM {quote(self.name)}")
        return self.rows - before

    def clear(self) -> None:
        """Forget every row staged so far (a file read again from its start)."""
        self.wh._execute(f"DELETE FROM {quote(self.name)}")
        self.rows = 0

    def _last_per_key(self, order: str) -> str:
        keys = ", ".join(quote(k) for k in self.table.keys)
        return (
            f"SELECT {keys}, {quote(order)}, ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {quote(order)} DESC) AS _later "
            f"FROM {quote(self.name)}"
        )

    def keep_last(self, order: str, examples: int = 5) -> tuple[int, list[dict]]:
        """Keep, for each natural key, only the row with the highest ``order``.

        That is the last in the file: a later row corrects an earlier one. Returns how many rows were
        dropped and the keys of the first few, in key order.
        """
        keys = ", ".join(quote(k) for k in self.table.keys)
        distinct = self.wh._scalar(f"SELECT COUNT(*) FROM (SELECT DISTINCT {keys} FROM {quote(self.name)}) d")
        dropped = self.rows - distinct
        if not dropped:
            return 0, []
        earlier = f"SELECT * FROM ({self._last_per_key(order)}) d WHERE _later > 1"
        shown = self.wh._rows(f"SELECT {keys} FROM ({earlier}) e ORDER BY {keys}, {quote(order)} LIMIT {int(examples)}")
        self.wh._execute(
            f"DELETE FROM {quote(self.name)} WHERE {quote(order)} IN (SELECT {quote(order)} FROM ({earlier}) e)"
        )
        self.rows -= dropped
        return dropped, [dict(zip(self.table.keys, row, strict=True)) for row in shown]

    def number_keys(self, key: str, digest: str, order: str) -> None:
        """Fill ``key`` with ``digest-N``, N numbering the rows of one digest by ``order``.

        The numbers run 1, 2, … in file order over the whole file, so identical rows get distinct,
        stable keys.
        """
        self.wh._execute(
            f"UPDATE {quote(self.name)} SET {quote(key)} = n.d || '-' || CAST(n.occurrence AS VARCHAR) "
            f"FROM (SELECT {quote(order)} AS o, {quote(digest)} AS d, "
            f"ROW_NUMBER() OVER (PARTITION BY {quote(digest)} ORDER BY {quote(order)}) AS occurrence "
            f"FROM {quote(self.name)}) n WHERE {quote(self.name)}.{quote(order)} = n.o"
        )

    def codes_for_names(self, column: str, lookup: S.Table, code: str, name: str) -> int:
        """Replace values of ``column`` that are a ``name`` in ``lookup`` (and no ``code``) by that code.

        A dealer column that holds dealer names (a 지점 column of "서울 강남지점") is stored as the
        dealer codes the dealers table gives them. A value that already is a code, a name two rows of
        ``lookup`` share, or a name nobody has, is kept. Returns the number of values replaced.
        """
        if not self.wh.has_table(lookup.name):
            return 0
        target, source = quote(self.name), quote(lookup.name)
        names = (
            f"SELECT {quote(name)} AS n, MIN({quote(code)}) AS c FROM {source} WHERE {quote(name)} IS NOT NULL "
            f"AND {quote(name)} NOT IN (SELECT {quote(code)} FROM {source}) GROUP BY {quote(name)} HAVING COUNT(*) = 1"
        )
        found = self.wh._scalar(f"SELECT COUNT(*) FROM {target} t JOIN ({names}) m ON t.{quote(column)} = m.n")
        if found:
            self.wh._execute(
                f"UPDATE {target} SET {quote(column)} = m.c FROM ({names}) m WHERE {target}.{quote(column)} = m.n"
            )
        return found


class CsvNotRegular(WarehouseError):
    """DuckDB's CSV reader could not read a file as a regular table (ragged rows, not UTF-8, …)."""


class CsvCells:
    """The cells of a delimited text file as a temporary DuckDB table (see :func:`csv_cells`).

    Columns ``c0``, ``c1``, … (text; an empty cell is NULL), in file order: ``rowid + 1`` is a row's
    number (1 = the first row after the skipped lines). Lookup tables registered with
    :meth:`add_lookup` live as long as it.
    """

    def __init__(self, wh: Warehouse, name: str):
        self.wh, self.name = wh, name
        self.lookups: list[str] = []

    def frame(self, select: str) -> pd.DataFrame:
        """The result of a query (over :attr:`name` and the lookups) as a frame of Arrow-backed columns."""
        table = self.wh.con.con.execute(select).fetch_arrow_table()
        return table.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow") if pa.types.is_string(t) else None)

    def scalar(self, select: str) -> int:
        """The first value of a query's first row, as an integer."""
        return self.wh._scalar(select)

    def add_lookup(self, data: pa.Table) -> str:
        """Copy ``data`` into a temporary table dropped with the cells; returns its name."""
        name = f"{self.name}_lookup{len(self.lookups)}"
        with self.wh._registered(data) as (raw, _):
            self.wh._execute(f"CREATE TEMP TABLE {quote(name)} AS SELECT * FROM {quote(raw)}")
        self.lookups.append(name)
        return name


@contextmanager
def csv_cells(wh: Warehouse, path: Path, width: int, *, skip: int, delimiter: str) -> Iterator[CsvCells]:
    """A UTF-8 delimited file's cells, read by DuckDB's own CSV reader into a temporary table.

    Every cell is read as text (``width`` columns, standard ``"`` quoting, line breaks allowed in
    quoted cells) after ``skip`` lines; the table and its lookups are dropped when the block ends.
    DuckDB only.

    Raises
    ------
    CsvNotRegular
        When the reader refuses the file: a row with another number of fields, text that is not
        UTF-8. The caller then reads it the forgiving way.
    """
    if not wh.is_duckdb:
        raise CsvNotRegular("only DuckDB reads CSV files itself")
    cells = CsvCells(wh, f"_cells_{uuid.uuid4().hex[:12]}")
    names = [f"c{i}" for i in range(width)]
    columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
    escaped = str(path).replace("'", "''")
    delim = delimiter.replace("'", "''")
    # Row numbers follow the file: DuckDB stores a scan's rows in order (preserve_insertion_order, on
    # by default), so a row's position in the table is its position in the file.
    read = (
        f"read_csv('{escaped}', columns={columns}, header=false, skip={int(skip)}, auto_detect=false, "
        f"delim='{delim}', quote='\"', escape='\"', all_varchar=true)"
    )
    cells_sql = ", ".join(f"NULLIF({n}, '') AS {n}" for n in names)
    try:
        try:
            wh._execute(f"CREATE TEMP TABLE {quote(cells.name)} AS SELECT {cells_sql} FROM {read}")
        except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
            raise CsvNotRegular(str(exc).splitlines()[0]) from exc
        yield cells
    finally:
        for name in [cells.name, *cells.lookups]:
            wh._execute(f"DROP TABLE IF EXISTS {quote(name)}")
