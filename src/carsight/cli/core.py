"""Warehouse commands: init, status, pipeline."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from carsight.cli.common import console, err_console, settings, warehouse
from carsight.i18n import t


def register(app: typer.Typer) -> None:
    app.command("init", help="Create or migrate the warehouse schema.")(init)
    app.command("status", help="Row counts, date ranges and last load of every table.")(status)
    pipeline = typer.Typer(help="Run the analytics pipeline over the warehouse.", no_args_is_help=True)
    pipeline.command("run", help="Run every pipeline step (or the ones named) and store the results.")(pipeline_run)
    pipeline.command("list", help="List the pipeline steps.")(pipeline_list)
    app.add_typer(pipeline, name="pipeline")


def init() -> None:
    with warehouse(init=False) as wh:
        changes = wh.init()
        console.print(f"warehouse {wh.url}: schema version {wh.schema_version()}")
        for change in changes:
            console.print(f"  {change}")
        if not changes:
            console.print("  up to date")


def status() -> None:
    lang = settings().lang
    with warehouse() as wh:
        frame = wh.status()
    table = RichTable(title=f"carsight · {settings().warehouse}")
    for key in ("table", "rows", "first", "last", "last_load"):
        table.add_column(t(f"status.{key}", lang), justify="right" if key == "rows" else "left")
    for row in frame.itertuples():
        table.add_row(
            row.table,
            "—" if row.rows is None or row.rows != row.rows else f"{int(row.rows):,}",
            _fmt(row.first),
            _fmt(row.last),
            _fmt(row.last_load),
        )
    console.print(table)


def _fmt(value) -> str:
    if value is None or value != value:
        return ""
    text = str(value)[:19]
    # Dates loaded as timestamps read better without a midnight time.
    return text[:10] if text.endswith("00:00:00") else text[:16]


def pipeline_run(
    step: Annotated[list[str] | None, typer.Option("--step", "-s", help="Run only this step (repeatable)")] = None,
) -> None:
    from carsight.pipeline import run_pipeline, select_steps
    from carsight.warehouse.schema import FAILED

    names = [s.name for s in select_steps(step or None)]  # a misspelt step fails before anything runs
    lang = settings().lang
    with warehouse() as wh, console.status("pipeline") as spinner:
        results = run_pipeline(
            wh, settings(), steps=names, on_step=lambda s: spinner.update(f"{s.name}: {s.description}…")
        )
    failed = [r for r in results if r.status == FAILED]  # steps not built for a Spark warehouse
    for result in results:
        if result in failed:
            err_console.print(f"[bold red]error:[/] {result.summary['error']}", highlight=False, soft_wrap=True)
            continue
        console.print(t("pipeline.done", lang, step=result.name, seconds=result.seconds))
        for key, value in result.summary.items():
            console.print(f"    {key}: {value}")
    if failed:
        raise typer.Exit(2)


def pipeline_list() -> None:
    from carsight.pipeline import STEPS

    for s in STEPS:
        console.print(f"{s.name:12s} {s.description}")
