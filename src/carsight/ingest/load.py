"""Loading a file into the warehouse: read, validate, upsert, quarantine and log.

The file is read and validated (:func:`read_table`), the good rows are upserted by natural key (so
re-loading changes nothing and a corrected file updates what it corrects), the bad ones are
quarantined with their reasons, and the load is logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carsight.errors import InputError
from carsight.i18n import t
from carsight.ingest.read import resolve_path
from carsight.ingest.sqlclean import stage_csv
from carsight.ingest.table import (
    CHUNK_ROWS,
    ROW,
    WIDE_MODES,
    RecordFile,
    gather_rejected,
    open_records,
    read_table,
)
from carsight.warehouse import schema as S
from carsight.warehouse.connection import UpsertResult, Warehouse
from carsight.warehouse.staging import Stage

# DuckDB's memory while a file of records is staged and written: past it, DuckDB spills to disk, so a
# load of any size stays within about this plus a chunk and the libraries (bench/ingest_throughput.py).
LOAD_MEMORY = "256MB"
# progress(stage, done, total): stage "read" counts bytes, "write" counts rows.
Progress = Callable[[str, int, int], None]


@dataclass
class LoadReport:
    """What one load did.

    ``rows_read`` counts data rows in the file (a wide row once); ``inserted``, ``updated`` and
    ``unchanged`` count facts (a wide row gives one per month or market).
    """

    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    subtotals: int
    seconds: float
    rejected_path: Path | None
    unknown_columns: list[str]
    file: str = ""
    table: str = ""
    load_id: str = ""
    duplicates: int = 0
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    wide: str = "none"
    notes: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes, as hex (read in blocks, never whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def rejected_file_name(path: Path) -> str:
    """The name of the file the rejected rows of ``path`` are written to: ``name.rejected.csv``."""
    return f"{path.stem}.rejected.csv"


def write_rejected(rejected: pd.DataFrame, path: Path, output_dir: Path | None) -> Path | None:
    """Write the rejected rows next to the file (``name.rejected.csv``).

    Into ``output_dir`` when the file's folder is not writable. A stale file from an earlier load is
    removed when nothing is rejected.
    """
    name = rejected_file_name(path)
    beside = path.parent / name
    if rejected.empty:
        for stale in (beside, (output_dir / name) if output_dir else None):
            if stale is not None and stale.is_file():
                with contextlib.suppress(OSError):
                    stale.unlink()
        return None
    frame = rejected[["row_number", "column_name", "value", "reason", "raw"]]
    for target in (beside, (output_dir / name) if output_dir else None):
        if target is None:
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # utf-8-sig so that Excel shows the Korean reasons correctly
            frame.to_csv(target, index=False, encoding="utf-8-sig")
            return target
        except OSError:
            continue
    raise InputError("cannot write the rejected rows", file=str(beside), expected="a writable folder")


def load_file(
    wh: Warehouse,
    table: str,
    path: str | os.PathLike,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    year: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    wide: str | None = None,
    output_dir: str | os.PathLike | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> LoadReport:
    """Load one file into ``table`` (see :func:`read_table` for the options).

    Good rows are upserted by the table's natural key, bad rows go to the ``quarantine`` table and
    ``<name>.rejected.csv``, and one row is written to ``load_log``. A table of records is read in
    chunks of ``chunk_rows`` rows, each staged in the warehouse as it is read, so memory holds one
    chunk whatever the size of the file. All writes of one file happen in one transaction: a load
    that fails or is killed half way leaves nothing of that file, and running it again loads it
    exactly once. With ``dry_run`` nothing is written to the warehouse; the counts say what the load
    would do and the rejected file is still written.

    Parameters
    ----------
    wh
        The warehouse to write.
    table
        A source table (``purchases``, ``customers``, …, ``sales_monthly``).
    path
        A CSV/TSV, Excel or Parquet file.
    chunk_rows
        Rows read, cleaned and staged at a time (tables of records).

    Returns
    -------
    LoadReport
        What the load did (or, for a dry run, would do).
    """
    start = time.perf_counter()
    started_at = pd.Timestamp.now()
    schema_table = S.get_table(table)
    if schema_table.kind != "source":
        raise InputError(f"'{table}' is not a source table", expected="one of " + ", ".join(sorted(S.SOURCE_TABLES)))
    resolved = resolve_path(path)
    on_read = (lambda done, total: progress("read", done, total)) if progress else None
    if output_dir is None:
        from carsight.config import get_settings

        output_dir = get_settings().output_dir
    job = _Job(wh, schema_table, resolved, Path(output_dir), dry_run, progress, start, started_at)
    if schema_table.name == S.SALES_MONTHLY.name:
        # Tables of figures are report sheets, read whole by their layout (:mod:`carsight.ingest.sales`).
        result = read_table(
            resolved, schema_table.name, mapping=mapping, constants=constants, sheet=sheet, encoding=encoding,
            year=year, wide=wide, progress=on_read,
        )  # fmt: skip
        job.hash_file()
        with wh.transaction():
            job.write_rejected(result.rejected)
            job.writing(len(result.frame))
            present = set(result.columns_found) | set(constants or {})  # see _load_records
            outcome = wh.upsert(schema_table, result.frame, columns=present, dry_run=dry_run)
            report = job.finish(
                outcome, rows_read=result.rows_read, rejected=result.rejected_rows, subtotals=result.subtotals,
                unknown_columns=result.unknown_columns, file=result.file, duplicates=result.duplicates,
                warnings=result.warnings, wide=result.wide, notes=result.notes,
            )  # fmt: skip
    else:
        if (wide or "auto").lower() not in WIDE_MODES:
            raise InputError(f"unknown wide layout '{wide}'", expected=" or ".join(WIDE_MODES))
        records = open_records(
            resolved, schema_table, mapping=mapping, constants=constants, sheet=sheet, encoding=encoding, year=year
        )
        job.hash_file()  # while the file is read
        with wh.memory_budget(LOAD_MEMORY):
            report = _load_records(job, records, set(constants or {}), chunk_rows, on_read)
    if wh.publishes and not dry_run and not wh.in_transaction:
        # The completed load is what readers see next (a long load never makes them wait).
        wh.publish(writer="load", detail=f"{schema_table.name} {resolved.name}")
    report.seconds = time.perf_counter() - start
    return report


@dataclass
class _Job:
    """One file being loaded: what every kind of table shares (rejected rows, report, log)."""

    wh: Warehouse
    table: S.Table
    path: Path
    output_dir: Path
    dry_run: bool
    progress: Progress | None
    start: float
    started_at: pd.Timestamp
    load_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sha256: Future | None = None  # the file's hash, worked out while the file is read
    rejected: pd.DataFrame | None = None
    rejected_path: Path | None = None

    def hash_file(self) -> None:
        if not self.dry_run:
            self.sha256 = _in_background(file_sha256, self.path)

    def write_rejected(self, rejected: pd.DataFrame) -> None:
        self.rejected = rejected
        self.rejected_path = write_rejected(rejected, self.path, self.output_dir)

    def writing(self, rows: int, done: bool = False) -> None:
        if self.progress:
            self.progress("write", rows if done else 0, rows)

    def finish(self, outcome: UpsertResult, **counts) -> LoadReport:
        """The load's report; unless a dry run, its quarantine rows and ``load_log`` row are written too.

        Called inside the load's transaction.
        """
        report = LoadReport(
            inserted=outcome.inserted,
            updated=outcome.updated,
            unchanged=outcome.unchanged,
            seconds=time.perf_counter() - self.start,
            rejected_path=self.rejected_path,
            table=self.table.name,
            load_id=self.load_id,
            dry_run=self.dry_run,
            **counts,
        )
        self.writing(outcome.inserted + outcome.updated + outcome.unchanged, done=True)
        if not self.dry_run:
            _record(self.wh, report, self.rejected, self.sha256.result(), self.started_at)
        return report


# Helper column: a keyless row's content hash; its running number is added over the whole file.
DIGEST = "__digest__"
# A content key is its digest, a dash and the row's running number among identical rows.
_RUNNING_NUMBER = r"-\d+$"


def _load_records(job: _Job, records: RecordFile, constants: set[str], chunk_rows: int, on_read) -> LoadReport:
    """Load a file of records through a stage, chunk by chunk.

    Each chunk is staged as it is read; then the last row of each key is kept (or content keys are
    numbered over the whole file), and the upsert and the load's log are written in one transaction.
    The stage is a temporary table, never stored, so it is filled outside that transaction: inside
    one, DuckDB's transaction-local storage would keep every chunk's Arrow buffers alive until the
    end, and memory would grow with the file.
    """
    wh, table, derived = job.wh, job.table, records.key_column
    extra = {ROW: "int64", **({DIGEST: "string"} if derived else {})}
    with wh.stage(table, extra=extra) as stage, _Appender(stage) as appender:
        tally = _Tally(table)

        def restart() -> None:  # the file is read again from its start
            appender.wait()
            stage.clear()
            tally.reset()

        # A plain UTF-8 CSV is read and typed by DuckDB itself (:mod:`carsight.ingest.sqlclean`); any
        # other file, in chunks.
        staged = stage_csv(records, stage)
        if staged is not None:
            tally.rows_read, tally.subtotals, tally.rejected = staged.rows_read, staged.subtotals, staged.rejected
            tally.maybe_repeated = True
            if on_read is not None:
                on_read(records.src.size, records.src.size)
        for part in records.parts(chunk_rows, on_read, restart=restart) if staged is None else ():
            frame = part.frame
            if derived and len(frame):
                keys, tally.key_notes = records.content_keys(frame)
                frame[DIGEST] = keys.str.replace(_RUNNING_NUMBER, "", regex=True)
            tally.add(part, frame)
            appender.add(frame)
        appender.wait()
        rejected = gather_rejected(tally.rejected)
        job.write_rejected(rejected)
        if derived:
            if not tally.key_notes:  # nothing staged; the note still says how keys are made
                tally.key_notes = records.content_keys(records.empty_frame())[1]
            stage.number_keys(derived, DIGEST, ROW)
        elif tally.maybe_repeated:
            tally.duplicates, first = stage.keep_last(ROW)
            tally.examples = [", ".join(f"{k}={v}" for k, v in row.items()) for row in first]
        dealer_note = _dealer_names_as_codes(stage, set(records.columns_found) | constants, records.plan.lang)
        job.writing(stage.rows)
        # Only the columns the file carries are compared and updated: a file without, say, an e-mail
        # column must not erase the e-mails already stored.
        present = set(records.columns_found) | constants
        with wh.transaction():
            outcome = wh.upsert_from(table, stage.name, columns=present, dry_run=job.dry_run)
            return job.finish(
                outcome, rows_read=tally.rows_read, subtotals=tally.subtotals,
                rejected=int(rejected["row_number"].nunique()) if len(rejected) else 0,
                unknown_columns=records.unknown_columns, file=records.src.name, duplicates=tally.duplicates,
                warnings=records.warnings(tally.duplicates, tally.examples),
                notes=records.plan.derivation.notes + tally.key_notes + dealer_note,
            )  # fmt: skip


def _dealer_names_as_codes(stage: Stage, present: set[str], lang: str) -> list[str]:
    """A dealer column of dealer names (지점: 서울 강남지점) stored as the codes the dealers table gives them."""
    column = "dealer_code"
    if column not in present or stage.table.name == S.DEALERS.name:
        return []
    n = stage.codes_for_names(column, S.DEALERS, code="dealer_code", name="name")
    return [t("ingest.assume.dealer_names", lang, n=n)] if n else []


def _in_background(func, *args) -> Future:
    """Run ``func(*args)`` on a thread of its own.

    Hashing a file and DuckDB's writes release the GIL, so they run while Python reads and cleans the
    next chunk (the machine may have only two cores).
    """
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


class _Appender:
    """Appends chunks to a stage in the background, one at a time.

    At most two chunks are in memory: the one being written and the one being read.
    """

    def __init__(self, stage: Stage):
        self.stage = stage
        self.pending: Future | None = None

    def add(self, frame: pd.DataFrame) -> None:
        self.wait()
        self.pending = _in_background(self.stage.append, frame)

    def wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _Appender:
        return self

    def __exit__(self, *exc) -> None:
        if self.pending is not None:  # the connection must be idle before anything else uses it
            futures.wait([self.pending])


class _Tally:
    """What the chunks of one file add up to, and whether a key may repeat.

    A file whose single key only ever rises holds no key twice (many exports are in key order), so
    the whole-file check is skipped for it.
    """

    def __init__(self, table: S.Table):
        self.key = table.keys[0] if len(table.keys) == 1 else None
        self.reset()

    def reset(self) -> None:
        self.last = None
        self.maybe_repeated = self.key is None
        self.rows_read = self.subtotals = self.duplicates = 0
        self.rejected: list[pd.DataFrame] = []
        self.examples: list[str] = []
        self.key_notes: list[str] = []

    def add(self, part, frame: pd.DataFrame) -> None:
        self.rows_read += part.rows_read
        self.subtotals += part.subtotals
        self.rejected += part.rejected
        if self.maybe_repeated or not len(frame):
            return
        keys = pa.array(frame[self.key], from_pandas=True)
        n = len(keys)
        rising = n < 2 or pc.all(pc.greater(keys.slice(1), keys.slice(0, n - 1))).as_py()
        first = keys[0].as_py()
        if not rising or first is None or (self.last is not None and not first > self.last):
            self.maybe_repeated = True
        self.last = keys[n - 1].as_py()


def _record(
    wh: Warehouse, report: LoadReport, rejected: pd.DataFrame | None, sha256: str, started_at: pd.Timestamp
) -> None:
    if rejected is not None and len(rejected):
        rej = rejected
        wh.append(
            S.QUARANTINE,
            pd.DataFrame(
                {
                    "load_id": report.load_id,
                    "table_name": report.table,
                    "source_file": report.file,
                    "row_number": rej["row_number"].astype("int64"),
                    "column_name": rej["column_name"].astype("object"),
                    "value": rej["value"].astype("object"),
                    "reason": rej["reason"].astype("object"),
                    "raw": rej["raw"].astype("object"),
                    "rejected_at": pd.Timestamp.now(),
                }
            ),
        )
    wh.upsert(
        S.LOAD_LOG,
        pd.DataFrame(
            {
                "load_id": [report.load_id],
                "table_name": [report.table],
                "source_file": [report.file],
                "file_sha256": [sha256],
                "rows_read": [report.rows_read],
                "inserted": [report.inserted],
                "updated": [report.updated],
                "unchanged": [report.unchanged],
                "rejected": [report.rejected],
                "subtotals": [report.subtotals],
                "started_at": [started_at],
                "seconds": [report.seconds],
                "notes": [json.dumps(report.notes, ensure_ascii=False) if report.notes else None],
            }
        ),
    )


# Tables a file is tried for when no table is named, in load order (customers before the tables
# that refer to them). sales_monthly is tried only when no table of records fits.
RECORD_TABLES = (
    S.CUSTOMERS,
    S.VEHICLES,
    S.PURCHASES,
    S.LEADS,
    S.SERVICE_VISITS,
    S.CONSULTATIONS,
    S.CAMPAIGNS,
    S.CAMPAIGN_CONTACTS,
)


def _own_columns(table: S.Table) -> set[str]:
    """Columns that make a file a source for ``table``: its columns that no other table of records has.

    They must be found in the file itself (not worked out, not its date: a bare "Date" header means a
    lead's date in leads and a purchase's in purchases). A list of car names with their maker is not a
    model line-up, and a sales report with a date is not a list of leads.
    """
    others = {c for t in RECORD_TABLES if t is not table for c in t.column_names}
    dates = {c.name for c in table.columns if c.dtype in ("date", "timestamp")}
    return set(table.column_names) - others - dates - {"payment_detail"}


def tables_for(
    path: str | os.PathLike,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The tables of records a file can fill, and for the others why not.

    A table fits when every required column is found (or worked out, or given with ``--set``) and the
    file holds at least one column that is the table's own (:func:`_own_columns`). A wide CRM export
    (one row per customer with the purchase on it) fills customers, purchases and vehicles.
    """
    from carsight.ingest import derive
    from carsight.ingest.headers import match_headers
    from carsight.ingest.read import open_source

    src = open_source(path, encoding=encoding, sheet=sheet)
    fits, why_not = [], {}
    for table in RECORD_TABLES:
        names = set(table.column_names)
        table_map = {k: v for k, v in (mapping or {}).items() if v in names}
        table_set = {k: v for k, v in (constants or {}).items() if k in names}
        match = match_headers(src.headers, table, table_map)
        d = derive.plan(match, table, src.headers, table_set, "en")
        found = set(match.columns.values()) | set(table_set)
        have = (found | d.provides) & names
        missing = sorted({c.name for c in table.columns if not c.nullable} - have)
        if missing:
            why_not[table.name] = "no " + ", ".join(missing)
        elif not found & _own_columns(table):
            why_not[table.name] = "none of " + ", ".join(sorted(_own_columns(table)))
        else:
            fits.append(table.name)
    return fits, why_not


def load_every_table(
    wh: Warehouse,
    path: str | os.PathLike,
    *,
    mapping: dict[str, str] | None = None,
    constants: dict | None = None,
    **options,
) -> list[LoadReport]:
    """Load one file into every table it can fill (:func:`tables_for`), each with its own report.

    A file that fills no table of records is read as sales figures. One clear error when nothing fits.
    """
    fits, why_not = tables_for(
        path, mapping=mapping, constants=constants, sheet=options.get("sheet"), encoding=options.get("encoding")
    )
    if not fits:
        try:
            return [load_file(wh, S.SALES_MONTHLY.name, path, mapping=mapping, constants=constants, **options)]
        except InputError as exc:
            reasons = "; ".join(f"{table}: {why}" for table, why in why_not.items())
            raise InputError(
                f"no table fits this file ({reasons}; {S.SALES_MONTHLY.name}: {exc.message})",
                file=exc.file,
                expected="name the table (carsight ingest TABLE FILE) and --map its headers",
            ) from exc
    reports = []
    for table in fits:
        names = set(S.get_table(table).column_names)
        table_map = {k: v for k, v in (mapping or {}).items() if v in names or v == "year"}
        table_set = {k: v for k, v in (constants or {}).items() if k in names}
        reports.append(load_file(wh, table, path, mapping=table_map, constants=table_set, **options))
    return reports
