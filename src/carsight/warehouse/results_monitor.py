"""Tables monitoring keeps: alerts, the checks of every run, snapshots of scores and forecasts.

Alerts are one open per cause; the snapshots are compared with the outcomes once they arrive
(docs/monitoring.md).
"""

from __future__ import annotations

from carsight.warehouse.tables import Table, column

OPEN, CLOSED = "open", "closed"
SEVERITIES = ("info", "warning", "critical")

MONITOR_ALERTS = Table(
    "monitor_alerts",
    (
        column("alert_id", "string", "The cause and the time the alert opened", nullable=False),
        column(
            "cause", "string", "What the alert is about: check and subject (one open alert per cause)", nullable=False
        ),
        column(
            "check_name",
            "string",
            "data.freshness, data.drift, models.forecast, business.voc_rising, …",
            nullable=False,
        ),
        column("subject", "string", "The table, model, series or keyword concerned", nullable=False),
        column("severity", "string", "info, warning or critical", nullable=False, allowed=SEVERITIES),
        column("status", "string", "open, or closed once the cause cleared", nullable=False, allowed=(OPEN, CLOSED)),
        column("value", "float64", "The measured value that crossed the threshold"),
        column("threshold", "float64", "The threshold (carsight.toml, [monitor])"),
        column("message_ko", "string", "What is wrong, in Korean", nullable=False),
        column("message_en", "string", "What is wrong, in English", nullable=False),
        column("opened_at", "timestamp", "When the cause was first seen", nullable=False),
        column("last_seen_at", "timestamp", "The last run that still saw it", nullable=False),
        column("closed_at", "timestamp", "The first run that no longer saw it"),
        column("mailed_at", "timestamp", "When it was e-mailed (once)"),
    ),
    keys=("alert_id",),
    description="Alerts of the monitoring checks: one open alert per cause until it clears.",
    kind="result",
    date_column="opened_at",
)

MONITOR_RUNS = Table(
    "monitor_runs",
    (
        column("run_id", "string", "Run id", nullable=False),
        column("as_of", "date", "The day the checks looked from", nullable=False),
        column("started_at", "timestamp", "When the run started", nullable=False),
        column("seconds", "float64", "Time taken", nullable=False),
        column("checks", "int64", "Checks run (subjects included)", nullable=False),
        column("skipped", "int64", "Checks that had nothing to look at yet", nullable=False),
        column("opened", "int64", "Alerts opened", nullable=False),
        column("still_open", "int64", "Alerts already open and seen again", nullable=False),
        column("closed", "int64", "Alerts closed (their cause cleared)", nullable=False),
        column("mailed", "int64", "Alerts e-mailed", nullable=False),
        column("mail_error", "string", "Why mailing failed, if it did"),
    ),
    keys=("run_id",),
    description="One row per monitoring run.",
    kind="result",
    date_column="started_at",
)

MONITOR_CHECKS = Table(
    "monitor_checks",
    (
        column("run_id", "string", "Run id", nullable=False),
        column("check_name", "string", "Check", nullable=False),
        column("subject", "string", "What it looked at", nullable=False),
        column("status", "string", "ok, alert or skipped", nullable=False, allowed=("ok", "alert", "skipped")),
        column("severity", "string", "Of an alert"),
        column("value", "float64", "Measured value"),
        column("threshold", "float64", "Threshold"),
        column("detail", "string", "What was measured, or why it was skipped (English)"),
    ),
    keys=("run_id", "check_name", "subject"),
    description="Every check of every monitoring run, with its value beside its threshold.",
    kind="result",
)

MONITOR_SCORES = Table(
    "monitor_scores",
    (
        column("target", "string", "repurchase, response or churn", nullable=False),
        column("as_of", "date", "The day the scores were made", nullable=False),
        column("customer_id", "string", "Customer number", nullable=False),
        column("score", "float64", "Calibrated probability", nullable=False),
        column("horizon_days", "int64", "Days the outcome is counted over", nullable=False),
        column("holdout_auroc", "float64", "The model's AUROC on its holdout when it scored"),
        column("holdout_lift", "float64", "Its top-decile lift on the holdout"),
    ),
    keys=("target", "as_of", "customer_id"),
    description="Propensity scores kept as they were made, to be checked against the outcomes once they arrive.",
    kind="result",
    date_column="as_of",
)

MONITOR_FORECASTS = Table(
    "monitor_forecasts",
    (
        column("origin", "date", "First forecast month of the run that made it", nullable=False),
        column("unique_id", "string", "Series", nullable=False),
        column("level", "string", "total, brand, market or brand/model/market"),
        column("ds", "date", "Forecast month", nullable=False),
        column("yhat", "float64", "Forecast", nullable=False),
        column("yhat_lo_80", "float64"),
        column("yhat_hi_80", "float64"),
        column("yhat_lo_95", "float64"),
        column("yhat_hi_95", "float64"),
        column("mase_backtest", "float64", "The chosen method's backtest MASE"),
        column("scale", "float64", "The series' MASE scale (in-sample seasonal-naive MAE) at the origin"),
    ),
    keys=("origin", "unique_id", "ds"),
    description="Forecasts kept as they were made, to be checked against the months that arrive.",
    kind="result",
    date_column="origin",
)

TABLES = (MONITOR_ALERTS, MONITOR_RUNS, MONITOR_CHECKS, MONITOR_SCORES, MONITOR_FORECASTS)
