"""``carsight ingest TABLE FILE``: load a CSV/TSV, Excel or Parquet file into a source table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, err_console, parse_pairs, progress, settings, warehouse
from carsight.i18n import t
from carsight.warehouse.schema import SOURCE_TABLES

# Files above this size get a progress bar (smaller ones finish before it would be drawn).
_PROGRESS_BYTES = 20 << 20


def register(app: typer.Typer) -> None:
    app.command(
        "ingest",
        help=(
            f"Load a file into a source table ({', '.join(SOURCE_TABLES)}): carsight ingest [TABLE] FILE. "
            "Without TABLE the file goes into every table it can fill. Korean/English headers are "
            "recognised; re-loading the same file changes nothing."
        ),
    )(ingest)


def ingest(
    table: Annotated[str, typer.Argument(help="Target table, e.g. purchases or sales_monthly (optional)")],
    file: Annotated[Path | None, typer.Argument(help="CSV/TSV, .xlsx or .parquet file")] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", "-m", help="FILE_HEADER=column: use this header for that column (repeatable)"),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="column=VALUE: fill a column the file lacks, e.g. --set brand=Hyundai"),
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet name or 0-based number")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding (default: detected)")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Year of month columns that carry none")] = None,
    wide: Annotated[
        str,
        typer.Option("--wide", help="Wide layout: auto (default), months, markets or none"),
    ] = "auto",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report, write nothing to the warehouse")
    ] = False,
) -> None:
    from carsight.errors import CarsightError

    try:
        _ingest(table, file, map_, set_, sheet, encoding, year, wide, dry_run)
    except CarsightError as exc:
        # One line and exit code 2, as cli.main does for every command (handled here as well so
        # the promise holds whatever the entry point).
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _ingest(table, file, map_, set_, sheet, encoding, year, wide, dry_run) -> None:
    from carsight.ingest import load_every_table, load_file
    from carsight.ingest.read import resolve_path

    lang = settings().lang
    mapping = parse_pairs(map_, "--map")
    constants = parse_pairs(set_, "--set")
    every = file is None  # `carsight ingest FILE`: the one argument is the file
    path = resolve_path(table if every else file)
    big = path.stat().st_size >= _PROGRESS_BYTES
    options = dict(sheet=sheet, encoding=encoding, year=year, dry_run=dry_run, wide=wide)
    with warehouse() as wh, progress() if big else _nothing() as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{path.name}: {stage}", total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        if big:
            options["progress"] = on_progress
        if every:
            reports = load_every_table(wh, path, mapping=mapping, constants=constants, **options)
        else:
            reports = [load_file(wh, table, path, mapping=mapping, constants=constants, **options)]
    for report in reports:
        _print_report(report, lang, every)
    if dry_run:
        console.print(t("ingest.dry_run", lang), highlight=False)


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def _print_report(report, lang: str, every: bool) -> None:
    if every:
        console.print(f"[bold]→ {report.table}[/]", highlight=False)
    console.print(
        t(
            "ingest.summary",
            lang,
            file=report.file,
            read=f"{report.rows_read:,}",
            inserted=f"{report.inserted:,}",
            updated=f"{report.updated:,}",
            unchanged=f"{report.unchanged:,}",
            rejected=f"{report.rejected:,}",
            subtotals=f"{report.subtotals:,}",
            seconds=report.seconds,
        ),
        highlight=False,
        soft_wrap=True,
    )
    if report.wide != "none":
        console.print(t("ingest.wide", lang, layout=report.wide), highlight=False)
    if report.unknown_columns:
        err_console.print(
            t("ingest.unknown_columns", lang, columns=", ".join(report.unknown_columns)),
            highlight=False,
            soft_wrap=True,
        )
    for warning in report.warnings:
        err_console.print(f"{t('ingest.warnings', lang)}: {warning}", highlight=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"{t('ingest.assumed', lang)}: {note}", highlight=False, soft_wrap=True)
    if report.rejected_path is not None:
        err_console.print(t("ingest.rejected_file", lang, path=report.rejected_path), highlight=False, soft_wrap=True)
