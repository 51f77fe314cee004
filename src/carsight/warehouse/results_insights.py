"""Result tables of the insights steps: trigger rules for repurchase (with the customers' trigger
features as of today, so a chosen rule becomes a target list), and the segments that drove the change
in sales and purchases. Written by ``carsight.customers.trigger_pipeline`` and
``carsight.market.driver_pipeline``; read by the dashboard, API and reports."""

from __future__ import annotations

from carsight.warehouse.schema import Column, Table, _c

TRIGGER_RULES = Table(
    "trigger_rules",
    (
        _c("target", "string", False, "Outcome the rules lead to (repurchase)"),
        _c("rank", "int64", False, "1 = best (by profit efficiency)"),
        _c("conditions", "string", False, "Conditions joined by ' & ' (col=v, a<col<=b, col in [a, b), …)"),
        _c("n_conditions", "int64", False, "Number of conditions"),
        _c("coverage", "float64", False, "Customers meeting the conditions ÷ all customers"),
        _c("support", "float64", False, "Customers meeting the conditions with the outcome ÷ all customers"),
        _c("confidence", "float64", False, "Outcome rate among customers meeting the conditions"),
        _c("lift", "float64", False, "Confidence ÷ the outcome rate of all customers"),
        _c("customers", "int64", False, "Customers meeting the conditions at the reference date"),
        _c("responders", "int64", False, "… of whom had the outcome in the horizon"),
        _c("profit_efficiency", "float64", True, "(margin × responders − cost × contacts) ÷ (cost × contacts)"),
        _c(
            "representative", "boolean", False, "Overlaps no better representative rule by more than half its customers"
        ),
        _c("union_customers", "int64", True, "Customers of representative rules 1..this together (each once)"),
        _c("union_responders", "int64", True, "… of whom had the outcome"),
        _c("reference_date", "date", False, "Features use events before this date; the outcome is counted after it"),
        _c("horizon_days", "int64", False, "Outcome window after the reference date, in days"),
        _c("base_rate", "float64", False, "Outcome rate of all customers at the reference date"),
        _c("population", "int64", False, "Customers the rules were mined on"),
        _c("margin", "float64", True, "Profit of one responder used for profit efficiency (KRW)"),
        _c("contact_cost", "float64", True, "Cost of one contact used for profit efficiency (KRW)"),
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
        _c("customer_id", "string", False, "Customer number"),
        _c("as_of", "date", False, "Features use events before this date"),
        *(
            Column(name, "float64", True, "Point-in-time feature (carsight.customers.features)")
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
        _c("analysis", "string", False, "sales (units by model × market × kind) or purchases (revenue)"),
        _c("comparison", "string", False, "year: last 12 months vs the 12 before; quarter: last 3 vs a year earlier"),
        _c("rank", "int64", False, "1 = biggest absolute contribution"),
        _c("segment", "string", False, "The segment as dim=value & dim=value"),
        *(_c(name, "string", True, "Segment value (empty = all)") for name in DRIVER_DIMENSIONS),
        _c("base", "float64", False, "Segment total in the base period"),
        _c("current", "float64", False, "Segment total in the current period"),
        _c("change", "float64", False, "current − base"),
        _c("share_of_change", "float64", True, "change ÷ the change of the whole total"),
        _c("volume", "float64", True, "Part of the change from the number of purchases (purchases only)"),
        _c("mix", "float64", True, "Part from a different composition of cells at base prices"),
        _c("rate", "float64", True, "Part from the value per purchase within cells"),
        _c("base_start", "date", False, "First month of the base period"),
        _c("base_end", "date", False, "Last month of the base period"),
        _c("current_start", "date", False, "First month of the current period"),
        _c("current_end", "date", False, "Last month of the current period"),
        _c("base_total", "float64", False, "Whole total in the base period"),
        _c("current_total", "float64", False, "Whole total in the current period"),
    ),
    keys=("analysis", "comparison", "rank"),
    description="The segments that explain most of the change in sales and purchases between two periods.",
    kind="result",
    date_column="current_end",
)

TABLES = (TRIGGER_RULES, TRIGGER_FEATURES, DRIVER_SEGMENTS)
