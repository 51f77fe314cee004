"""Ingest's bulk path on a Spark warehouse: the stage a file's chunks are written to, as Parquet.

``carsight ingest`` (:func:`carsight.ingest.load_file`) reads and cleans a file with the same code on
every warehouse (headers, encodings, numbers, dates, rejected rows with their reasons), one chunk at a
time, into a *stage* (:meth:`carsight.warehouse.Warehouse.stage`). On DuckDB that is a temporary
table; on Spark it is :class:`SparkStage`: each chunk's good rows become one Parquet file in a staging
folder beside the tables, so the driver's memory holds one chunk, never the file. The whole-file steps
run in Spark over the staged files: keeping the last row of each key (a later row corrects an earlier
one), numbering identical rows of a table keyed by content, storing dealer names as dealer codes. The
load then upserts the staged rows by the table's natural key
(:meth:`carsight.warehouse.spark.SparkWarehouse.upsert_from`) and writes its ``quarantine`` rows and
its ``load_log`` row as on DuckDB: only counts, a few example keys and the rejected rows (which the
driver read itself) cross between the driver and Spark.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends.pyspark.datatypes import PySparkType
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import Window
from pyspark.sql import functions as F

from carsight.warehouse import schema as S
from carsight.warehouse.spark import arrow_rows, spark_schema

if TYPE_CHECKING:
    from carsight.warehouse.spark import SparkWarehouse

STAGING = "_staging"


class SparkStage:
    """Staged rows of one load: Parquet files in ``<warehouse>/_staging/<name>/``, seen as a Spark view.

    The same interface as :class:`carsight.warehouse.staging.Stage` (``append``, ``clear``,
    ``keep_last``, ``number_keys``, ``codes_for_names``, ``rows``, ``name``), so
    :func:`carsight.ingest.load_file` loads into either warehouse with one piece of code. Each
    whole-file step writes its result as a new generation of files (Spark reads one generation while
    writing the next); :meth:`drop` removes the folder when the load ends.
    """

    def __init__(self, wh: SparkWarehouse, table: S.Table, name: str, extra: dict[str, str]):
        self.wh, self.table, self.name, self.extra = wh, table, name, extra
        self.rows = 0
        self.folder = wh.folder / STAGING / name
        self.folder.mkdir(parents=True)
        self._generation = 0
        helpers = [pa.field(n, ibis.dtype(d).to_pyarrow()) for n, d in extra.items()]
        self._schema = pa.schema([*arrow_rows(table, None).schema, *helpers])
        # Read with a known schema: Spark lists the files without a job reading their footers.
        self._spark_schema = spark_schema(table)
        for n, d in extra.items():
            self._spark_schema = self._spark_schema.add(n, PySparkType.from_ibis(ibis.dtype(d)))
        self._show(self.folder / "chunks")

    def _show(self, folder: Path) -> None:
        """Point the stage's view at ``folder`` (created empty when there is nothing in it yet)."""
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.glob("*.parquet")):
            pq.write_table(self._schema.empty_table(), folder / "part-empty.parquet")
        self.current = folder
        self.frame().createOrReplaceTempView(self.name)

    def frame(self) -> SparkFrame:
        """The staged rows as a Spark DataFrame."""
        return self.wh.spark.read.schema(self._spark_schema).parquet(str(self.current))

    def append(self, data: pd.DataFrame | pa.Table) -> int:
        """Write a chunk (some of the table's columns and the helper columns) as one Parquet file.

        Columns the data lacks get their default. Returns the number of rows appended.
        """
        rows = arrow_rows(self.table, data)
        arrow = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        for name, kind in zip(self.extra, self._schema.types[len(self.table.columns) :], strict=True):
            values = arrow[name].cast(kind) if name in arrow.column_names else pa.nulls(arrow.num_rows, kind)
            rows = rows.append_column(pa.field(name, kind), values)
        if rows.num_rows:
            pq.write_table(rows, self.current / f"part-{uuid.uuid4().hex[:12]}.parquet")
            self._show(self.current)  # the view lists the folder's files when it is made
        self.rows += rows.num_rows
        return rows.num_rows

    def clear(self) -> None:
        """Forget every row staged so far (a file read again from its start)."""
        shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        self.rows = 0
        self._show(self.folder / "chunks")

    def _rewrite(self, frame: SparkFrame) -> None:
        """Write ``frame`` (computed from the current generation) as the next one and show it."""
        self._generation += 1
        target = self.folder / f"generation-{self._generation}"
        frame.write.parquet(str(target))
        self._show(target)

    def keep_last(self, order: str, examples: int = 5) -> tuple[int, list[dict]]:
        """Keep, for each natural key, only the row with the highest ``order`` (the last in the file).

        Returns how many rows were dropped and the keys of the first few, in key order.
        """
        keys = list(self.table.keys)
        later = Window.partitionBy(*keys).orderBy(F.col(order).desc())
        ranked = self.frame().withColumn("_later", F.row_number().over(later))
        dropped = ranked.filter(F.col("_later") > 1).count()
        if not dropped:
            return 0, []
        shown = ranked.filter(F.col("_later") > 1).orderBy(*keys, order).select(*keys).limit(examples).collect()
        self._rewrite(ranked.filter(F.col("_later") == 1).drop("_later"))
        self.rows -= dropped
        return dropped, [row.asDict() for row in shown]

    def number_keys(self, key: str, digest: str, order: str) -> None:
        """Fill ``key`` with ``digest-N``, N numbering the rows of one digest by ``order`` over the file."""
        occurrence = F.row_number().over(Window.partitionBy(digest).orderBy(order))
        numbered = F.concat(F.col(digest), F.lit("-"), occurrence.cast("string"))
        self._rewrite(self.frame().withColumn(key, numbered))

    def codes_for_names(self, column: str, lookup: S.Table, code: str, name: str) -> int:
        """Replace values of ``column`` that are a ``name`` in ``lookup`` (and no ``code``) by that code.

        As :meth:`carsight.warehouse.staging.Stage.codes_for_names`: a value that already is a code, a
        name two rows of ``lookup`` share, or a name nobody has, is kept. Returns the number replaced.
        """
        if not self.wh.has_table(lookup.name):
            return 0
        source = self.wh.frame(lookup.name)
        codes = source.select(F.col(code).alias("_n"))
        names = (
            source.filter(F.col(name).isNotNull())
            .join(codes, F.col(name) == F.col("_n"), "left_anti")
            .groupBy(F.col(name).alias("_n"))
            .agg(F.min(code).alias("_c"), F.count(F.lit(1)).alias("_k"))
            .filter(F.col("_k") == 1)
            .drop("_k")
        )
        staged = self.frame()
        joined = staged.join(names, staged[column] == names["_n"], "left")
        found = joined.filter(F.col("_c").isNotNull()).count()
        if found:
            columns = [F.coalesce(F.col("_c"), F.col(c)).alias(c) if c == column else F.col(c) for c in staged.columns]
            self._rewrite(joined.select(*columns))
        return found

    def drop(self) -> None:
        """Remove the staged files and the view."""
        self.wh.spark.catalog.dropTempView(self.name)
        shutil.rmtree(self.folder, ignore_errors=True)
