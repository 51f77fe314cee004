"""Delivery commands: monthly reports, e-mail campaigns (send, opt-out, delivery log) and schedules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, err_console, progress, settings, warehouse
from carsight.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("report", help="Build a monthly report (customers, market or voc) as HTML or PDF.")(report)

    campaign = typer.Typer(help="E-mail campaigns: send, opt-outs, delivery log.", no_args_is_help=True)
    campaign.command("send", help="Send a campaign e-mail to a target list (idempotent; --dry-run writes .eml files).")(
        campaign_send
    )
    campaign.command("log", help="Show the delivery log.")(campaign_log)
    optout = typer.Typer(help="The opt-out list: customers who never get marketing e-mail.", no_args_is_help=True)
    optout.command("add", help="Add customers to the opt-out list.")(optout_add)
    optout.command("list", help="List opted-out customers.")(optout_list)
    campaign.add_typer(optout, name="optout")
    app.add_typer(campaign, name="campaign")

    schedule = typer.Typer(help="Cron-style schedules from the configuration.", no_args_is_help=True)
    schedule.command("run", help="Run due jobs (once, or keep running and wake at each slot).")(schedule_run)
    schedule.command("list", help="Show the schedules, their next runs and last results.")(schedule_list)
    app.add_typer(schedule, name="schedule")


# ---- reports --------------------------------------------------------------------------------
def report(
    kind: Annotated[str, typer.Argument(help="customers | market | voc")],
    period: Annotated[str, typer.Option("--period", "-p", help="Month, YYYY-MM")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="html or pdf")] = "html",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: output_dir/reports/…)")
    ] = None,
) -> None:
    from carsight.i18n import t
    from carsight.reports import build_report

    s = settings()
    with warehouse() as wh, err_console.status(t("delivery.cli.building", s.lang, kind=kind, period=period)):
        result = build_report(wh, s, kind, period, fmt=fmt, lang=s.lang, output=output)
    for line in result.summary:
        console.print(f"• {line}", highlight=False)
    for note in result.notes:
        err_console.print(f"[yellow]※[/] {note}", highlight=False)
    console.print(t("delivery.report.written", s.lang, path=result.path, sections=result.sections), highlight=False)


# ---- campaigns ------------------------------------------------------------------------------
def campaign_send(
    campaign_id: Annotated[
        str, typer.Option("--campaign-id", "-c", help="Campaign id (one delivery log per campaign)")
    ],
    target: Annotated[Path, typer.Option("--target", "-t", help="CSV/XLSX with a customer_id column")],
    template: Annotated[
        str, typer.Option("--template", help="Shipped template name (offer, service_reminder) or a directory")
    ],
    lang: Annotated[str, typer.Option("--lang", help="Message language: ko or en")] = "ko",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write .eml files instead of sending")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for --dry-run messages")] = None,
) -> None:
    from carsight.i18n import t
    from carsight.notify import read_targets, send_campaign

    s = settings()
    ids = read_targets(target)
    with warehouse() as wh, progress() as bar:
        task = bar.add_task(t("delivery.cli.sending", s.lang, campaign=campaign_id), total=None)
        result = send_campaign(
            wh, s, campaign_id, ids, template, lang, dry_run, out_dir=out,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )  # fmt: skip
    ui = s.lang
    if dry_run:
        folder = result.written[0].parent if result.written else (out or "-")
        console.print(t("delivery.cli.dry_run", ui, n=len(result.written), folder=folder), highlight=False)
    else:
        console.print(
            t(
                "delivery.cli.sent",
                ui,
                sent=result.sent,
                already=result.already_sent,
                failed=result.failed,
                pending=result.pending,
            ),
            highlight=False,
        )
    for reason, n in sorted(result.skipped.items()):
        console.print(t("delivery.cli.skipped", ui, reason=t(f"delivery.skip.{reason}", ui), n=n), highlight=False)
    for customer_id, reason in result.failures[:20]:
        err_console.print(f"[red]✗[/] {customer_id}: {reason}", highlight=False)
    if result.gave_up:
        err_console.print(t("delivery.cli.gave_up", ui, n=result.gave_up), highlight=False)
    if not result.ok:
        err_console.print(f"[bold red]{t('delivery.cli.not_ok', ui)}[/]", highlight=False)
        raise typer.Exit(1)


def campaign_log(
    campaign_id: Annotated[str | None, typer.Option("--campaign-id", "-c", help="Only this campaign")] = None,
    status: Annotated[str | None, typer.Option("--status", help="queued, sent, failed or skipped")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show")] = 50,
) -> None:
    from rich.table import Table

    from carsight.notify import delivery_log

    with warehouse() as wh:
        log = delivery_log(wh, campaign_id)
    if status:
        log = log[log.status == status]
    counts = log.status.value_counts().to_dict()
    console.print(" · ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) or "—")
    table = Table()
    for column in ("campaign_id", "customer_id", "status", "attempts", "reason", "sent_at", "updated_at"):
        table.add_column(column)
    for row in log.head(limit).itertuples():
        table.add_row(
            row.campaign_id,
            row.customer_id,
            row.status,
            str(row.attempts),
            row.reason or "",
            _ts(row.sent_at),
            _ts(row.updated_at),
        )
    console.print(table)


def optout_add(
    customer_ids: Annotated[list[str] | None, typer.Argument(help="Customer ids")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="CSV/XLSX with a customer_id column")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the entry)")] = None,
) -> None:
    from carsight.i18n import t
    from carsight.notify import add_opt_outs, read_targets

    ids = list(customer_ids or []) + (read_targets(file) if file else [])
    if not ids:
        raise InputError("give customer ids or --file", column="customer_id")
    with warehouse() as wh:
        added = add_opt_outs(wh, ids, reason=reason, source="cli")
    console.print(t("delivery.cli.optout_added", settings().lang, added=added, given=len(set(ids))), highlight=False)


def optout_list() -> None:
    from rich.table import Table

    from carsight.notify import list_opt_outs

    with warehouse() as wh:
        frame = list_opt_outs(wh)
    table = Table(title=f"opt-outs: {len(frame):,}")
    for column in ("customer_id", "reason", "source", "opted_out_at"):
        table.add_column(column)
    for row in frame.itertuples():
        table.add_row(row.customer_id, row.reason or "", row.source or "", _ts(row.opted_out_at))
    console.print(table)


# ---- schedules ------------------------------------------------------------------------------
def schedule_run(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now and exit")] = False,
    now: Annotated[
        str | None, typer.Option("--now", help="Pretend it is this time (ISO, e.g. 2025-03-01T06:00); implies --once")
    ] = None,
) -> None:
    from carsight import scheduler
    from carsight.warehouse import connect

    s = settings()
    if not s.schedules:
        raise InputError("no schedules configured", expected="[[schedules]] entries in carsight.toml")
    scheduler.validate(s.schedules)

    def show(result) -> None:
        colour = "green" if result.status == scheduler.DONE else "red"
        console.print(
            f"[{colour}]{result.status}[/] {result.schedule} @ {result.slot:%Y-%m-%d %H:%M}: {result.message}",
            highlight=False,
        )

    if once or now:
        moment = _parse_now(now)
        with warehouse() as wh:
            results = scheduler.run_due(
                wh, s, moment, on_job=lambda sch, slot: err_console.print(f"→ {sch.name} ({slot:%Y-%m-%d %H:%M})")
            )
        for result in results:
            show(result)
        if not results:
            console.print("nothing due")
        if any(r.status == scheduler.FAILED for r in results):
            raise typer.Exit(1)
        return
    err_console.print("scheduler running; Ctrl-C to stop")
    scheduler.run_forever(lambda: connect(s.warehouse, init=True), s, on_result=show)


def schedule_list() -> None:
    from rich.table import Table

    from carsight import scheduler

    s = settings()
    scheduler.validate(s.schedules)
    now = dt.datetime.now()
    with warehouse() as wh:
        history = scheduler.history(wh)
    table = Table(title="schedules")
    for column in ("name", "cron", "action", "args", "next runs", "last run"):
        # Names and cron expressions are copied into commands and configs: never wrap them.
        table.add_column(column, no_wrap=column in ("name", "cron"))
    for sch in s.schedules:
        runs = ", ".join(f"{r:%Y-%m-%d %H:%M}" for r in scheduler.next_runs(sch, now, 3))
        last = history[history.schedule == sch.name].head(1)
        last_text = f"{last.status.iloc[0]} {_ts(last.slot.iloc[0])}" if len(last) else "—"
        args = ", ".join(f"{k}={v}" for k, v in sch.args.items())
        table.add_row(sch.name, sch.cron, sch.action, args, runs, last_text)
    console.print(table)


def _parse_now(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now()
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--now '{text}' is not an ISO date-time", column="--now", expected="e.g. 2025-03-01T06:00"
        ) from None


def _ts(value) -> str:
    if value is None or value != value:
        return ""
    return str(value)[:19]
