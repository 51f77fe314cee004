"""Tables the delivery edges keep: the e-mail delivery log, the opt-out list, report runs and
scheduler runs. They are bookkeeping rather than analytics, but live with the other result tables
so the dashboard reads them the same way."""

from __future__ import annotations

from carsight.warehouse.schema import Column, Table

# Delivery states. A row is written as QUEUED before the message goes to the server and becomes
# SENT only after the server accepted it; SKIPPED rows record why someone was not mailed.
QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"

DELIVERY_LOG = Table(
    "delivery_log",
    (
        Column("campaign_id", "string", False, "Campaign id"),
        Column("customer_id", "string", False, "Customer number"),
        Column("email", "string", True, "Address the message went to"),
        Column("status", "string", False, "queued, sent, failed or skipped", allowed=(QUEUED, SENT, FAILED, SKIPPED)),
        Column("reason", "string", True, "Why it failed or was skipped (server reply, opted_out, …)"),
        Column("attempts", "int64", False, "Send attempts so far"),
        Column("template", "string", True, "Template name"),
        Column("lang", "string", True, "ko or en"),
        Column("message_id", "string", True, "Message-ID header (the same on every retry)"),
        Column("queued_at", "timestamp", True, "When the row was first queued"),
        Column("sent_at", "timestamp", True, "When the server accepted the message"),
        Column("updated_at", "timestamp", False, "Last change"),
    ),
    keys=("campaign_id", "customer_id"),
    description="One row per campaign × customer: what happened to the e-mail.",
    kind="result",
    date_column="updated_at",
)

OPT_OUTS = Table(
    "opt_outs",
    (
        Column("customer_id", "string", False, "Customer number"),
        Column("email", "string", True, "Address, when known (also matched)"),
        Column("reason", "string", True, "Why (customer request, complaint, bounce…)"),
        Column("source", "string", True, "Where the request came from (cli, dashboard, file)"),
        Column("opted_out_at", "timestamp", False, "When"),
    ),
    keys=("customer_id",),
    description="Customers who must never receive marketing e-mail.",
    kind="result",
    date_column="opted_out_at",
)

REPORT_RUNS = Table(
    "report_runs",
    (
        Column("run_id", "string", False, "Run id"),
        Column("kind", "string", False, "customers, market or voc"),
        Column("period", "string", False, "YYYY-MM"),
        Column("format", "string", False, "html or pdf"),
        Column("lang", "string", False, "ko or en"),
        Column("path", "string", True, "Where the report was written"),
        Column("sections", "int64", False, "Sections with data"),
        Column("notes", "string", True, "Missing data, LLM notes"),
        Column("created_at", "timestamp", False, "When"),
    ),
    keys=("run_id",),
    description="Reports built, by kind and period.",
    kind="result",
    date_column="created_at",
)

SCHEDULE_RUNS = Table(
    "schedule_runs",
    (
        Column("schedule", "string", False, "Schedule name"),
        Column("slot", "timestamp", False, "The cron slot this run belongs to"),
        Column("action", "string", False, "pipeline or report"),
        Column("status", "string", False, "running, done or failed"),
        Column("message", "string", True, "Summary or error"),
        Column("started_at", "timestamp", False, "When it started"),
        Column("finished_at", "timestamp", True, "When it finished"),
    ),
    keys=("schedule", "slot"),
    description="One row per schedule slot run (at most one run per slot).",
    kind="result",
    date_column="started_at",
)

TABLES = (DELIVERY_LOG, OPT_OUTS, REPORT_RUNS, SCHEDULE_RUNS)
