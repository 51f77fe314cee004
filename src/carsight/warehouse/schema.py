"""The canonical schema: the single source of carsight's table and column names and types.

Source tables hold what companies load (through ``carsight ingest``); system tables hold
load bookkeeping; result tables (declared by each domain in ``warehouse/results_*.py``)
hold what the pipeline computes for the dashboard and API. Bump ``SCHEMA_VERSION`` when a
source or system table changes; ``carsight init`` migrates additively (new tables, new columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt

SCHEMA_VERSION = 2

# Column roles tell the loader how to clean a value.
COUNT = "count"  # units/counts: '-' and blank mean 0
MONEY = "money"  # amounts: thousands separators and currency signs removed; blank is missing
MONTH = "month"  # a date normalised to the first day of its month
PLAIN = "plain"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # an Ibis type string: string, int64, float64, date, timestamp, boolean
    nullable: bool = True
    description: str = ""
    role: str = PLAIN
    # Allowed values (after normalisation) for a categorical column; None = free text.
    allowed: tuple[str, ...] | None = None
    # Stored where a file does not say (a key column a table added later: rows loaded before get it).
    default: str | None = None
    # A count that may be negative (a correction printed as "(1)" in a sales table).
    signed: bool = False

    @property
    def ibis_type(self) -> dt.DataType:
        return dt.dtype(self.dtype).copy(nullable=self.nullable)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...] = ()
    description: str = ""
    kind: str = "source"  # source | system | result
    # Column to show date ranges by in `carsight status`.
    date_column: str | None = None
    extras: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")

    def ibis_schema(self) -> ibis.Schema:
        return ibis.schema({c.name: c.ibis_type for c in self.columns})


def _c(name, dtype, nullable=True, description="", role=PLAIN, allowed=None, default=None, signed=False) -> Column:
    return Column(name, dtype, nullable, description, role, tuple(allowed) if allowed else None, default, signed)


POWERTRAINS = ("ICE", "HEV", "PHEV", "EV")
BODY_TYPES = ("sedan", "suv", "hatchback", "mpv", "pickup", "coupe", "van", "truck")
# retail: sales in a market as that market reports them (retail sales, registrations); also what a
# file that names no kind of sales is loaded as (docs/ingest.md).
SALES_KINDS = ("domestic", "export", "overseas_plant", "retail")
GENDERS = ("M", "F")
# other: a payment word the list does not know; the word itself is kept in purchases.payment_detail.
PAYMENT_TYPES = ("cash", "installment", "lease", "rent", "card", "transfer", "other")
ALL = "(all)"  # a dimension a sales file does not split by

VEHICLES = Table(
    "vehicles",
    (
        _c("model", "string", False, "Model name as sold (e.g. 'Tucson')"),
        _c("brand", "string", True, "Brand (e.g. 'Hyundai', 'Genesis'), when the file says"),
        _c("segment", "string", True, "Market segment (A–F, or a maker's own label such as 준대형)"),
        _c("body_type", "string", True, "Body type", allowed=BODY_TYPES),
        _c("powertrain", "string", True, "Powertrain", allowed=POWERTRAINS),
        _c("launch_month", "date", True, "First month on sale", MONTH),
        _c("discontinued_month", "date", True, "Last month on sale, if discontinued", MONTH),
        _c("base_price", "int64", True, "Base price in KRW", MONEY),
        _c("eco_friendly", "boolean", True, "Counted as an eco-friendly car (친환경차)"),
    ),
    keys=("model",),
    description="The model line-up.",
    date_column="launch_month",
)

CUSTOMERS = Table(
    "customers",
    (
        _c("customer_id", "string", False, "Customer number"),
        _c("name", "string", True, "Full name (personal data)"),
        _c("gender", "string", True, "M or F", allowed=GENDERS),
        _c("birth_year", "int64", True, "Year of birth"),
        _c("region", "string", True, "Region (시/도)"),
        _c("join_date", "date", True, "Date the customer was first registered"),
        _c("channel", "string", True, "Acquisition channel (showroom, web, referral, …)"),
        _c("email", "string", True, "E-mail address (personal data)"),
        _c("phone", "string", True, "Phone number (personal data)"),
        _c("marketing_opt_in", "boolean", True, "Consented to marketing contact"),
    ),
    keys=("customer_id",),
    description="One row per customer.",
    date_column="join_date",
)

PURCHASES = Table(
    "purchases",
    (
        _c("purchase_id", "string", False, "Contract or invoice number"),
        _c("customer_id", "string", False, "Customer number"),
        _c("purchase_date", "date", False, "Contract or delivery date"),
        _c("brand", "string", True, "Brand"),
        _c("model", "string", False, "Model"),
        _c("amount", "float64", False, "Transaction amount in KRW (refunds negative)", MONEY),
        _c("payment_type", "string", True, "Payment type", allowed=PAYMENT_TYPES),
        _c("payment_detail", "string", True, "The file's own payment word when payment_type is 'other'"),
        _c("dealer", "string", True, "Dealer or branch"),
        _c("channel", "string", True, "Sales channel"),
    ),
    keys=("purchase_id",),
    description="Vehicle purchases.",
    date_column="purchase_date",
)

LEADS = Table(
    "leads",
    (
        _c("lead_id", "string", False, "Lead number"),
        _c("customer_id", "string", True, "Customer number, when known"),
        _c("lead_date", "date", False, "Date of the lead"),
        _c("lead_type", "string", True, "test_drive, web_inquiry, quote, showroom_visit, …"),
        _c("model", "string", True, "Model of interest"),
        _c("channel", "string", True, "Channel (web, app, BDC, showroom, …)"),
        _c("status", "string", True, "open, won, lost"),
    ),
    keys=("lead_id",),
    description="Test drives, web inquiries and other leads.",
    date_column="lead_date",
)

SERVICE_VISITS = Table(
    "service_visits",
    (
        _c("visit_id", "string", False, "Repair order number"),
        _c("customer_id", "string", True, "Customer number"),
        _c("visit_date", "date", False, "Date of the visit"),
        _c("model", "string", True, "Model serviced"),
        _c("service_type", "string", True, "maintenance, repair, warranty, recall, …"),
        _c("amount", "float64", True, "Amount paid in KRW", MONEY),
        _c("mileage_km", "int64", True, "Odometer in km", COUNT),
    ),
    keys=("visit_id",),
    description="Service and repair visits.",
    date_column="visit_date",
)

CONSULTATIONS = Table(
    "consultations",
    (
        _c("consultation_id", "string", False, "Consultation number"),
        _c("customer_id", "string", True, "Customer number, when known"),
        _c("consulted_at", "timestamp", False, "When the consultation happened"),
        _c("model", "string", True, "Model the customer called about"),
        _c("channel", "string", True, "phone, chat, email, app, …"),
        _c("category", "string", True, "Topic label given by the agent, if any"),
        _c("text", "string", True, "What the customer said (masked unless configured otherwise)"),
    ),
    keys=("consultation_id",),
    description="Call-centre consultations and complaints.",
    date_column="consulted_at",
)

CAMPAIGNS = Table(
    "campaigns",
    (
        _c("campaign_id", "string", False, "Campaign id"),
        _c("name", "string", True, "Campaign name"),
        _c("channel", "string", True, "email, sms, dm, call, …"),
        _c("start_date", "date", True, "First contact date"),
        _c("end_date", "date", True, "Last response date counted"),
        _c("goal", "string", True, "repurchase, service, test_drive, …"),
        _c("offer", "string", True, "What was offered"),
        _c("cost_per_contact", "float64", True, "Cost of one contact in KRW", MONEY),
    ),
    keys=("campaign_id",),
    description="Marketing campaigns.",
    date_column="start_date",
)

CAMPAIGN_CONTACTS = Table(
    "campaign_contacts",
    (
        _c("campaign_id", "string", False, "Campaign id"),
        _c("customer_id", "string", False, "Customer number"),
        _c("sent_at", "timestamp", True, "When the contact was sent"),
        _c("opened", "boolean", True, "Opened the message"),
        _c("responded", "boolean", True, "Responded (visit, test drive, purchase…)"),
        _c("responded_at", "timestamp", True, "When they responded"),
    ),
    keys=("campaign_id", "customer_id"),
    description="Who was contacted by which campaign and how they reacted.",
    date_column="sent_at",
)

SALES_MONTHLY = Table(
    "sales_monthly",
    (
        _c("brand", "string", False, "Brand"),
        _c("model", "string", False, "Model"),
        _c("market", "string", False, "Country or market"),
        _c("kind", "string", False, "domestic, export, overseas_plant or retail", allowed=SALES_KINDS),
        _c("month", "date", False, "Month (first day)", MONTH),
        _c("units", "int64", False, "Units sold or shipped (corrections may be negative)", COUNT, signed=True),
        _c("plant", "string", False, "Plant the units came from, when the file splits by plant", default=ALL),
        _c("vehicle_class", "string", False, "Vehicle class (PC, RV, CV…), when the file splits by it", default=ALL),
    ),
    keys=("brand", "model", "market", "kind", "plant", "vehicle_class", "month"),
    description="Monthly sales and exports per model and market.",
    date_column="month",
)

QUARANTINE = Table(
    "quarantine",
    (
        _c("load_id", "string", False, "The load that rejected the row"),
        _c("table_name", "string", False, "Target table"),
        _c("source_file", "string", False, "File name"),
        _c("row_number", "int64", False, "Row number in the file (1 = first data row after the header)"),
        _c("column_name", "string", True, "Offending column"),
        _c("value", "string", True, "Offending value"),
        _c("reason", "string", False, "Why the row was rejected, and what was expected"),
        _c("raw", "string", True, "The whole row as JSON"),
        _c("rejected_at", "timestamp", False, "When"),
    ),
    description="Rows rejected by ingest, with the reason.",
    kind="system",
    date_column="rejected_at",
)

LOAD_LOG = Table(
    "load_log",
    (
        _c("load_id", "string", False, "Load id"),
        _c("table_name", "string", False, "Target table"),
        _c("source_file", "string", False, "File name"),
        _c("file_sha256", "string", True, "Content hash of the file"),
        _c("rows_read", "int64", False, "Data rows read"),
        _c("inserted", "int64", False, "Rows inserted"),
        _c("updated", "int64", False, "Rows updated"),
        _c("unchanged", "int64", False, "Rows already present and identical"),
        _c("rejected", "int64", False, "Rows quarantined"),
        _c("subtotals", "int64", False, "Subtotal rows recognised and kept out"),
        _c("started_at", "timestamp", False, "When the load started"),
        _c("seconds", "float64", False, "Time taken"),
        _c("notes", "string", True, "What the loader assumed (defaults, derived keys), as a JSON list"),
    ),
    keys=("load_id",),
    description="One row per ingest run.",
    kind="system",
    date_column="started_at",
)

SCHEMA_META = Table(
    "carsight_schema",
    (
        _c("version", "int64", False, "Schema version"),
        _c("applied_at", "timestamp", False, "When it was applied"),
    ),
    description="Schema version history.",
    kind="system",
)

SOURCE_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        VEHICLES,
        CUSTOMERS,
        PURCHASES,
        LEADS,
        SERVICE_VISITS,
        CONSULTATIONS,
        CAMPAIGNS,
        CAMPAIGN_CONTACTS,
        SALES_MONTHLY,
    )
}
SYSTEM_TABLES: dict[str, Table] = {t.name: t for t in (QUARANTINE, LOAD_LOG, SCHEMA_META)}


def result_tables() -> dict[str, Table]:
    """Result tables declared by the domain packages (``warehouse/results_*.py``)."""
    from carsight.warehouse import results

    return results.all_result_tables()


def all_tables() -> dict[str, Table]:
    return {**SOURCE_TABLES, **SYSTEM_TABLES, **result_tables()}


def get_table(name: str) -> Table:
    tables = all_tables()
    if name not in tables:
        from carsight.errors import InputError

        raise InputError(f"unknown table '{name}'", expected="one of " + ", ".join(sorted(SOURCE_TABLES)))
    return tables[name]
