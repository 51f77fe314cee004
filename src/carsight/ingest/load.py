"""Loading a file into the warehouse: read and validate it (:func:`read_table`), upsert the good rows
by natural key (so re-loading changes nothing and a corrected file updates what it corrects),
quarantine the bad ones with their reasons, and log the load."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from carsight.errors import InputError
from carsight.ingest.read import resolve_path
from carsight.ingest.table import ReadResult, read_table
from carsight.warehouse import schema as S
from carsight.warehouse.connection import Warehouse

# progress(stage, done, total): stage "read" counts bytes, "write" counts rows.
Progress = Callable[[str, int, int], None]


@dataclass
class LoadReport:
    """What one load did. ``rows_read`` counts data rows in the file (a wide row once); ``inserted``,
    ``updated`` and ``unchanged`` count facts (a wide row gives one per month or market)."""

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
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def rejected_file_name(path: Path) -> str:
    return f"{path.stem}.rejected.csv"


def write_rejected(result: ReadResult, path: Path, output_dir: Path | None) -> Path | None:
    """Write the rejected rows next to the file (``name.rejected.csv``), or into ``output_dir`` when
    that folder is not writable. A stale file from an earlier load is removed when nothing is rejected."""
    name = rejected_file_name(path)
    beside = path.parent / name
    if result.rejected.empty:
        for stale in (beside, (output_dir / name) if output_dir else None):
            if stale is not None and stale.is_file():
                with contextlib.suppress(OSError):
                    stale.unlink()
        return None
    frame = result.rejected[["row_number", "column_name", "value", "reason", "raw"]]
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
) -> LoadReport:
    """Load one file into ``table`` (see :func:`read_table` for the options). Good rows are upserted
    by the table's natural key, bad rows go to the ``quarantine`` table and ``<name>.rejected.csv``,
    and one row is written to ``load_log``. With ``dry_run`` nothing is written to the warehouse;
    the counts say what the load would do and the rejected file is still written."""
    start = time.perf_counter()
    started_at = pd.Timestamp.now()
    schema_table = S.get_table(table)
    if schema_table.kind != "source":
        raise InputError(f"'{table}' is not a source table", expected="one of " + ", ".join(sorted(S.SOURCE_TABLES)))
    resolved = resolve_path(path)
    on_read = (lambda done, total: progress("read", done, total)) if progress else None
    result = read_table(
        resolved,
        schema_table.name,
        mapping=mapping,
        constants=constants,
        sheet=sheet,
        encoding=encoding,
        year=year,
        wide=wide,
        progress=on_read,
    )
    if output_dir is None:
        from carsight.config import get_settings

        output_dir = get_settings().output_dir
    rejected_path = write_rejected(result, resolved, Path(output_dir))
    load_id = uuid.uuid4().hex
    frame = result.frame
    if progress:
        progress("write", 0, len(frame))
    # Only the columns the file carries are compared and updated: a file without, say, an e-mail
    # column must not erase the e-mails already stored.
    present = set(result.columns_found) | set(constants or {})
    outcome = wh.upsert(schema_table, frame, columns=present, dry_run=dry_run)
    inserted, updated, unchanged = outcome.inserted, outcome.updated, outcome.unchanged
    if progress:
        progress("write", len(frame), len(frame))
    seconds = time.perf_counter() - start
    report = LoadReport(
        rows_read=result.rows_read,
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        rejected=result.rejected_rows,
        subtotals=result.subtotals,
        seconds=seconds,
        rejected_path=rejected_path,
        unknown_columns=result.unknown_columns,
        file=result.file,
        table=schema_table.name,
        load_id=load_id,
        duplicates=result.duplicates,
        dry_run=dry_run,
        warnings=result.warnings,
        wide=result.wide,
        notes=result.notes,
    )
    if not dry_run:
        _record(wh, report, result, resolved, started_at)
        report.seconds = time.perf_counter() - start
    return report


def _record(wh: Warehouse, report: LoadReport, result: ReadResult, path: Path, started_at: pd.Timestamp) -> None:
    if len(result.rejected):
        rej = result.rejected
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
                "file_sha256": [file_sha256(path)],
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
    """Columns that make a file a source for ``table``: its columns that no other table of records has,
    found in the file itself (not worked out, not its date: a bare "Date" header means a lead's date in
    leads and a purchase's in purchases). A list of car names with their maker is not a model line-up,
    and a sales report with a date is not a list of leads."""
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
    """The tables of records a file can fill, and for the others why not. A table fits when every
    required column is found (or worked out, or given with ``--set``) and the file holds at least one
    column that is the table's own (:func:`_own_columns`). A wide CRM export (one row per customer
    with the purchase on it) fills customers, purchases and vehicles."""
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
    """Load one file into every table it can fill (:func:`tables_for`), each with its own report;
    a file that fills no table of records is read as sales figures. One clear error when nothing fits."""
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
