"""Tables the delivery edges keep: the e-mail delivery log, the opt-out list, report runs and scheduler runs.

They are bookkeeping rather than analytics, but live with the other result tables so the dashboard
reads them the same way.
"""

from __future__ import annotations

from carsight.warehouse.tables import Table, column

# Delivery states. A row is written as QUEUED before the message goes to the server and becomes
# SENT only after the server accepted it; SKIPPED rows record why someone was not mailed.
QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"

DELIVERY_LOG = Table(
    "delivery_log",
    (
        column("campaign_id", "string", "Campaign id", nullable=False),
        column("customer_id", "string", "Customer number", nullable=False),
        column("email", "string", "Address the message went to"),
        column(
            "status",
            "string",
            "queued, sent, failed or skipped",
            nullable=False,
            allowed=(QUEUED, SENT, FAILED, SKIPPED),
        ),
        column("reason", "string", "Why it failed or was skipped (server reply, opted_out, …)"),
        column("attempts", "int64", "Send attempts so far", nullable=False),
        column("template", "string", "Template name"),
        column("lang", "string", "ko or en"),
        column("message_id", "string", "Message-ID header (the same on every retry)"),
        column("queued_at", "timestamp", "When the row was first queued"),
        column("sent_at", "timestamp", "When the server accepted the message"),
        column("updated_at", "timestamp", "Last change", nullable=False),
    ),
    keys=("campaign_id", "customer_id"),
    description="One row per campaign × customer: what happened to the e-mail.",
    kind="result",
    date_column="updated_at",
)

OPT_OUTS = Table(
    "opt_outs",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("email", "string", "Address, when known (also matched)"),
        column("reason", "string", "Why (customer request, complaint, bounce…)"),
        column("source", "string", "Where the request came from (cli, dashboard, file)"),
        column("opted_out_at", "timestamp", "When", nullable=False),
    ),
    keys=("customer_id",),
    description="Customers who must never receive marketing e-mail.",
    kind="result",
    date_column="opted_out_at",
)

REPORT_RUNS = Table(
    "report_runs",
    (
        column("run_id", "string", "Run id", nullable=False),
        column("kind", "string", "customers, market or voc", nullable=False),
        column("period", "string", "YYYY-MM", nullable=False),
        column("format", "string", "html or pdf", nullable=False),
        column("lang", "string", "ko or en", nullable=False),
        column("path", "string", "Where the report was written"),
        column("sections", "int64", "Sections with data", nullable=False),
        column("notes", "string", "Missing data, LLM notes"),
        column("created_at", "timestamp", "When", nullable=False),
    ),
    keys=("run_id",),
    description="Reports built, by kind and period.",
    kind="result",
    date_column="created_at",
)

SCHEDULE_RUNS = Table(
    "schedule_runs",
    (
        column("schedule", "string", "Schedule name", nullable=False),
        column("slot", "timestamp", "The cron slot this run belongs to", nullable=False),
        column("action", "string", "pipeline or report", nullable=False),
        column("status", "string", "running, done or failed", nullable=False),
        column("message", "string", "Summary or error"),
        column("started_at", "timestamp", "When it started", nullable=False),
        column("finished_at", "timestamp", "When it finished"),
    ),
    keys=("schedule", "slot"),
    description="One row per schedule slot run (at most one run per slot).",
    kind="result",
    date_column="started_at",
)

TABLES = (DELIVERY_LOG, OPT_OUTS, REPORT_RUNS, SCHEDULE_RUNS)
