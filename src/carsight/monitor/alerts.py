"""Alerts: one open alert per cause until it clears, e-mailed once, closed when a run no longer sees it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from carsight.monitor.findings import ALERT, SEVERITY_ORDER, SKIPPED, Finding
from carsight.warehouse import Warehouse
from carsight.warehouse.results_monitor import CLOSED, MONITOR_ALERTS, OPEN


@dataclass
class Reconciled:
    """What one run did to the alerts."""

    opened: list[dict] = field(default_factory=list)
    still_open: list[dict] = field(default_factory=list)
    closed: list[dict] = field(default_factory=list)


def read_alerts(wh: Warehouse, *, status: str | None = OPEN) -> pd.DataFrame:
    """Alerts (open ones by default; ``status=None`` for all), most severe and newest first."""
    if not wh.has_table(MONITOR_ALERTS.name) or wh.count(MONITOR_ALERTS.name) == 0:
        return pd.DataFrame(columns=MONITOR_ALERTS.column_names)
    t = wh.table(MONITOR_ALERTS.name)
    frame = (t.filter(t.status == status) if status else t).to_pandas()
    frame["_rank"] = frame["severity"].map(SEVERITY_ORDER)
    order = frame.sort_values(["status", "_rank", "opened_at"], ascending=[False, False, False])
    return order.drop(columns="_rank").reset_index(drop=True)


def reconcile(wh: Warehouse, findings: list[Finding], now: dt.datetime) -> Reconciled:
    """Open an alert for each new cause, refresh the ones still seen, close those whose cause cleared.

    A cause clears when its check ran and found it fine, or no longer looks at its subject (a file
    that left the look-back window); a check that was skipped (nothing to look at) leaves its alerts open.
    """
    current = read_alerts(wh)
    by_cause = {row["cause"]: row for row in current.to_dict("records")}
    kept = {f.cause for f in findings if f.status == SKIPPED}
    result = Reconciled()
    rows = []
    stamp = pd.Timestamp(now).floor("s")
    for f in findings:
        if f.status != ALERT:
            continue
        base = {
            "cause": f.cause,
            "check_name": f.check,
            "subject": f.subject,
            "severity": f.severity,
            "status": OPEN,
            "value": f.value,
            "threshold": f.threshold,
            "message_ko": f.message("ko"),
            "message_en": f.message("en"),
            "last_seen_at": stamp,
            "closed_at": None,
        }
        if f.cause in by_cause:
            old = by_cause.pop(f.cause)
            row = {**base, "alert_id": old["alert_id"], "opened_at": old["opened_at"], "mailed_at": old["mailed_at"]}
            result.still_open.append(row)
        else:
            row = {**base, "alert_id": f"{f.cause}@{stamp:%Y-%m-%dT%H:%M:%S}", "opened_at": stamp, "mailed_at": None}
            result.opened.append(row)
        rows.append(row)
    for cause, old in by_cause.items():
        if cause in kept:
            continue
        row = {**old, "status": CLOSED, "closed_at": stamp}
        result.closed.append(row)
        rows.append(row)
    if rows:
        frame = pd.DataFrame(rows)[MONITOR_ALERTS.column_names]
        wh.upsert(MONITOR_ALERTS, frame)
    return result


def mark_mailed(wh: Warehouse, alert_ids: list[str], when: dt.datetime) -> None:
    """Record that these alerts were e-mailed (they are never mailed again)."""
    if not alert_ids:
        return
    t = wh.table(MONITOR_ALERTS.name)
    frame = t.filter(t.alert_id.isin(alert_ids)).to_pandas()
    frame["mailed_at"] = pd.Timestamp(when).floor("s")
    wh.upsert(MONITOR_ALERTS, frame[MONITOR_ALERTS.column_names])


def to_mail(wh: Warehouse, min_severity: str) -> pd.DataFrame:
    """Open alerts of at least ``min_severity`` not e-mailed yet (a failed send is tried again next run)."""
    frame = read_alerts(wh)
    if frame.empty:
        return frame
    wanted = frame["severity"].map(SEVERITY_ORDER) >= SEVERITY_ORDER[min_severity]
    return frame[wanted & frame["mailed_at"].isna()].reset_index(drop=True)
