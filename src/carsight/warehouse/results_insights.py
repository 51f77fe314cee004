"""Result tables of the insights steps.

Trigger rules for repurchase (with the customers' trigger features as of today, so a chosen rule
becomes a target list), and the segments that drove the change in sales and purchases. Written by
``carsight.customers.trigger_pipeline`` and ``carsight.market.driver_pipeline``; read by the
dashboard, API and reports.
"""

from __future__ import annotations

from carsight.warehouse.tables import Table, column

TRIGGER_RULES = Table(
    "trigger_rules",
    (
        column("target", "string", "Outcome the rules lead to (repurchase)", nullable=False),
        column("rank", "int64", "1 = best (by profit efficiency)", nullable=False),
        column(
            "conditions", "string", "Conditions joined by ' & ' (col=v, a<col<=b, col in [a, b), …)", nullable=False
        ),
        column("n_conditions", "int64", "Number of conditions", nullable=False),
        column("coverage", "float64", "Customers meeting the conditions ÷ all customers", nullable=False),
        column(
            "support", "float64", "Customers meeting the conditions with the outcome ÷ all customers", nullable=False
        ),
        column("confidence", "float64", "Outcome rate among customers meeting the conditions", nullable=False),
        column("lift", "float64", "Confidence ÷ the outcome rate of all customers", nullable=False),
        column("customers", "int64", "Customers meeting the conditions at the reference date", nullable=False),
        column("responders", "int64", "… of whom had the outcome in the horizon", nullable=False),
        column("profit_efficiency", "float64", "(margin × responders − cost × contacts) ÷ (cost × contacts)"),
        column(
            "representative",
            "boolean",
            "Overlaps no better representative rule by more than half its customers",
            nullable=False,
        ),
        column("union_customers", "int64", "Customers of representative rules 1..this together (each once)"),
        column("union_responders", "int64", "… of whom had the outcome"),
        column(
            "reference_date",
            "date",
            "Features use events before this date; the outcome is counted after it",
            nullable=False,
        ),
        column("horizon_days", "int64", "Outcome window after the reference date, in days", nullable=False),
        column("base_rate", "float64", "Outcome rate of all customers at the reference date", nullable=False),
        column("population", "int64", "Customers the rules were mined on", nullable=False),
        column("margin", "float64", "Profit of one responder used for profit efficiency (KRW)"),
        column("contact_cost", "float64", "Cost of one contact used for profit efficiency (KRW)"),
    ),
    keys=("target", "rank"),
    description="Trigger conditions (association rules) for repurchase, best first.",
    kind="result",
    date_column="reference_date",
)

# The features the rules are written in, one row per customer as of today; a rule's conditions are a
# filter on this table (the dashboard's target list for a chosen rule).
TRIGGER_FEATURE_COLUMNS = (
    "leads_90d",
    "test_drives_90d",
    "days_since_lead",
    "days_since_test_drive",
    "service_180d",
    "days_since_service",
    "mileage_km",
    "contacts_365d",
    "opens_365d",
    "responses_365d",
    "days_since_response",
    "consults_90d",
    "days_since_consult",
    "vehicle_age_days",
    "purchases_total",
)

TRIGGER_FEATURES = Table(
    "trigger_features",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("as_of", "date", "Features use events before this date", nullable=False),
        *(
            column(name, "float64", "Point-in-time feature (carsight.customers.features)")
            for name in TRIGGER_FEATURE_COLUMNS
        ),
    ),
    keys=("customer_id",),
    description="Each customer's trigger features as of today (apply a rule's conditions to get its targets).",
    kind="result",
    date_column="as_of",
)

# Dimensions a driver segment may fix, over both analyses; a segment leaves the others empty (= all).
DRIVER_DIMENSIONS = ("model", "market", "kind", "region", "customer_segment", "channel")

DRIVER_SEGMENTS = Table(
    "driver_segments",
    (
        column("analysis", "string", "sales (units by model × market × kind) or purchases (revenue)", nullable=False),
        column(
            "comparison",
            "string",
            "year: last 12 months vs the 12 before; quarter: last 3 vs a year earlier",
            nullable=False,
        ),
        column("rank", "int64", "1 = biggest absolute contribution", nullable=False),
        column("segment", "string", "The segment as dim=value & dim=value", nullable=False),
        *(column(name, "string", "Segment value (empty = all)") for name in DRIVER_DIMENSIONS),
        column("base", "float64", "Segment total in the base period", nullable=False),
        column("current", "float64", "Segment total in the current period", nullable=False),
        column("change", "float64", "current − base", nullable=False),
        column("share_of_change", "float64", "change ÷ the change of the whole total"),
        column("volume", "float64", "Part of the change from the number of purchases (purchases only)"),
        column("mix", "float64", "Part from a different composition of cells at base prices"),
        column("rate", "float64", "Part from the value per purchase within cells"),
        column("base_start", "date", "First month of the base period", nullable=False),
        column("base_end", "date", "Last month of the base period", nullable=False),
        column("current_start", "date", "First month of the current period", nullable=False),
        column("current_end", "date", "Last month of the current period", nullable=False),
        column("base_total", "float64", "Whole total in the base period", nullable=False),
        column("current_total", "float64", "Whole total in the current period", nullable=False),
    ),
    keys=("analysis", "comparison", "rank"),
    description="The segments that explain most of the change in sales and purchases between two periods.",
    kind="result",
    date_column="current_end",
)

TABLES = (TRIGGER_RULES, TRIGGER_FEATURES, DRIVER_SEGMENTS)
