"""Opening the warehouse, creating and migrating its tables, and the one small write interface
(upsert by natural key, append, replace) that loaders and pipelines use.

All reads go through Ibis (``Warehouse.table``). Writes take the backend's native fast path
where there is one (DuckDB: register the Arrow/pandas frame and run set-based SQL), and plain
SQL through Ibis elsewhere.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa

from carsight.config import warehouse_url
from carsight.errors import WarehouseError
from carsight.warehouse import schema as S

_SQL_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}


def _q(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int
    unchanged: int


class Warehouse:
    """A connection to the carsight warehouse.

    Parameters
    ----------
    url:
        A DuckDB file path or any Ibis connection URL (``postgres://…``, ``duckdb://…``).
    read_only:
        Open without write access (DuckDB allows many read-only readers, e.g. dashboards).
    """

    def __init__(self, url: str, *, read_only: bool = False):
        self.url = warehouse_url(url)
        self.read_only = read_only
        try:
            if self.url.startswith("duckdb://"):
                path = self.url[len("duckdb://") :]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                if read_only and path and path != ":memory:" and not Path(path).exists():
                    raise WarehouseError(f"warehouse {path} does not exist yet: run `carsight init` or `carsight demo`")
                self.con = ibis.duckdb.connect(path or ":memory:", read_only=read_only)
            else:
                self.con = ibis.connect(self.url)
        except WarehouseError:
            raise
        except Exception as exc:  # the driver's message is the useful part
            raise WarehouseError(f"cannot open warehouse {self.url}: {exc}") from exc

    # ---- reading -----------------------------------------------------------------
    @property
    def is_duckdb(self) -> bool:
        return self.con.name == "duckdb"

    def has_table(self, name: str) -> bool:
        return name in self.con.list_tables()

    def table(self, name: str) -> ibis.Table:
        """An Ibis table expression; a clear error if the table is missing."""
        if not self.has_table(name):
            hint = "run `carsight init`" if name in S.SOURCE_TABLES else "run `carsight pipeline run`"
            raise WarehouseError(f"table '{name}' is not in the warehouse ({hint})")
        return self.con.table(name)

    def to_pandas(self, expr: ibis.Expr) -> pd.DataFrame:
        return expr.to_pandas()

    def count(self, name: str) -> int:
        return int(self.table(name).count().to_pyarrow().as_py())

    # ---- schema ------------------------------------------------------------------
    def init(self) -> list[str]:
        """Create missing tables and add missing columns (additive migration). Returns what changed."""
        changes: list[str] = []
        existing = set(self.con.list_tables())
        for table in S.all_tables().values():
            if table.name not in existing:
                self.con.create_table(table.name, schema=table.ibis_schema())
                changes.append(f"created {table.name}")
                continue
            have = set(self.con.table(table.name).columns)
            for column in table.columns:
                if column.name not in have:
                    self.con.raw_sql(
                        f"ALTER TABLE {_q(table.name)} ADD COLUMN {_q(column.name)} {_SQL_TYPES[column.dtype]}"
                    )
                    if column.default is not None:  # rows loaded before the column existed get its default
                        literal = "'" + column.default.replace("'", "''") + "'"
                        self.con.raw_sql(f"UPDATE {_q(table.name)} SET {_q(column.name)} = {literal}")
                    changes.append(f"added {table.name}.{column.name}")
        current = self.schema_version()
        if current != S.SCHEMA_VERSION:
            self.con.insert(
                S.SCHEMA_META.name,
                pd.DataFrame({"version": [S.SCHEMA_VERSION], "applied_at": [pd.Timestamp.now()]}),
            )
            changes.append(f"schema version {current or 0} -> {S.SCHEMA_VERSION}")
        return changes

    def schema_version(self) -> int | None:
        if not self.has_table(S.SCHEMA_META.name):
            return None
        value = self.con.table(S.SCHEMA_META.name).version.max().to_pyarrow().as_py()
        return int(value) if value is not None else None

    def ensure(self, table: S.Table) -> None:
        """Create one table if missing (result tables are created on first write)."""
        if not self.has_table(table.name):
            self.con.create_table(table.name, schema=table.ibis_schema())

    # ---- writing -----------------------------------------------------------------
    @contextmanager
    def _staged(self, table: S.Table, data: pd.DataFrame | pa.Table) -> Iterator[str]:
        """Expose ``data`` as a relation typed like ``table``; yields its name."""
        frame = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        missing = [c for c in table.columns if c.name not in frame.column_names]
        required = [c.name for c in missing if not c.nullable and c.default is None]
        if required:
            raise WarehouseError(f"data for {table.name} lacks columns: {', '.join(required)}")
        stage = f"_stage_{table.name}_{abs(hash(id(frame))) % 10**8}"

        # Columns the data does not carry (added to the schema later) are staged with their default.
        def value(c: S.Column) -> str:
            if c not in missing:
                return _q(c.name)
            return "NULL" if c.default is None else "'" + c.default.replace("'", "''") + "'"

        casts = ", ".join(f"CAST({value(c)} AS {_SQL_TYPES[c.dtype]}) AS {_q(c.name)}" for c in table.columns)
        raw = f"{stage}_raw"
        if self.is_duckdb:
            duck = self.con.con
            duck.register(raw, frame)
            try:
                duck.execute(f"CREATE OR REPLACE TEMP TABLE {_q(stage)} AS SELECT {casts} FROM {_q(raw)}")
            finally:
                duck.unregister(raw)
        else:
            self.con.create_table(raw, obj=frame, temp=True, overwrite=True)
            self.con.raw_sql(f"CREATE TEMP TABLE {_q(stage)} AS SELECT {casts} FROM {_q(raw)}")
            self.con.drop_table(raw, force=True)
        try:
            yield stage
        finally:
            self.con.raw_sql(f"DROP TABLE IF EXISTS {_q(stage)}")

    def _scalar(self, sql: str) -> int:
        if self.is_duckdb:
            return int(self.con.con.execute(sql).fetchone()[0])
        with self.con.raw_sql(sql) as cur:  # type: ignore[attr-defined]
            return int(cur.fetchone()[0])

    def upsert(
        self,
        table: S.Table | str,
        data: pd.DataFrame | pa.Table,
        *,
        columns: list[str] | set[str] | None = None,
        dry_run: bool = False,
    ) -> UpsertResult:
        """Insert new rows and update changed ones by the table's natural key; identical rows are
        left alone, so loading the same data twice changes nothing. ``data`` must be unique by key.

        ``columns`` names the non-key columns the data really carries (a file without an e-mail
        column must not erase the e-mails already stored): only those are compared and updated.
        ``dry_run`` only counts what would happen.
        """
        table = S.get_table(table) if isinstance(table, str) else table
        if not table.keys:
            raise WarehouseError(f"table {table.name} has no natural key; use append")
        if not dry_run:
            self.ensure(table)
        elif not self.has_table(table.name):
            n = len(data)
            return UpsertResult(inserted=n, updated=0, unchanged=0)
        if columns is None:  # only what the data carries is compared and updated
            columns = set(data.column_names if isinstance(data, pa.Table) else data.columns)
        target = _q(table.name)
        on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in table.keys)
        others = [c.name for c in table.columns if c.name not in table.keys and (columns is None or c.name in columns)]
        changed = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in others) or "FALSE"
        cols = ", ".join(_q(c) for c in table.column_names)
        with self._staged(table, data) as stage:
            s = _q(stage)
            total = self._scalar(f"SELECT COUNT(*) FROM {s}")
            inserted = self._scalar(
                f"SELECT COUNT(*) FROM {s} s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
            )
            updated = self._scalar(f"SELECT COUNT(*) FROM {s} s JOIN {target} t ON {on} WHERE {changed}")
            # An idempotent re-load changes nothing: skip statements that would find nothing
            # (their joins alone cost seconds on millions of rows).
            statements = []
            if updated and not dry_run:
                assignments = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in others)
                statements.append(f"UPDATE {target} AS t SET {assignments} FROM {s} AS s WHERE {on} AND ({changed})")
            if inserted and not dry_run:
                statements.append(
                    f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {s} s "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
                )
            if statements:
                self._run_in_transaction(statements)
        return UpsertResult(inserted=inserted, updated=updated, unchanged=total - inserted - updated)

    def append(self, table: S.Table | str, data: pd.DataFrame | pa.Table) -> int:
        """Append rows (for tables without a natural key, such as the quarantine)."""
        table = S.get_table(table) if isinstance(table, str) else table
        self.ensure(table)
        cols = ", ".join(_q(c) for c in table.column_names)
        with self._staged(table, data) as stage:
            n = self._scalar(f"SELECT COUNT(*) FROM {_q(stage)}")
            self._run_in_transaction([f"INSERT INTO {_q(table.name)} ({cols}) SELECT {cols} FROM {_q(stage)}"])
        return n

    def replace(self, table: S.Table | str, data: pd.DataFrame | pa.Table) -> int:
        """Replace a result table's contents in one transaction (readers never see it half-written)."""
        table = S.get_table(table) if isinstance(table, str) else table
        self.ensure(table)
        cols = ", ".join(_q(c) for c in table.column_names)
        with self._staged(table, data) as stage:
            n = self._scalar(f"SELECT COUNT(*) FROM {_q(stage)}")
            self._run_in_transaction(
                [
                    f"DELETE FROM {_q(table.name)}",
                    f"INSERT INTO {_q(table.name)} ({cols}) SELECT {cols} FROM {_q(stage)}",
                ]
            )
        return n

    def delete_where(self, table: S.Table | str, column: str, value) -> None:
        """Delete rows where ``column = value`` (e.g. one run of a result table)."""
        table = S.get_table(table) if isinstance(table, str) else table
        self.ensure(table)
        if self.is_duckdb:
            self.con.con.execute(f"DELETE FROM {_q(table.name)} WHERE {_q(column)} = ?", [value])
        else:
            literal = "'" + str(value).replace("'", "''") + "'"
            self.con.raw_sql(f"DELETE FROM {_q(table.name)} WHERE {_q(column)} = {literal}")

    def _run_in_transaction(self, statements: list[str]) -> None:
        if self.is_duckdb:
            duck = self.con.con
            duck.execute("BEGIN TRANSACTION")
            try:
                for sql in statements:
                    duck.execute(sql)
                duck.execute("COMMIT")
            except Exception:
                duck.execute("ROLLBACK")
                raise
        else:
            for sql in statements:
                self.con.raw_sql(sql)

    # ---- overview ----------------------------------------------------------------
    def status(self) -> pd.DataFrame:
        """Per table: rows, date range, last load. Missing tables show as absent."""
        rows = []
        present = set(self.con.list_tables())
        last_loads: dict[str, _dt.datetime] = {}
        if S.LOAD_LOG.name in present:
            log = self.con.table(S.LOAD_LOG.name)
            agg = log.group_by("table_name").aggregate(last=log.started_at.max()).to_pandas()
            last_loads = dict(zip(agg.table_name, agg["last"], strict=True))
        for table in S.all_tables().values():
            if table.kind == "system" and table.name != S.QUARANTINE.name:
                continue
            if table.name not in present:
                if table.kind == "source":
                    rows.append({"table": table.name, "kind": table.kind, "rows": None})
                continue
            t = self.con.table(table.name)
            row = {"table": table.name, "kind": table.kind}
            if table.date_column and table.date_column in t.columns:
                stats = (
                    t.aggregate(n=t.count(), first=t[table.date_column].min(), last=t[table.date_column].max())
                    .to_pandas()
                    .iloc[0]
                )
                row.update(rows=int(stats.n), first=stats["first"], last=stats["last"])
            else:
                row["rows"] = int(t.count().to_pyarrow().as_py())
            row["last_load"] = last_loads.get(table.name)
            rows.append(row)
        return pd.DataFrame(rows, columns=["table", "kind", "rows", "first", "last", "last_load"])

    def close(self) -> None:
        with suppress(Exception):  # closing twice is harmless
            self.con.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connect(url: str | None = None, *, read_only: bool = False, init: bool = False) -> Warehouse:
    """Open the configured warehouse (or ``url``); ``init=True`` creates/migrates tables first."""
    if url is None:
        from carsight.config import get_settings

        url = get_settings().warehouse
    wh = Warehouse(url, read_only=read_only)
    if init:
        wh.init()
    return wh


def duckdb_file(location: str) -> Path | None:
    """The DuckDB file behind a warehouse location, or None for server backends and :memory:."""
    url = warehouse_url(location)
    if not url.startswith("duckdb://"):
        return None
    path = url[len("duckdb://") :]
    return Path(path) if path and path != ":memory:" else None


def file_stamp(location: str) -> str | None:
    """Changes whenever a DuckDB warehouse is written (mtime and size of the file and its WAL), so
    readers (dashboard caches, the API) can tell cheaply that they must reload. None for servers."""
    path = duckdb_file(location)
    if path is None:
        return None
    parts = []
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            info = file.stat()
            parts.append(f"{info.st_mtime_ns}:{info.st_size}")
        except FileNotFoundError:
            parts.append("-")
    return "|".join(parts)


_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def safe_identifier(name: str) -> str:
    """Refuse identifiers that are not plain names (they end up in SQL)."""
    if not _SAFE.match(name):
        raise WarehouseError(f"not a valid table or column name: {name!r}")
    return name
