"""Ingest's bulk path on a Spark warehouse: files → validated chunks → Parquet → upsert by key in Spark.

The file is read and cleaned by the same code as ``carsight ingest`` (:func:`carsight.ingest.table.
open_records`: headers, encodings, numbers, dates, rejected rows with their reasons), one chunk at a
time; each chunk's good rows are written as one Parquet file in a staging folder beside the tables,
so the driver's memory holds one chunk, never the file. Spark then keeps the last row of each key
(a later row corrects an earlier one, as on DuckDB) and upserts the staged rows by the table's
natural key (:meth:`carsight.warehouse.spark.SparkWarehouse.upsert`): only the counts come back.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import Window
from pyspark.sql import functions as F

from carsight.errors import WarehouseError
from carsight.ingest.load import LoadReport, write_rejected
from carsight.ingest.table import CHUNK_ROWS, ROW, gather_rejected, open_records, read_table
from carsight.warehouse import schema as S
from carsight.warehouse.spark import SparkWarehouse, arrow_rows

STAGING = "_staging"


def bulk_load(
    wh: SparkWarehouse,
    table: str,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    year: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    output_dir: Path | None = None,
) -> LoadReport:
    """Load one file into a Spark warehouse table: upsert the good rows by key, set the bad ones aside.

    Parameters
    ----------
    wh
        The Spark warehouse.
    table
        The source table the file holds.
    path
        The file (CSV/TSV, Excel or Parquet), read as ``carsight ingest`` reads it.
    mapping, constants, year
        As for :func:`carsight.ingest.load_file`.
    chunk_rows
        Rows read, cleaned and staged at a time.
    output_dir
        Where the rejected rows go when the file's folder is not writable.

    Returns
    -------
    LoadReport
        Rows read, inserted, updated, unchanged, rejected, and the later rows that replaced earlier
        ones of the same key (``duplicates``).

    Raises
    ------
    WarehouseError
        For a table whose keys are made from the rows' content (they are numbered over the whole
        file; load those through a DuckDB warehouse).
    """
    started = time.monotonic()
    schema_table = S.get_table(table)
    path = Path(path)
    if schema_table.name == S.SALES_MONTHLY.name:
        # Monthly sales are small by nature (months × models × markets) and often wide: read whole.
        result = read_table(path, table, mapping=mapping, constants=constants, year=year)
        outcome = wh.upsert(schema_table, result.frame, columns=set(result.columns_found) | set(constants or {}))
        rejected_path = write_rejected(result.rejected, path, output_dir)
        return LoadReport(
            rows_read=result.rows_read, inserted=outcome.inserted, updated=outcome.updated,
            unchanged=outcome.unchanged, rejected=result.rejected_rows, subtotals=result.subtotals,
            seconds=time.monotonic() - started, rejected_path=rejected_path,
            unknown_columns=result.unknown_columns, file=result.file, table=schema_table.name,
            duplicates=result.duplicates, warnings=result.warnings, notes=result.notes,
        )  # fmt: skip
    records = open_records(path, schema_table, mapping=mapping, constants=constants, year=year)
    if records.key_column is not None:
        raise WarehouseError(
            f"{path.name}: {schema_table.name} rows without their own key get keys numbered over the whole "
            "file; load this file into a DuckDB warehouse"
        )
    staging = wh.folder / STAGING / f"{schema_table.name}-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    try:
        rejected_parts: list = []
        rows_read = subtotals = 0

        def restart() -> None:  # the reader starts the file again (read as text this time)
            nonlocal rows_read, subtotals
            shutil.rmtree(staging)
            staging.mkdir()
            rejected_parts.clear()
            rows_read = subtotals = 0

        for part in records.parts(chunk_rows, None, restart=restart):
            rows_read += part.rows_read
            subtotals += part.subtotals
            rejected_parts.extend(part.rejected)
            if len(part.frame):
                rows = arrow_rows(schema_table, part.frame)
                rows = rows.append_column(ROW, [part.frame[ROW].to_numpy()])
                pq.write_table(rows, staging / f"part-{uuid.uuid4().hex[:12]}.parquet")
        rejected = gather_rejected(rejected_parts)
        present = set(records.columns_found) | set(constants or {})
        if any(staging.iterdir()):
            staged = wh.spark.read.parquet(str(staging))
            later = Window.partitionBy(*schema_table.keys).orderBy(F.col(ROW).desc())
            last = staged.withColumn("_later", F.row_number().over(later))
            duplicates = last.filter(F.col("_later") > 1).count()
            outcome = wh.upsert(schema_table, last.filter(F.col("_later") == 1).drop("_later", ROW), columns=present)
            # The upsert wrote a new version from the staged files: they may go now.
        else:
            duplicates = 0
            outcome = wh.upsert(schema_table, arrow_rows(schema_table, None), columns=present)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    rejected_path = write_rejected(rejected, path, output_dir)
    return LoadReport(
        rows_read=rows_read, inserted=outcome.inserted, updated=outcome.updated, unchanged=outcome.unchanged,
        rejected=int(rejected["row_number"].nunique()) if len(rejected) else 0, subtotals=subtotals,
        seconds=time.monotonic() - started, rejected_path=rejected_path, unknown_columns=records.unknown_columns,
        file=records.src.name, table=schema_table.name, duplicates=int(duplicates),
        warnings=records.warnings(int(duplicates), []), notes=records.plan.derivation.notes,
    )  # fmt: skip
