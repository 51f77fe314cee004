"""The Spark warehouse: the same tables and the same Ibis expressions, run by Apache Spark.

``CARSIGHT_WAREHOUSE=spark:///srv/carsight/warehouse?master=local[2]`` (or ``--warehouse``) opens a
folder of Parquet tables through Ibis's PySpark backend. Without ``master`` the session is the one
``spark-submit`` configured (YARN, Kubernetes, standalone), so a cluster needs no code change; other
``spark.*`` settings ride along as query parameters (``?spark.executor.memory=8g``). docs/scale.md
says what runs where.

Layout: one folder per table, holding immutable *versions* (``v-<time>-<id>/part-*.parquet``) and a
``_CURRENT`` file naming the version readers use. Every write (upsert, append, replace) writes a
whole new version next to the current one, then swaps ``_CURRENT`` with an atomic rename, so a reader
sees the old table or the new one, never half of either; the previous version is kept for readers
still scanning it and older ones are removed. The folder must be a POSIX file system every node
mounts (local disk for ``local[n]``; NFS, EFS, Lustre… on a cluster): the swap relies on ``rename``.
There is no transaction across tables: each table's write is atomic on its own.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends.pyspark.datatypes import PySparkSchema
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.classic.dataframe import DataFrame as ClassicFrame
from pyspark.sql.types import StructType

from carsight.errors import WarehouseError
from carsight.warehouse import schema as S
from carsight.warehouse.connection import UpsertResult, Warehouse

SCHEME = "spark://"
CURRENT = "_CURRENT"
# Versions kept besides the current one, whatever their age, and how long a replaced version stays
# for queries that started before the swap (longer than any query should take).
KEEP_PREVIOUS = 1
GRACE_S = 15 * 60
# The version each view of the process's Spark session reads (views are named per warehouse folder).
_VIEWS: dict[str, str] = {}


def parse_url(url: str) -> tuple[Path, dict[str, str]]:
    """The warehouse folder and the Spark settings named by a ``spark://`` URL.

    Parameters
    ----------
    url
        ``spark:///abs/folder?master=local[2]&spark.sql.shuffle.partitions=8``; ``master`` is a
        short name for ``spark.master``.

    Returns
    -------
    tuple of Path and dict
        The folder (absolute) and the ``spark.*`` settings.

    Raises
    ------
    WarehouseError
        When the URL names no folder, or a setting that is not a ``spark.*`` one.
    """
    parts = urlsplit(url)
    if parts.scheme != "spark":
        raise WarehouseError(f"not a Spark warehouse URL: {url}")
    folder = unquote(parts.netloc + parts.path)
    if not folder:
        raise WarehouseError(f"{url} names no folder: spark:///path/to/warehouse?master=local[2]")
    conf: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        name = "spark.master" if key == "master" else key
        if not name.startswith("spark."):
            raise WarehouseError(f"unknown setting '{key}' in {url}: use master=… or spark.…=…")
        conf[name] = value
    return Path(folder).expanduser().resolve(), conf


def session(conf: dict[str, str] | None = None) -> SparkSession:
    """The process's Spark session, created with ``conf`` when there is none yet.

    Timestamps are read and written in UTC, so a date never shifts with the machine's time zone, and
    pandas frames cross to and from the JVM as Arrow.
    """
    builder = SparkSession.builder.appName("carsight")
    conf = dict(conf or {})
    if conf.get("spark.master", "").startswith("local") and "spark.pyspark.python" not in conf:
        # Local Python workers run this interpreter, where carsight is importable. PySpark takes the
        # workers' interpreter from this variable when the context starts (not from its settings);
        # on a cluster spark-submit sets it (docs/scale.md).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        **conf,
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_schema(table: S.Table) -> StructType:
    """The Spark schema of ``table`` (every column nullable: Parquet does not keep NOT NULL)."""
    return PySparkSchema.from_ibis(ibis.schema({c.name: c.dtype for c in table.columns}))


def arrow_rows(table: S.Table, data: pd.DataFrame | pa.Table | None) -> pa.Table:
    """``data`` with exactly ``table``'s columns and types, as Parquet stores them for Spark.

    Columns the data lacks get their default (or stay empty); others are dropped. Timestamps are
    marked UTC, so Spark reads every version of a table with the same type.
    """
    fields = []
    for c in table.columns:
        kind = ibis.dtype(c.dtype).to_pyarrow()
        fields.append(pa.field(c.name, pa.timestamp("us", tz="UTC") if pa.types.is_timestamp(kind) else kind))
    schema = pa.schema(fields)
    if data is None:
        return schema.empty_table()
    arrow = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    required = [
        c.name for c in table.columns if c.name not in arrow.column_names and not c.nullable and c.default is None
    ]
    if required:
        raise WarehouseError(f"data for {table.name} lacks columns: {', '.join(required)}")
    columns = []
    for c, field in zip(table.columns, schema, strict=True):
        if c.name in arrow.column_names:
            values = arrow[c.name]
            if pa.types.is_timestamp(field.type) and pa.types.is_timestamp(values.type) and values.type.tz is None:
                values = values.cast(pa.timestamp("us")).cast(field.type)  # naive times are UTC here
            columns.append(values.cast(field.type))
        else:
            columns.append(pa.array([c.default] * arrow.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


class SparkWarehouse(Warehouse):
    """A warehouse of Parquet tables run by Spark through Ibis (see the module docstring).

    Parameters
    ----------
    url
        ``spark:///folder?master=…&spark.…=…``.
    read_only
        Refuse writes (readers such as dashboards).
    """

    distributed = True

    def __init__(self, url: str, *, read_only: bool = False, wait_s: float | None = None):
        self.url = url
        self.read_only = read_only
        self._transactions = 0
        self.folder, conf = parse_url(url)
        if read_only and not self.folder.is_dir():
            raise WarehouseError(f"warehouse {self.folder} does not exist yet: run `carsight init`")
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self.spark = session(conf)
            self.con = ibis.pyspark.connect(self.spark)
        except Exception as exc:  # the JVM's message is the useful part
            raise WarehouseError(f"cannot start Spark for {url}: {exc}") from exc
        # Each table is a Spark view named after the table and this folder: the views live as long as
        # the process's session, and two warehouses open in one process never read each other's tables.
        self._tag = hashlib.sha1(str(self.folder).encode()).hexdigest()[:10]

    # ---- versions ----------------------------------------------------------------
    def _current(self, name: str) -> str | None:
        try:
            return (self.folder / name / CURRENT).read_text().strip() or None
        except FileNotFoundError:
            return None

    def _sync(self, name: str) -> bool:
        """Point the table's view at its current version (another process may have swapped it)."""
        version = self._current(name)
        if version is None:
            return False
        view = self.view(name)
        if _VIEWS.get(view) != version:
            reader = self.spark.read
            if name in S.all_tables():  # a known schema spares Spark a job reading every file's footer
                reader = reader.schema(spark_schema(S.get_table(name)))
            reader.parquet(str(self.folder / name / version)).createOrReplaceTempView(view)
            _VIEWS[view] = version
        return True

    def frame(self, name: str) -> SparkFrame:
        """The current version of table ``name`` as a Spark DataFrame."""
        self.table(name)  # the clear error when it is missing
        return self.spark.table(self.view(name))

    def view(self, name: str) -> str:
        """The name of the Spark view that reads table ``name`` of this warehouse."""
        return f"{name}__{self._tag}"

    def _new_version(self, table: S.Table) -> tuple[Path, str]:
        if self.read_only:
            raise WarehouseError(f"warehouse {self.folder} is open read-only: cannot write {table.name}")
        home = self.folder / table.name
        home.mkdir(parents=True, exist_ok=True)
        # Sorted by name = sorted by time (to the nanosecond): garbage collection keeps the newest.
        now = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
        version = f"v-{stamp}.{now % 10**9:09d}-{uuid.uuid4().hex[:8]}"
        return home, version

    def _swap(self, table: S.Table, home: Path, version: str) -> None:
        """Make ``version`` current: write the pointer aside, fsync, rename over the old one."""
        pointer = home / f"{CURRENT}.{uuid.uuid4().hex[:8]}"
        with open(pointer, "w") as fh:
            fh.write(version)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(pointer, home / CURRENT)
        self._sync(table.name)
        self._collect_garbage(home, version)

    def map_chunks(self, function: Callable[[Any, list], list], shared: Any, items: list) -> list:
        """``function(shared, chunk)`` over chunks of ``items`` on the executors; the results in item order.

        For work per item whose input and output are small beside the tables (one series' months in,
        its backtest and forecasts out): those pass through the driver, the work runs on the
        executors, a few chunks per core. ``function`` and ``shared`` are shipped with cloudpickle.
        """
        if not items:
            return []
        context = self.spark.sparkContext
        slices = min(len(items), 4 * context.defaultParallelism)
        return context.parallelize(items, slices).mapPartitions(lambda chunk: function(shared, list(chunk))).collect()

    @contextmanager
    def cached(self, expr: ir.Table | SparkFrame) -> Iterator[ir.Table]:
        """``expr`` (an expression or a Spark DataFrame) computed once by the executors and kept there while the block runs.

        Yields a table that later expressions read instead of computing ``expr`` again (today's
        features, read by a count, a drift sample and the scoring of every target). The rows stay on
        the executors (memory, spilling to disk); the driver gets none of them.
        """
        frame = (expr if isinstance(expr, SparkFrame) else self.frame_of(expr)).persist()
        name = f"carsight_cached_{uuid.uuid4().hex[:12]}"
        frame.createOrReplaceTempView(name)
        try:
            yield self.con.table(name)
        finally:
            self.spark.catalog.dropTempView(name)
            frame.unpersist()

    def frame_of(self, expr: ir.Table) -> SparkFrame:
        """An Ibis expression over this warehouse as an (unevaluated) Spark DataFrame."""
        self.con._run_pre_execute_hooks(expr)  # registers the expression's in-memory tables
        return self.spark.sql(self.con.compile(expr))

    def _write_version(self, table: S.Table, data: SparkFrame) -> None:
        """Write ``data`` (computed by the executors) as a new version of ``table`` and make it current."""
        home, version = self._new_version(table)
        columns = [
            F.col(c.name).cast(t.dataType).alias(c.name)
            for c, t in zip(table.columns, spark_schema(table), strict=True)
        ]
        data.select(*columns).write.parquet(str(home / version))
        self._swap(table, home, version)

    def _write_arrow(self, table: S.Table, data: pa.Table, *, keep: bool = False) -> None:
        """Write rows the driver already holds as a new version, without a Spark job.

        ``keep`` keeps the current version's rows: its files are hard-linked into the new version
        (they never change), so an append costs the new rows, not the table.
        """
        home, version = self._new_version(table)
        target = home / version
        target.mkdir()
        current = self._current(table.name) if keep else None
        if current:
            for part in (home / current).glob("*.parquet"):
                os.link(part, target / part.name)
        pq.write_table(arrow_rows(table, data), target / f"part-{uuid.uuid4().hex[:12]}.parquet")
        self._swap(table, home, version)

    def _collect_garbage(self, home: Path, current: str) -> None:
        """Delete versions no reader can still be scanning.

        A version is read while it is current and for as long as a query that started then runs: it
        goes once the version that replaced it is :data:`GRACE_S` old (and never the one just before
        the current one). Folders of failed writes (never made current) go the same way.
        """
        versions = sorted(p for p in home.iterdir() if p.is_dir() and p.name.startswith("v-"))
        names = [p.name for p in versions]
        if current not in names:
            return
        now = time.time()
        older = versions[: names.index(current)]
        for old, successor in zip(older[:-KEEP_PREVIOUS] if KEEP_PREVIOUS else older, versions[1:], strict=False):
            if now - successor.stat().st_mtime > GRACE_S:
                shutil.rmtree(old, ignore_errors=True)

    def _as_frame(self, table: S.Table, data: pd.DataFrame | pa.Table | ir.Table | SparkFrame) -> SparkFrame:
        """``data`` as a Spark DataFrame with ``table``'s columns; missing ones get their default."""
        if isinstance(data, ir.Table):  # runs in Spark: nothing comes to the driver
            frame = self.frame_of(data)
        elif isinstance(data, SparkFrame):
            frame = data
        else:
            rows = arrow_rows(table, data)
            frame = self.spark.createDataFrame(rows.to_pandas(date_as_object=True), spark_schema(table))
        have = set(frame.columns)
        required = [c.name for c in table.columns if c.name not in have and not c.nullable and c.default is None]
        if required:
            raise WarehouseError(f"data for {table.name} lacks columns: {', '.join(required)}")
        for c in table.columns:
            if c.name not in have:
                frame = frame.withColumn(c.name, F.lit(c.default))
        return frame

    # ---- reading -----------------------------------------------------------------
    @property
    def is_duckdb(self) -> bool:
        """Always False: writes take the Spark path."""
        return False

    def has_table(self, name: str) -> bool:
        """Whether table ``name`` has a current version."""
        return self._sync(name)

    def table(self, name: str) -> ir.Table:
        """An Ibis table expression over the current version; a clear error if the table is missing."""
        if not self._sync(name):
            hint = "run `carsight init`" if name in S.SOURCE_TABLES else "run `carsight pipeline run`"
            raise WarehouseError(f"table '{name}' is not in the warehouse {self.folder} ({hint})")
        return self.con.table(self.view(name))

    # ---- schema ------------------------------------------------------------------
    def init(self) -> list[str]:
        """Create missing tables and add missing columns (each change a new version). Returns what changed."""
        changes: list[str] = []
        for table in S.all_tables().values():
            if not self.has_table(table.name):
                if table.kind != "result":  # result tables are created on first write
                    self._write_arrow(table, arrow_rows(table, None))
                    changes.append(f"created {table.name}")
                continue
            current = self.spark.table(self.view(table.name))
            missing = [c for c in table.columns if c.name not in current.columns]
            if missing:
                self._write_version(table, self._as_frame(table, current))
                changes += [f"added {table.name}.{c.name}" for c in missing]
        if self.schema_version() != S.SCHEMA_VERSION:
            before = self.schema_version()
            row = pd.DataFrame({"version": [S.SCHEMA_VERSION], "applied_at": [pd.Timestamp.now()]})
            self.append(S.SCHEMA_META, row)
            changes.append(f"schema version {before or 0} -> {S.SCHEMA_VERSION}")
        return changes

    def ensure(self, table: S.Table) -> None:
        """Create one table if missing (an empty version)."""
        if not self.has_table(table.name):
            self._write_arrow(table, arrow_rows(table, None))

    # ---- writing -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Each write below is atomic on its own (a version swap); Parquet folders share no transaction."""
        yield

    @contextmanager
    def stage(self, table: S.Table, *, extra: dict[str, str] | None = None):
        """A folder of Parquet files shaped like ``table`` that a load fills chunk by chunk.

        Seen by :meth:`upsert_from` as a view of the stage's name; removed when the block ends
        (:class:`carsight.warehouse.spark_ingest.SparkStage`).
        """
        from carsight.warehouse.spark_ingest import SparkStage  # it builds on this module

        if self.read_only:
            raise WarehouseError(f"warehouse {self.folder} is open read-only: cannot load {table.name}")
        stage = SparkStage(self, table, f"_stage_{table.name}_{uuid.uuid4().hex[:12]}", dict(extra or {}))
        try:
            yield stage
        finally:
            stage.drop()

    def upsert(
        self,
        table: S.Table | str,
        data: pd.DataFrame | pa.Table | ir.Table | SparkFrame,
        *,
        columns: list[str] | set[str] | None = None,
        dry_run: bool = False,
    ) -> UpsertResult:
        """Insert new rows and update changed ones by the natural key, as :meth:`Warehouse.upsert`.

        ``data`` (unique by key) may also be an Ibis expression or a Spark DataFrame: then it never
        leaves the executors. Only the counts come back to the driver.
        """
        table = S.get_table(table) if isinstance(table, str) else table
        if not table.keys:
            raise WarehouseError(f"table {table.name} has no natural key; use append")
        if columns is None:
            columns = set(data.columns)
        staged = self._as_frame(table, data).select(*table.column_names)
        if not self.has_table(table.name):
            if dry_run:
                return UpsertResult(inserted=staged.count(), updated=0, unchanged=0)
            self.ensure(table)
        current = self.spark.table(self.view(table.name))
        others = [c.name for c in table.columns if c.name not in table.keys and c.name in set(columns)]
        s, t = staged.alias("s"), current.alias("t")
        on = [F.col(f"s.{k}") == F.col(f"t.{k}") for k in table.keys]
        joined = s.join(t, on, "left")
        new = F.col(f"t.{table.keys[0]}").isNull()
        changed = F.lit(False)
        for c in others:
            changed = changed | ~F.col(f"s.{c}").eqNullSafe(F.col(f"t.{c}"))
        counts = joined.agg(
            F.count(F.lit(1)).alias("total"),
            F.sum(F.when(new, 1).otherwise(0)).alias("inserted"),
            F.sum(F.when(~new & changed, 1).otherwise(0)).alias("updated"),
        ).collect()[0]
        total, inserted, updated = (int(counts[k] or 0) for k in ("total", "inserted", "updated"))
        if (inserted or updated) and not dry_run:
            # A stored row's columns the data does not carry keep their stored value.
            merged = joined.select(
                *[
                    F.col(f"s.{c.name}")
                    if c.name in table.keys or c.name in others
                    else F.when(new, F.col(f"s.{c.name}")).otherwise(F.col(f"t.{c.name}"))
                    for c in table.columns
                ]
            ).toDF(*table.column_names)
            kept = current.join(staged.select(*table.keys), list(table.keys), "left_anti")
            # Written from the old version's files into a new folder, so reading and writing never overlap.
            self._write_version(table, kept.unionByName(merged))
        return UpsertResult(inserted=inserted, updated=updated, unchanged=total - inserted - updated)

    def append(self, table: S.Table | str, data) -> int:
        """Append rows (tables without a natural key, such as the quarantine) as a new version.

        Rows the driver holds (pandas, Arrow) are written beside hard links to the stored files;
        an Ibis expression or Spark DataFrame is written by the executors.
        """
        table = S.get_table(table) if isinstance(table, str) else table
        self.ensure(table)
        if isinstance(data, (pd.DataFrame, pa.Table)):
            rows = arrow_rows(table, data)
            if rows.num_rows:
                self._write_arrow(table, rows, keep=True)
            return rows.num_rows
        added = self._as_frame(table, data).select(*table.column_names)
        n = added.count()
        if n:
            self._write_version(table, self.spark.table(self.view(table.name)).unionByName(added))
        return n

    def replace(self, table: S.Table | str, data) -> int:
        """Replace a result table by a new version, swapped in atomically (readers see old or new).

        ``data`` may be an Ibis expression (as written by the domain code) or a Spark DataFrame: it
        is then computed and written by the executors, and only the row count comes back.
        """
        table = S.get_table(table) if isinstance(table, str) else table
        if isinstance(data, (pd.DataFrame, pa.Table)):
            rows = arrow_rows(table, data)
            self._write_arrow(table, rows)
            return rows.num_rows
        self._write_version(table, self._as_frame(table, data))
        return self.spark.table(self.view(table.name)).count()

    def delete_where(self, table: S.Table | str, column: str, value) -> None:
        """Delete rows where ``column = value`` (e.g. one run of a result table)."""
        table = S.get_table(table) if isinstance(table, str) else table
        self.ensure(table)
        current = self.spark.table(self.view(table.name))
        self._write_version(table, current.filter(~F.col(column).eqNullSafe(F.lit(value))))

    def upsert_from(self, table, relation: str, *, columns=None, dry_run: bool = False) -> UpsertResult:
        """:meth:`upsert` from a Spark table or view named ``relation`` (e.g. staged Parquet)."""
        return self.upsert(table, self.spark.table(relation), columns=columns, dry_run=dry_run)

    # ---- overview ----------------------------------------------------------------
    def versions(self, name: str) -> list[str]:
        """The versions of table ``name`` on disk, oldest first (the last is current unless a write failed)."""
        home = self.folder / name
        return sorted(p.name for p in home.iterdir() if p.is_dir()) if home.is_dir() else []

    def status(self) -> pd.DataFrame:
        """Per table: rows, date range, last load (as :meth:`Warehouse.status`)."""
        rows = []
        for table in S.all_tables().values():
            if table.kind == "system" and table.name != S.QUARANTINE.name:
                continue
            if not self.has_table(table.name):
                if table.kind == "source":
                    rows.append({"table": table.name, "kind": table.kind, "rows": None})
                continue
            t = self.con.table(self.view(table.name))
            row = {"table": table.name, "kind": table.kind}
            if table.date_column:
                stats = t.aggregate(n=t.count(), first=t[table.date_column].min(), last=t[table.date_column].max())
                stats = stats.to_pandas().iloc[0]
                row.update(rows=int(stats.n), first=stats["first"], last=stats["last"])
            else:
                row["rows"] = int(t.count().to_pyarrow().as_py())
            stamp = self._current(table.name)
            written = stamp.split("-")[1].split(".")[0] if stamp else None
            row["last_load"] = _dt.datetime.strptime(written, "%Y%m%dT%H%M%S") if written else None
            rows.append(row)
        return pd.DataFrame(rows, columns=["table", "kind", "rows", "first", "last", "last_load"])

    def close(self) -> None:
        """Nothing to release: the views and the Spark session belong to the process (``spark-submit`` stops it)."""


class DriverCollectLimit(WarehouseError):
    """A step brought more rows to the driver than it may (see :func:`driver_collects`)."""


@contextmanager
def driver_collects(max_rows: int) -> Iterator[list[tuple[str, int]]]:
    """Record every result Spark hands to the driver inside the block; refuse one over ``max_rows``.

    A step that must stay on the executors (RFM, features, aggregates, scoring) runs inside it, so
    a silent fall-back to pandas over the whole table fails loudly instead of running the cluster's
    data through one machine. Yields the list of (method, rows) collected so far.

    Raises
    ------
    DriverCollectLimit
        When one collect returns more than ``max_rows`` rows.
    """
    seen: list[tuple[str, int]] = []
    names = ("collect", "toPandas", "toArrow", "toLocalIterator")
    # Spark 4's DataFrame is an interface; the classic (JVM-backed) class implements the methods.
    originals = {(cls, name): cls.__dict__[name] for cls in (SparkFrame, ClassicFrame) for name in names}
    depth = [0]

    def watch(name: str, method):
        def wrapper(self, *args, **kwargs):
            depth[0] += 1
            try:
                result = method(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:  # toPandas calls collect inside: count the outer call once
                result = list(result) if name == "toLocalIterator" else result
                rows = result.num_rows if isinstance(result, pa.Table) else len(result)
                seen.append((name, rows))
                if rows > max_rows:
                    raise DriverCollectLimit(f"{name} brought {rows} rows to the driver (at most {max_rows})")
                return iter(result) if name == "toLocalIterator" else result
            return result

        return wrapper

    for (cls, name), method in originals.items():
        setattr(cls, name, watch(name, method))
    try:
        yield seen
    finally:
        for (cls, name), method in originals.items():
            setattr(cls, name, method)
