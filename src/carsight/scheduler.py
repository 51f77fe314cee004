"""Cron-style schedules from the configuration (``settings.schedules``).

Which slot is due, running it at most once per slot (recorded in ``schedule_runs`` before it starts,
so a restart never runs a slot twice), and the loop behind ``carsight schedule run``.

Actions: ``pipeline`` (the whole analytics pipeline), ``report`` (args ``kind``, ``period``
= ``previous-month`` | ``current-month`` | ``YYYY-MM``, ``format``, ``lang``, ``to`` = comma-separated
e-mail addresses that receive the report as an attachment) and ``monitor`` (``carsight monitor run``).
Monitoring runs daily by default: ``settings.monitor.cron`` adds a schedule named ``monitor`` unless
one of the configured schedules already monitors, or the cron is empty.

Only the latest slot of each schedule is considered: a scheduler that was down for three days runs
a daily job once when it comes back, not three times.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from croniter import croniter

from carsight.config import Schedule, Settings
from carsight.errors import CarsightError, InputError
from carsight.warehouse import Warehouse
from carsight.warehouse.results_delivery import SCHEDULE_RUNS

ACTIONS = ("pipeline", "report", "monitor")
MONITOR = "monitor"
RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass
class JobResult:
    """What one scheduled job did."""

    schedule: str
    slot: dt.datetime
    status: str
    message: str


def effective(settings: Settings) -> list[Schedule]:
    """The configured schedules, plus the daily monitoring one (``settings.monitor.cron``).

    Unless a configured schedule already monitors, or the cron is empty.
    """
    schedules = list(settings.schedules)
    cron = settings.monitor.cron.strip()
    if cron and not any(s.action == MONITOR for s in schedules):
        schedules.append(Schedule(name=MONITOR, cron=cron, action=MONITOR))
    return schedules


def validate(schedules: list[Schedule]) -> None:
    """Refuse a bad configuration up front, naming the schedule and field."""
    seen = set()
    for index, s in enumerate(schedules):
        where = f"schedules[{index}] ({s.name})"
        if s.name in seen:
            raise InputError(f"{where}: duplicate schedule name", column="name", expected="unique names")
        seen.add(s.name)
        if not croniter.is_valid(s.cron):
            raise InputError(f"{where}: invalid cron expression '{s.cron}'", column="cron", expected="e.g. '0 6 1 * *'")
        if s.action not in ACTIONS:
            raise InputError(f"{where}: unknown action '{s.action}'", column="action", expected=" or ".join(ACTIONS))
        if s.action == "report":
            from carsight.reports import KINDS

            if s.args.get("kind") not in KINDS:
                raise InputError(
                    f"{where}: report kind '{s.args.get('kind')}'", column="args.kind", expected=", ".join(KINDS)
                )
            if s.args.get("format", "pdf") not in ("html", "pdf"):
                raise InputError(
                    f"{where}: format '{s.args.get('format')}'", column="args.format", expected="html or pdf"
                )
            resolve_period(s.args.get("period", "previous-month"), dt.datetime(2000, 1, 1))


def latest_slot(schedule: Schedule, now: dt.datetime) -> dt.datetime:
    """The most recent time at or before ``now`` that the cron expression fires."""
    # croniter.get_prev is strictly before its start, so start one second after now.
    return croniter(schedule.cron, now + dt.timedelta(seconds=1)).get_prev(dt.datetime)


def next_runs(schedule: Schedule, now: dt.datetime, count: int = 3) -> list[dt.datetime]:
    """The next ``count`` slots of a schedule after ``now``."""
    it = croniter(schedule.cron, now)
    return [it.get_next(dt.datetime) for _ in range(count)]


def resolve_period(period: str, slot: dt.datetime) -> str:
    """'previous-month' at a slot in March 2025 → '2025-02'."""
    if period == "previous-month":
        first = slot.replace(day=1)
        return (first - dt.timedelta(days=1)).strftime("%Y-%m")
    if period == "current-month":
        return slot.strftime("%Y-%m")
    try:
        return dt.datetime.strptime(period, "%Y-%m").strftime("%Y-%m")
    except ValueError:
        raise InputError(
            f"report period '{period}'", column="args.period", expected="previous-month, current-month or YYYY-MM"
        ) from None


def history(wh: Warehouse) -> pd.DataFrame:
    """Every scheduled run, latest first."""
    if not wh.has_table(SCHEDULE_RUNS.name):
        return pd.DataFrame(columns=SCHEDULE_RUNS.column_names)
    t = wh.table(SCHEDULE_RUNS.name)
    return t.order_by(t.started_at.desc()).to_pandas()


def _claimed(wh: Warehouse, name: str, slot: dt.datetime) -> bool:
    if not wh.has_table(SCHEDULE_RUNS.name):
        return False
    t = wh.table(SCHEDULE_RUNS.name)
    return int(t.filter((t.schedule == name) & (t.slot == slot)).count().to_pyarrow().as_py()) > 0


def _record(wh: Warehouse, schedule: Schedule, slot, status, message, started, finished=None) -> None:
    wh.upsert(
        SCHEDULE_RUNS,
        pd.DataFrame(
            [
                {
                    "schedule": schedule.name,
                    "slot": slot,
                    "action": schedule.action,
                    "status": status,
                    "message": message,
                    "started_at": started,
                    "finished_at": finished,
                }
            ]
        ),
    )


def due(wh: Warehouse, schedules: list[Schedule], now: dt.datetime) -> list[tuple[Schedule, dt.datetime]]:
    """Schedules whose latest slot has not run yet."""
    out = []
    for s in schedules:
        slot = latest_slot(s, now)
        if not _claimed(wh, s.name, slot):
            out.append((s, slot))
    return out


def run_action(wh: Warehouse, settings: Settings, schedule: Schedule, slot: dt.datetime) -> str:
    """Run one job; returns a one-line summary."""
    if schedule.action == MONITOR:
        from carsight.monitor import run_monitor

        summary = run_monitor(wh, settings).summary()
        return ", ".join(f"{k} {v}" for k, v in summary.items() if v is not None)
    if schedule.action == "pipeline":
        from carsight.pipeline import run_pipeline

        results = run_pipeline(wh, settings)
        return ", ".join(f"{r.name}: {r.status}" for r in results) or "no steps"
    from carsight.reports import build_report

    args = schedule.args
    period = resolve_period(args.get("period", "previous-month"), slot)
    fmt = args.get("format", "pdf")
    lang = args.get("lang", settings.lang)
    out = Path(settings.output_dir) / "reports" / f"{args['kind']}-{period}-{lang}.{fmt}"
    result = build_report(wh, settings, args["kind"], period, fmt=fmt, lang=lang, output=out)
    recipients = [a.strip() for a in args.get("to", "").split(",") if a.strip()]
    if recipients:
        _mail_report(settings, recipients, result.path, args["kind"], period, lang)
        return f"{result.path} sent to {len(recipients)}"
    return str(result.path)


def _mail_report(settings: Settings, recipients: list[str], path: Path, kind: str, period: str, lang: str) -> None:
    from email.message import EmailMessage

    from carsight.i18n import t
    from carsight.notify import send_messages

    messages = []
    for address in recipients:
        msg = EmailMessage()
        msg["From"] = settings.smtp.sender
        msg["To"] = address
        msg["Subject"] = t(
            "delivery.schedule.mail_subject", lang, kind=t(f"delivery.report.kind.{kind}", lang), period=period
        )
        msg.set_content(t("delivery.schedule.mail_body", lang, period=period))
        subtype = "pdf" if path.suffix == ".pdf" else "html"
        maintype = "application" if subtype == "pdf" else "text"
        msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
        messages.append(msg)
    send_messages(settings.smtp, messages)


def run_due(
    wh: Warehouse,
    settings: Settings,
    now: dt.datetime,
    on_job: Callable[[Schedule, dt.datetime], None] | None = None,
) -> list[JobResult]:
    """Run every due job once.

    A slot is claimed (``running``) before its job starts: if the process dies mid-job the slot
    stays claimed and is not re-run (at most once per slot); the row shows it never finished.
    """
    schedules = effective(settings)
    validate(schedules)
    results = []
    for schedule, slot in due(wh, schedules, now):
        if on_job:
            on_job(schedule, slot)
        started = pd.Timestamp.now()
        _record(wh, schedule, slot, RUNNING, None, started)
        try:
            message = run_action(wh, settings, schedule, slot)
            status = DONE
        except CarsightError as exc:
            status, message = FAILED, str(exc)
        except Exception as exc:  # one broken job must not stop the others
            status, message = FAILED, f"{type(exc).__name__}: {exc}"
        _record(wh, schedule, slot, status, message, started, pd.Timestamp.now())
        results.append(JobResult(schedule.name, slot, status, message))
    return results


def seconds_until_next(schedules: list[Schedule], now: dt.datetime) -> float:
    """Seconds until the next slot of any schedule (at least one)."""
    upcoming = [next_runs(s, now, 1)[0] for s in schedules]
    return max(1.0, (min(upcoming) - now).total_seconds()) if upcoming else 60.0


def run_forever(
    open_warehouse: Callable[[], Warehouse],
    settings: Settings,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    sleep: Callable[[float], None] = time.sleep,
    on_result: Callable[[JobResult], None] | None = None,
    max_cycles: int | None = None,
) -> None:
    """Wake at each next slot and run what is due.

    The warehouse is opened per cycle so that the scheduler does not hold DuckDB's write lock while
    it sleeps.
    """
    schedules = effective(settings)
    validate(schedules)
    cycles = 0
    while max_cycles is None or cycles < max_cycles:
        with open_warehouse() as wh:
            for result in run_due(wh, settings, clock()):
                if on_result:
                    on_result(result)
        cycles += 1
        if max_cycles is not None and cycles >= max_cycles:
            break
        # Cap the sleep so a changed system clock is noticed within a minute.
        sleep(min(60.0, seconds_until_next(schedules, clock())))
