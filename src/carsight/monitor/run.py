"""``carsight monitor run``: every check, the alerts reconciled, new alerts e-mailed, the run stored."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage

import pandas as pd

from carsight.config import Settings
from carsight.errors import CarsightError
from carsight.i18n import t
from carsight.monitor import checks_business, checks_data, checks_models, snapshots
from carsight.monitor.alerts import Reconciled, mark_mailed, reconcile, to_mail
from carsight.monitor.context import Context
from carsight.monitor.findings import ALERT, SKIPPED, Finding
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S
from carsight.warehouse.results_monitor import MONITOR_CHECKS, MONITOR_RUNS


@dataclass
class MonitorRun:
    """What one run found and did."""

    run_id: str
    as_of: dt.date
    findings: list[Finding]
    alerts: Reconciled
    mailed: int = 0
    mail_error: str | None = None
    seconds: float = 0.0
    kept: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        """Counts for the CLI and the scheduler's log."""
        return {
            "as_of": str(self.as_of),
            "checks": len(self.findings),
            "skipped": sum(f.status == SKIPPED for f in self.findings),
            "opened": len(self.alerts.opened),
            "still_open": len(self.alerts.still_open),
            "closed": len(self.alerts.closed),
            "mailed": self.mailed,
            "mail_error": self.mail_error,
        }


def run_monitor(
    wh: Warehouse,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    mail: bool = True,
    now: dt.datetime | None = None,
) -> MonitorRun:
    """Run every check as of ``as_of`` (today by default), reconcile the alerts and e-mail new ones.

    Parameters
    ----------
    wh : Warehouse
        A writable warehouse.
    settings : Settings
        Thresholds in ``settings.monitor``; e-mail through ``settings.smtp``.
    as_of : date, optional
        The day the checks look from (freshness ages count to it).
    mail : bool
        E-mail new alerts to ``settings.monitor.recipients`` (at least ``mail_min_severity``).
    now : datetime, optional
        The time stamped on alerts (tests).

    Returns
    -------
    MonitorRun
        The findings, the alerts opened, still open and closed, and what was mailed.
    """
    started = time.perf_counter()
    now = now or dt.datetime.now()
    ctx = Context(wh, settings, as_of or now.date())
    history = (
        snapshots.series_history(wh) if wh.has_table(S.SALES_MONTHLY.name) and wh.count(S.SALES_MONTHLY.name) else None
    )
    findings: list[Finding] = [
        *checks_data.freshness(ctx),
        *checks_data.rejections(ctx),
        *checks_data.input_drift(ctx),
        *checks_models.propensity(ctx),
        *checks_models.scoring_drift(ctx),
        *checks_models.forecast(ctx, history),
        *checks_business.sales_interval(ctx, history),
        *checks_business.vip_share(ctx),
        *checks_business.voc_rising(ctx),
    ]
    # Keep what this run's pipeline made, to be compared with what arrives later (after the checks,
    # so a run never judges the forecasts it has just kept).
    kept = {
        "scores": snapshots.keep_scores(wh),
        "forecasts": snapshots.keep_forecasts(wh, history) if history is not None else 0,
    }
    alerts = reconcile(wh, findings, now)
    run = MonitorRun(uuid.uuid4().hex[:12], ctx.as_of, findings, alerts, kept=kept)
    if mail:
        run.mailed, run.mail_error = _mail(wh, settings, now)
    run.seconds = time.perf_counter() - started
    _store(wh, run, now)
    return run


def _mail(wh: Warehouse, settings: Settings, now: dt.datetime) -> tuple[int, str | None]:
    """One message per recipient listing the alerts not mailed yet.

    A failure is recorded, and the same alerts are tried again on the next run.
    """
    from carsight.notify import send_messages

    cfg = settings.monitor
    pending = to_mail(wh, cfg.mail_min_severity)
    if pending.empty or not cfg.recipients:
        return 0, None
    lang = cfg.lang or settings.lang
    lines = [
        f"[{t(f'monitor.severity.{r.severity}', lang)}] {getattr(r, f'message_{lang}')}" for r in pending.itertuples()
    ]
    messages = []
    for address in cfg.recipients:
        msg = EmailMessage()
        msg["From"] = settings.smtp.sender
        msg["To"] = address
        msg["Subject"] = t("monitor.mail.subject", lang, n=len(pending))
        msg.set_content(t("monitor.mail.body", lang, alerts="\n".join(f"- {line}" for line in lines)))
        messages.append(msg)
    try:
        send_messages(settings.smtp, messages)
    except CarsightError as exc:
        return 0, str(exc)
    mark_mailed(wh, list(pending["alert_id"]), now)
    return len(pending), None


def _store(wh: Warehouse, run: MonitorRun, now: dt.datetime) -> None:
    summary = run.summary()
    wh.upsert(
        MONITOR_RUNS,
        pd.DataFrame(
            [
                {
                    "run_id": run.run_id,
                    "as_of": run.as_of,
                    "started_at": pd.Timestamp(now).floor("s"),
                    "seconds": run.seconds,
                    **{k: summary[k] for k in ("checks", "skipped", "opened", "still_open", "closed", "mailed")},
                    "mail_error": run.mail_error,
                }
            ]
        ),
    )
    rows = [
        {
            "run_id": run.run_id,
            "check_name": f.check,
            "subject": f.subject,
            "status": f.status,
            "severity": f.severity if f.status == ALERT else None,
            "value": f.value,
            "threshold": f.threshold,
            "detail": f.message("en") if f.status == ALERT else f.detail,
        }
        for f in run.findings
    ]
    frame = pd.DataFrame(rows, columns=MONITOR_CHECKS.column_names).drop_duplicates(["check_name", "subject"])
    wh.upsert(MONITOR_CHECKS, frame)
