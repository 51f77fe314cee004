"""``carsight monitor run|alerts``: run the monitoring checks now, and list the alerts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from carsight.cli.common import console, err_console, settings, warehouse
from carsight.errors import InputError
from carsight.i18n import t


def register(app: typer.Typer) -> None:
    monitor = typer.Typer(help="Checks of data, models and key figures, with alerts.", no_args_is_help=True)
    monitor.command("run", help="Run every check now; open, keep or close alerts and e-mail new ones.")(run)
    monitor.command("alerts", help="List the open alerts (--all: closed ones too).")(alerts)
    app.add_typer(monitor, name="monitor")


def _day(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of '{value}' is not a date", column="--as-of", expected="YYYY-MM-DD") from None


def run(
    as_of: Annotated[str | None, typer.Option("--as-of", help="The day the checks look from (default: today)")] = None,
    mail: Annotated[
        bool,
        typer.Option(
            "--mail/--no-mail", help="E-mail new alerts to the recipients set in carsight.toml (monitor section)"
        ),
    ] = True,
) -> None:
    from carsight.monitor import run_monitor

    cfg = settings()
    with warehouse() as wh:
        result = run_monitor(wh, cfg, as_of=_day(as_of), mail=mail)
        lang = cfg.lang
        console.print(t("monitor.cli.summary", lang, **result.summary()))
        if result.mail_error:
            err_console.print(t("monitor.cli.mail_error", lang, error=result.mail_error), highlight=False)
        _show(wh, lang, status="open")


def alerts(
    show_all: Annotated[bool, typer.Option("--all", help="Closed alerts too")] = False,
) -> None:
    with warehouse(read_only=True) as wh:
        _show(wh, settings().lang, status=None if show_all else "open")


def _show(wh, lang: str, status: str | None) -> None:
    from rich.table import Table as RichTable

    from carsight.monitor import read_alerts

    frame = read_alerts(wh, status=status)
    if frame.empty:
        console.print(t("monitor.cli.none", lang))
        return
    table = RichTable(title=t("monitor.cli.title", lang))
    for key in ("severity", "check", "message", "opened", "status"):
        table.add_column(t(f"monitor.cli.{key}", lang))
    for row in frame.itertuples(index=False):
        table.add_row(
            t(f"monitor.severity.{row.severity}", lang),
            row.check_name,
            getattr(row, f"message_{lang}"),
            f"{row.opened_at:%Y-%m-%d %H:%M}",
            row.status,
        )
    console.print(table)
