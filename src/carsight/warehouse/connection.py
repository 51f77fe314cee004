"""Opening the warehouse, creating and migrating its tables, and the one small write interface.

The write interface (upsert by natural key, append, replace) is what loaders and pipelines use.

All reads go through Ibis (``Warehouse.table``). Writes take the backend's native fast path
where there is one (DuckDB: register the Arrow/pandas frame and run set-based SQL), and plain
SQL through Ibis elsewhere.
"""

from __future__ import annotations

import datetime as _dt
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa

from carsight.config import warehouse_url
from carsight.errors import WarehouseError
from carsight.warehouse import schema as S
from carsight.warehouse.sharing import Publication, duckdb_file, file_stamp, is_lock_error, latest_publication, publish
from carsight.warehouse.staging import SQL_TYPES as _SQL_TYPES
from carsight.warehouse.staging import Stage, typed_select
from carsight.warehouse.staging import quote as _q


@dataclass(frozen=True)
class UpsertResult:
    """How many rows an upsert inserted, updated, and left unchanged (identical to the stored row)."""

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
    wait_s:
        How long to wait for a DuckDB file that other connections hold (a reader of a warehouse
        that has published nothing yet). Default: 10 s when writing, none when reading.
    publishes:
        Whether a writing connection to a DuckDB file publishes a snapshot for readers
        (:mod:`carsight.warehouse.sharing`): when it opens a file with nothing published, and when
        it closes having changed the file. Default: yes.
    """

    # Whether this connection publishes snapshots (a writer of a DuckDB file), and the snapshot it
    # reads (set by carsight.warehouse.open_reader; None: it reads the warehouse itself).
    publishes: bool = False
    publication: Publication | None = None
    # Whether the tables live on a cluster (Spark): no step may then bring a whole table to the driver.
    distributed: bool = False

    def __init__(self, url: str, *, read_only: bool = False, wait_s: float | None = None, publishes: bool = True):
        self.url = warehouse_url(url)
        self.read_only = read_only
        self._transactions = 0  # depth of open transaction() blocks
        self._published_stamp: str | None = None  # the file's stamp when last published (or opened)
        deadline = time.monotonic() + (wait_s if wait_s is not None else 0.0 if read_only else 10.0)
        try:
            if self.url.startswith("duckdb://"):
                path = self.url[len("duckdb://") :]
                on_disk = bool(path) and path != ":memory:"
                if on_disk and read_only and not Path(path).exists():
                    # Checked before any folder is made: a reader never creates what it reads.
                    raise WarehouseError(f"warehouse {path} does not exist yet: run `carsight init` or `carsight demo`")
                if on_disk and not read_only:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                while True:
                    try:
                        self.con = ibis.duckdb.connect(path or ":memory:", read_only=read_only)
                        break
                    except Exception as exc:
                        if not is_lock_error(exc) or time.monotonic() >= deadline:
                            raise
                        time.sleep(0.2)
            else:
                self.con = ibis.connect(self.url)
                if self.con.name == "sqlite":
                    # Python's sqlite3 otherwise opens a transaction before each write on its own and
                    # keeps it open; carsight says where transactions begin and end (transaction()).
                    self.con.con.isolation_level = None
        except WarehouseError:
            raise
        except Exception as exc:  # the driver's message is the useful part
            raise WarehouseError(f"cannot open warehouse {self.url}: {exc}") from exc
        self._file = duckdb_file(self.url) if publishes and not read_only else None
        self.publishes = self._file is not None  # a writer of a DuckDB file that publishes for readers
        if self._file is not None:
            if latest_publication(self._file) is None:
                # A reader that starts while this writer holds the file must find something to read.
                self.publish(writer="open")
            self._published_stamp = file_stamp(str(self._file))

    # ---- reading -----------------------------------------------------------------
    @property
    def is_duckdb(self) -> bool:
        """Whether the warehouse is a DuckDB database."""
        return self.con.name == "duckdb"

    def has_table(self, name: str) -> bool:
        """Whether the warehouse has a table ``name``."""
        return name in self.con.list_tables()

    def table(self, name: str) -> ibis.Table:
        """An Ibis table expression; a clear error if the table is missing."""
        if not self.has_table(name):
            hint = "run `carsight init`" if name in S.SOURCE_TABLES else "run `carsight pipeline run`"
            raise WarehouseError(f"table '{name}' is not in the warehouse ({hint})")
        return self.con.table(name)

    def to_pandas(self, expr: ibis.Expr) -> pd.DataFrame:
        """Run an Ibis expression and return its result as a pandas frame."""
        return expr.to_pandas()

    def count(self, name: str) -> int:
        """Rows in table ``name``; a clear error if the table is missing (:meth:`table`)."""
        return int(self.table(name).count().to_pyarrow().as_py())

    @contextmanager
    def cached(self, expr: ibis.Table) -> Iterator[ibis.Table]:
        """``expr`` computed once into a temporary table, kept while the block runs.

        Later expressions read it instead of computing ``expr`` again; nothing comes to Python.
        Being temporary, it is never stored in the warehouse file (DuckDB spills it to disk past
        its memory limit).
        """
        name = f"_cached_{uuid.uuid4().hex[:12]}"
        self.con.create_table(name, expr, temp=True)
        try:
            yield self.con.table(name)
        finally:
            self._execute(f"DROP TABLE IF EXISTS {_q(name)}")

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
        """The newest schema version applied to the warehouse; None before :meth:`init` recorded one."""
        if not self.has_table(S.SCHEMA_META.name):
            return None
        value = self.table(S.SCHEMA_META.name).version.max().to_pyarrow().as_py()
        return int(value) if value is not None else None

    def ensure(self, table: S.Table) -> None:
        """Create one table if missing (result tables are created on first write)."""
        if not self.has_table(table.name):
            self.con.create_table(table.name, schema=table.ibis_schema())

    # ---- writing -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit every write inside together, or none.

        An error, or a process killed half way, leaves the warehouse as it was. A transaction opened
        inside another joins it.
        """
        if self._transactions:
            self._transactions += 1
            try:
                yield
            finally:
                self._transactions -= 1
            return
        self._execute("BEGIN TRANSACTION")
        self._transactions = 1
        try:
            yield
        except BaseException:
            self._transactions = 0
            with suppress(Exception):  # the error that brought us here is the one to report
                self._execute("ROLLBACK")
            raise
        self._transactions = 0
        self._execute("COMMIT")

    @contextmanager
    def memory_budget(self, limit: str) -> Iterator[None]:
        """Hold DuckDB's buffer memory to ``limit`` (such as ``"256MB"``) inside the block.

        Beyond it DuckDB spills to its temporary folder, so memory stays flat however many rows pass
        through. DuckDB's default limit comes back afterwards (carsight sets no other). Other
        backends manage their own memory.
        """
        if not self.is_duckdb:
            yield
            return
        self._execute(f"SET memory_limit = '{limit}'")
        try:
            yield
        finally:
            self._execute("RESET memory_limit")

    def _execute(self, sql: str) -> None:
        if self.is_duckdb:
            self.con.con.execute(sql)
        else:
            with closing(self.con.raw_sql(sql)):  # type: ignore[attr-defined]
                pass

    def _scalar(self, sql: str) -> int:
        if self.is_duckdb:
            return int(self.con.con.execute(sql).fetchone()[0] or 0)
        with closing(self.con.raw_sql(sql)) as cur:  # type: ignore[attr-defined]
            return int(cur.fetchone()[0] or 0)

    def _rows(self, sql: str) -> list[tuple]:
        if self.is_duckdb:
            return self.con.con.execute(sql).fetchall()
        with closing(self.con.raw_sql(sql)) as cur:  # type: ignore[attr-defined]
            return cur.fetchall()

    @contextmanager
    def _registered(self, data: pd.DataFrame | pa.Table) -> Iterator[tuple[str, list[str]]]:
        """``data`` as a relation the warehouse can read; yields its name and column names."""
        frame = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        raw = f"_raw_{uuid.uuid4().hex[:12]}"
        if self.is_duckdb:
            duck = self.con.con
            duck.register(raw, frame)  # DuckDB reads the Arrow buffers in place
            try:
                yield raw, frame.column_names
            finally:
                duck.unregister(raw)
        else:
            # Created from the schema, then inserted: ibis 12's create_table(obj=…) fails on SQLite.
            self.con.create_table(raw, schema=ibis.schema(frame.schema), temp=True)
            self.con.insert(raw, frame)
            try:
                yield raw, frame.column_names
            finally:
                self._execute(f"DROP TABLE IF EXISTS {_q(raw)}")

    @contextmanager
    def _staged(self, table: S.Table, data: pd.DataFrame | pa.Table | ibis.Table) -> Iterator[str]:
        """Expose ``data`` as a relation typed like ``table``; yields its name.

        An Ibis expression over this warehouse is computed into the stage by the warehouse, never
        fetched (so it may read the very table it will replace).
        """
        with self.stage(table) as stage:
            if isinstance(data, ibis.Table):
                expr = typed_select(table, data)
                self.con._run_pre_execute_hooks(expr)  # registers the expression's in-memory tables
                stage.fill(str(self.con.compile(expr)))
            else:
                stage.append(data)
            yield stage.name

    @contextmanager
    def stage(self, table: S.Table, *, extra: dict[str, str] | None = None) -> Iterator[Stage]:
        """A temporary table shaped like ``table``, to fill chunk by chunk and write with :meth:`upsert_from`.

        ``extra`` adds helper columns (name → schema type, such as a file row number). Chunks go in
        with :meth:`Stage.append`. The table is dropped when the block ends; being temporary, it is
        never stored, so a process killed half way leaves nothing of it behind.
        """
        stage = Stage(self, table, f"_stage_{table.name}_{uuid.uuid4().hex[:12]}", dict(extra or {}))
        columns = [*((c.name, c.dtype) for c in table.columns), *stage.extra.items()]
        self._execute(
            f"CREATE TEMP TABLE {_q(stage.name)} (" + ", ".join(f"{_q(n)} {_SQL_TYPES[d]}" for n, d in columns) + ")"
        )
        try:
            yield stage
        finally:
            self._execute(f"DROP TABLE IF EXISTS {_q(stage.name)}")

    def upsert(
        self,
        table: S.Table | str,
        data: pd.DataFrame | pa.Table,
        *,
        columns: list[str] | set[str] | None = None,
        dry_run: bool = False,
    ) -> UpsertResult:
        """Insert new rows and update changed ones by the table's natural key.

        Identical rows are left alone, so loading the same data twice changes nothing. ``data`` must
        be unique by key.

        ``columns`` names the non-key columns the data really carries (a file without an e-mail
        column must not erase the e-mails already stored): only those are compared and updated.
        ``dry_run`` only counts what would happen.
        """
        table = S.get_table(table) if isinstance(table, str) else table
        if dry_run and not self.has_table(table.name):
            return UpsertResult(inserted=len(data), updated=0, unchanged=0)
        if columns is None:  # only what the data carries is compared and updated
            columns = set(data.column_names if isinstance(data, pa.Table) else data.columns)
        with self._staged(table, data) as stage:
            return self.upsert_from(table, stage, columns=columns, dry_run=dry_run)

    def upsert_from(
        self,
        table: S.Table | str,
        relation: str,
        *,
        columns: list[str] | set[str] | None = None,
        dry_run: bool = False,
    ) -> UpsertResult:
        """:meth:`upsert` from a relation already in the warehouse, such as a :meth:`stage`.

        The relation is typed like ``table`` and unique by its key; its other columns are ignored.

        Parameters
        ----------
        table
            The table to write, by schema or by name.
        relation
            Name of the table or view holding the rows.
        columns
            The non-key columns the rows really carry (only those are compared and updated);
            None means every column of ``table``.
        dry_run
            Only count what would happen; nothing is written.

        Returns
        -------
        UpsertResult
            Rows inserted, updated and left unchanged.
        """
        table = S.get_table(table) if isinstance(table, str) else table
        if not table.keys:
            raise WarehouseError(f"table {table.name} has no natural key; use append")
        s = _q(relation)
        if not dry_run:
            self.ensure(table)
        elif not self.has_table(table.name):
            return UpsertResult(inserted=self._scalar(f"SELECT COUNT(*) FROM {s}"), updated=0, unchanged=0)
        columns = set(table.column_names) if columns is None else set(columns)
        target = _q(table.name)
        on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in table.keys)
        others = [c.name for c in table.columns if c.name not in table.keys and c.name in columns]
        changed = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in others) or "FALSE"
        cols = ", ".join(_q(c) for c in table.column_names)
        # One join counts both: a stage row without a partner is new, one with a differing partner
        # is a change (keys are unique on both sides).
        new = f"t.{_q(table.keys[0])} IS NULL"
        if self._scalar(f"SELECT COUNT(*) FROM {target}") == 0:  # a first load: every row is new
            total = inserted = self._scalar(f"SELECT COUNT(*) FROM {s}")
            updated = 0
        else:
            total, inserted, updated = self._rows(
                f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {new} THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN NOT ({new}) AND ({changed}) THEN 1 ELSE 0 END), 0) "
                f"FROM {s} s LEFT JOIN {target} t ON {on}"
            )[0]
        # An idempotent re-load changes nothing: skip statements that would find nothing
        # (their joins alone cost seconds on millions of rows).
        statements = []
        if updated and not dry_run:
            assignments = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in others)
            statements.append(f"UPDATE {target} AS t SET {assignments} FROM {s} AS s WHERE {on} AND ({changed})")
        if inserted and not dry_run:
            # When every row is new, no row needs looking up (the anti-join alone costs a third).
            missing = "" if inserted == total else f" WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
            statements.append(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {s} s{missing}")
        if statements:
            self._run_in_transaction(statements)
        total, inserted, updated = int(total), int(inserted), int(updated)
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

    def replace(self, table: S.Table | str, data: pd.DataFrame | pa.Table | ibis.Table) -> int:
        """Replace a result table's contents atomically: a reader sees the old rows or the new ones.

        Never an empty or half-written table, on every backend. DuckDB deletes and inserts in one
        transaction. Elsewhere the rows are written to a new table first, which then takes the old
        one's name (both renames in one transaction where the backend's DDL is transactional, as in
        SQLite and PostgreSQL), and the old table is dropped; a failure before the swap leaves the
        old table as it was. ``data`` may be an Ibis expression over this warehouse: it is then
        computed and written by the warehouse (as on Spark), never fetched.

        Returns
        -------
        int
            The number of rows written.
        """
        table = S.get_table(table) if isinstance(table, str) else table
        self.ensure(table)
        cols = ", ".join(_q(c) for c in table.column_names)
        with self._staged(table, data) as stage:
            n = self._scalar(f"SELECT COUNT(*) FROM {_q(stage)}")
            if self.is_duckdb:
                self._run_in_transaction(
                    [
                        f"DELETE FROM {_q(table.name)}",
                        f"INSERT INTO {_q(table.name)} ({cols}) SELECT {cols} FROM {_q(stage)}",
                    ]
                )
            else:
                self._swap_in(table, f"SELECT {cols} FROM {_q(stage)}")
        return n

    def _swap_in(self, table: S.Table, select: str) -> None:
        """Write ``select``'s rows to a new table, then give it ``table``'s name in place of the old one."""
        token = uuid.uuid4().hex[:12]
        new, old = f"_new_{table.name}_{token}", f"_old_{table.name}_{token}"
        cols = ", ".join(_q(c) for c in table.column_names)
        self.con.create_table(new, schema=table.ibis_schema())
        try:
            self._run_in_transaction([f"INSERT INTO {_q(new)} ({cols}) {select}"])
            self._run_in_transaction(
                [
                    f"ALTER TABLE {_q(table.name)} RENAME TO {_q(old)}",
                    f"ALTER TABLE {_q(new)} RENAME TO {_q(table.name)}",
                ]
            )
        except BaseException:
            # A backend without transactional DDL may have done the first rename only: undo it.
            tables = set(self.con.list_tables())
            if table.name not in tables and old in tables:
                self._execute(f"ALTER TABLE {_q(old)} RENAME TO {_q(table.name)}")
            self._execute(f"DROP TABLE IF EXISTS {_q(new)}")
            raise
        self._execute(f"DROP TABLE {_q(old)}")

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
        with self.transaction():
            for sql in statements:
                self._execute(sql)

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

    # ---- publishing -------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        """Whether a :meth:`transaction` block is open (nothing can be published inside one)."""
        return self._transactions > 0

    def publish(self, *, writer: str = "write", detail: str = "") -> None:
        """Publish what this writing connection has committed as the snapshot readers open.

        The pipeline calls it after each step and a load after each file; :meth:`close` calls it
        when the file changed since the last one.

        Parameters
        ----------
        writer : str
            What publishes (``pipeline``, ``load``, ``write``, ``open``).
        detail : str
            A few words on what the snapshot holds.

        Raises
        ------
        WarehouseError
            Not a writing connection to a DuckDB file, or the copy failed (see
            :func:`carsight.warehouse.sharing.publish`).
        """
        publish(self, writer=writer, detail=detail)
        self._published_stamp = file_stamp(self.url)

    def close(self) -> None:
        """Publish what changed (a writing connection to a DuckDB file), then let go of the warehouse."""
        try:
            if getattr(self, "_file", None) is not None and self._transactions == 0:
                file, self._file = self._file, None  # closing twice publishes once
                if file_stamp(str(file)) != self._published_stamp:
                    publish(self, writer="write")
        finally:
            with suppress(Exception):  # closing twice is harmless
                self.con.disconnect()

    def __enter__(self) -> Warehouse:
        """The connection itself, closed when the ``with`` block ends."""
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Close the connection (:meth:`close`).

        When the block raised, that error is the one reported: a failure to publish on closing is
        added to it as a note.
        """
        if exc is None:
            self.close()
            return
        try:  # the error that ends the block is the one to report
            self.close()
        except WarehouseError as publishing:
            exc.add_note(f"and then: {publishing}")


def connect(url: str | None = None, *, read_only: bool = False, init: bool = False) -> Warehouse:
    """Open the configured warehouse (or ``url``); ``init=True`` creates/migrates tables first."""
    if url is None:
        from carsight.config import get_settings

        url = get_settings().warehouse
    if str(url).startswith("spark://"):
        # Imported here: pyspark comes with the optional spark extra (docs/scale.md).
        from carsight.warehouse.spark import SparkWarehouse

        wh: Warehouse = SparkWarehouse(str(url), read_only=read_only)
    else:
        wh = Warehouse(url, read_only=read_only)
    if init:
        wh.init()
    return wh


_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def safe_identifier(name: str) -> str:
    """Refuse identifiers that are not plain names (they end up in SQL)."""
    if not _SAFE.match(name):
        raise WarehouseError(f"not a valid table or column name: {name!r}")
    return name
