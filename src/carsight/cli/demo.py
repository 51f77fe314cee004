"""``carsight demo``: write the synthetic demo business as files and load them through ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, progress, settings, warehouse


def register(app: typer.Typer) -> None:
    app.command(
        "demo",
        help=(
            "Generate a deterministic synthetic Korean car business (customers, purchases, leads, service, "
            "consultations, campaigns, monthly sales) as files, and load them like real files."
        ),
    )(demo)


def demo(
    customers: Annotated[int, typer.Option("--customers", "-n", min=1, help="Number of customers")] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files)")] = 42,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the files (default: <data_dir>/demo)")] = None,
    load: Annotated[bool, typer.Option("--load/--no-load", help="Load the files into the warehouse")] = True,
) -> None:
    from rich.table import Table as RichTable

    from carsight.demo import generate, load_demo
    from carsight.i18n import t

    lang = settings().lang
    out_dir = out or Path(settings().data_dir) / "demo"
    import time

    with progress() as bar:
        tasks: dict[str, int] = {}
        labels = {"generate": t("demo.generating", lang), "load": t("demo.loading", lang)}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        start = time.perf_counter()
        generate(out_dir, customers=customers, seed=seed, progress=report)
        generated = time.perf_counter()
        summary: dict = {}
        url = None
        if load:
            with warehouse() as wh:
                summary = load_demo(wh, out_dir, progress=report)
                url = wh.url
        done = time.perf_counter()

    console.print(t("demo.files_written", lang, path=out_dir))
    if not load:
        return
    table = RichTable(title=t("demo.title", lang, customers=customers, seed=seed))
    for key in ("table", "files", "rows", "rejected", "subtotals", "seconds"):
        table.add_column(t(f"demo.{key}", lang), justify="left" if key == "table" else "right")
    rejected = 0
    for name, row in summary.items():
        rejected += row["rejected"]
        table.add_row(
            name,
            str(row["files"]),
            f"{row['inserted'] + row['updated'] + row['unchanged']:,}",
            f"{row['rejected']:,}",
            f"{row['subtotals']:,}",
            f"{row['seconds']:.1f}",
        )
    console.print(table)
    console.print(t("demo.timing", lang, generate=generated - start, load=done - generated, total=done - start))
    if rejected:
        console.print(t("demo.planted_rejects", lang, n=rejected))
    console.print(t("demo.warehouse", lang, url=url))
