"""The canonical schema: the single source of carsight's table and column names and types.

Source tables hold what companies load (through ``carsight ingest``); system tables hold
load bookkeeping; result tables (declared by each area in ``warehouse/results_<area>.py`` and
collected in ``warehouse/results.py``) hold what the pipeline computes for the dashboard and API.
Columns are declared with :func:`carsight.warehouse.tables.column`. Bump ``SCHEMA_VERSION`` when a
source or system table changes; ``carsight init`` migrates additively (new tables, new columns).
"""

from __future__ import annotations

from carsight.errors import InputError
from carsight.warehouse.results import RESULT_TABLES
from carsight.warehouse.tables import COUNT, MONEY, MONTH, Table, column
from carsight.warehouse.tables import PLAIN as PLAIN  # re-exported: the loader reads roles here
from carsight.warehouse.tables import Column as Column  # re-exported for type hints

SCHEMA_VERSION = 5  # 4: events; 5: dealers and dealer_code

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
        column("model", "string", "Model name as sold (e.g. 'Tucson')", nullable=False),
        column("brand", "string", "Brand (e.g. 'Hyundai', 'Genesis'), when the file says"),
        column("segment", "string", "Market segment (A–F, or a maker's own label such as 준대형)"),
        column("body_type", "string", "Body type", allowed=BODY_TYPES),
        column("powertrain", "string", "Powertrain", allowed=POWERTRAINS),
        column("launch_month", "date", "First month on sale", role=MONTH),
        column("discontinued_month", "date", "Last month on sale, if discontinued", role=MONTH),
        column("base_price", "int64", "Base price in KRW", role=MONEY),
        column("eco_friendly", "boolean", "Counted as an eco-friendly car (친환경차)"),
    ),
    keys=("model",),
    description="The model line-up.",
    date_column="launch_month",
)

DEALERS = Table(
    "dealers",
    (
        column("dealer_code", "string", "Dealer code (what dealer_code in other tables refers to)", nullable=False),
        column("name", "string", "Dealer or showroom name (e.g. '서울 강남지점')"),
        column("region", "string", "Region (시/도) the dealer is in"),
        column("branch", "string", "Sales branch or district the dealer reports to (e.g. '수도권')"),
    ),
    keys=("dealer_code",),
    description="The dealers (showrooms, agencies) whose customers and records carry their dealer_code.",
)


def _dealer_code(what: str) -> Column:
    """The ``dealer_code`` column of a table of records: the dealer a row belongs to (row-level access)."""
    return column("dealer_code", "string", f"Dealer (dealers.dealer_code) {what}")


CUSTOMERS = Table(
    "customers",
    (
        column("customer_id", "string", "Customer number", nullable=False),
        column("name", "string", "Full name (personal data)"),
        column("gender", "string", "M or F", allowed=GENDERS),
        column("birth_year", "int64", "Year of birth"),
        column("region", "string", "Region (시/도)"),
        column("join_date", "date", "Date the customer was first registered"),
        column("channel", "string", "Acquisition channel (showroom, web, referral, …)"),
        column("email", "string", "E-mail address (personal data)"),
        column("phone", "string", "Phone number (personal data)"),
        column("marketing_opt_in", "boolean", "Consented to marketing contact"),
        _dealer_code("that looks after the customer"),
    ),
    keys=("customer_id",),
    description="One row per customer.",
    date_column="join_date",
)

PURCHASES = Table(
    "purchases",
    (
        column("purchase_id", "string", "Contract or invoice number", nullable=False),
        column("customer_id", "string", "Customer number", nullable=False),
        column("purchase_date", "date", "Contract or delivery date", nullable=False),
        column("brand", "string", "Brand"),
        column("model", "string", "Model", nullable=False),
        column("amount", "float64", "Transaction amount in KRW (refunds negative)", nullable=False, role=MONEY),
        column("payment_type", "string", "Payment type", allowed=PAYMENT_TYPES),
        column("payment_detail", "string", "The file's own payment word when payment_type is 'other'"),
        column("dealer", "string", "Dealer or branch"),
        column("channel", "string", "Sales channel"),
        _dealer_code("that sold the car"),
    ),
    keys=("purchase_id",),
    description="Vehicle purchases.",
    date_column="purchase_date",
)

LEADS = Table(
    "leads",
    (
        column("lead_id", "string", "Lead number", nullable=False),
        column("customer_id", "string", "Customer number, when known"),
        column("lead_date", "date", "Date of the lead", nullable=False),
        column("lead_type", "string", "test_drive, web_inquiry, quote, showroom_visit, …"),
        column("model", "string", "Model of interest"),
        column("channel", "string", "Channel (web, app, BDC, showroom, …)"),
        column("status", "string", "open, won, lost"),
        _dealer_code("handling the lead"),
    ),
    keys=("lead_id",),
    description="Test drives, web inquiries and other leads.",
    date_column="lead_date",
)

SERVICE_VISITS = Table(
    "service_visits",
    (
        column("visit_id", "string", "Repair order number", nullable=False),
        column("customer_id", "string", "Customer number"),
        column("visit_date", "date", "Date of the visit", nullable=False),
        column("model", "string", "Model serviced"),
        column("service_type", "string", "maintenance, repair, warranty, recall, …"),
        column("amount", "float64", "Amount paid in KRW", role=MONEY),
        column("mileage_km", "int64", "Odometer in km", role=COUNT),
        _dealer_code("that did the service"),
    ),
    keys=("visit_id",),
    description="Service and repair visits.",
    date_column="visit_date",
)

CONSULTATIONS = Table(
    "consultations",
    (
        column("consultation_id", "string", "Consultation number", nullable=False),
        column("customer_id", "string", "Customer number, when known"),
        column("consulted_at", "timestamp", "When the consultation happened", nullable=False),
        column("model", "string", "Model the customer called about"),
        column("channel", "string", "phone, chat, email, app, …"),
        column("category", "string", "Topic label given by the agent, if any"),
        column("text", "string", "What the customer said (masked unless configured otherwise)"),
        _dealer_code("the consultation was passed to (usually the customer's)"),
    ),
    keys=("consultation_id",),
    description="Call-centre consultations and complaints.",
    date_column="consulted_at",
)

CAMPAIGNS = Table(
    "campaigns",
    (
        column("campaign_id", "string", "Campaign id", nullable=False),
        column("name", "string", "Campaign name"),
        column("channel", "string", "email, sms, dm, call, …"),
        column("start_date", "date", "First contact date"),
        column("end_date", "date", "Last response date counted"),
        column("goal", "string", "repurchase, service, test_drive, …"),
        column("offer", "string", "What was offered"),
        column("cost_per_contact", "float64", "Cost of one contact in KRW", role=MONEY),
    ),
    keys=("campaign_id",),
    description="Marketing campaigns.",
    date_column="start_date",
)

CAMPAIGN_CONTACTS = Table(
    "campaign_contacts",
    (
        column("campaign_id", "string", "Campaign id", nullable=False),
        column("customer_id", "string", "Customer number", nullable=False),
        column("sent_at", "timestamp", "When the contact was sent"),
        column("opened", "boolean", "Opened the message"),
        column("responded", "boolean", "Responded (visit, test drive, purchase…)"),
        column("responded_at", "timestamp", "When they responded"),
    ),
    keys=("campaign_id", "customer_id"),
    description="Who was contacted by which campaign and how they reacted.",
    date_column="sent_at",
)

SALES_MONTHLY = Table(
    "sales_monthly",
    (
        column("brand", "string", "Brand", nullable=False),
        column("model", "string", "Model", nullable=False),
        column("market", "string", "Country or market", nullable=False),
        column("kind", "string", "domestic, export, overseas_plant or retail", nullable=False, allowed=SALES_KINDS),
        column("month", "date", "Month (first day)", nullable=False, role=MONTH),
        column(
            "units",
            "int64",
            "Units sold or shipped (corrections may be negative)",
            nullable=False,
            role=COUNT,
            signed=True,
        ),
        column(
            "plant", "string", "Plant the units came from, when the file splits by plant", nullable=False, default=ALL
        ),
        column(
            "vehicle_class",
            "string",
            "Vehicle class (PC, RV, CV…), when the file splits by it",
            nullable=False,
            default=ALL,
        ),
    ),
    keys=("brand", "model", "market", "kind", "plant", "vehicle_class", "month"),
    description="Monthly sales and exports per model and market.",
    date_column="month",
)

# What moves sales besides the season and the trend (docs/market.md, "Events").
EVENT_KINDS = ("launch", "incentive", "tax", "shock", "other")

EVENTS = Table(
    "events",
    (
        column("name", "string", "Event name; occurrences of a recurring event share it", nullable=False),
        column("start", "date", "First month of the event", nullable=False, role=MONTH),
        column("end", "date", "Last month, inclusive (= start for a one-month event)", nullable=False, role=MONTH),
        column("kind", "string", "launch, incentive, tax, shock or other", nullable=False, allowed=EVENT_KINDS),
        column("market", "string", "Market it applies to ((all): every market)", nullable=False, default=ALL),
        column("model", "string", "Model it applies to ((all): every model)", nullable=False, default=ALL),
        column("brand", "string", "Brand it applies to ((all): every brand)", nullable=False, default=ALL),
    ),
    keys=("name", "start", "market", "model", "brand"),
    description="Declared events that move sales: launches, incentives, tax changes, shocks.",
    date_column="start",
)

QUARANTINE = Table(
    "quarantine",
    (
        column("load_id", "string", "The load that rejected the row", nullable=False),
        column("table_name", "string", "Target table", nullable=False),
        column("source_file", "string", "File name", nullable=False),
        column("row_number", "int64", "Row number in the file (1 = first data row after the header)", nullable=False),
        column("column_name", "string", "Offending column"),
        column("value", "string", "Offending value"),
        column("reason", "string", "Why the row was rejected, and what was expected", nullable=False),
        column("raw", "string", "The whole row as JSON"),
        column("rejected_at", "timestamp", "When", nullable=False),
    ),
    description="Rows rejected by ingest, with the reason.",
    kind="system",
    date_column="rejected_at",
)

LOAD_LOG = Table(
    "load_log",
    (
        column("load_id", "string", "Load id", nullable=False),
        column("table_name", "string", "Target table", nullable=False),
        column("source_file", "string", "File name", nullable=False),
        column("file_sha256", "string", "Content hash of the file"),
        column("rows_read", "int64", "Data rows read", nullable=False),
        column("inserted", "int64", "Rows inserted", nullable=False),
        column("updated", "int64", "Rows updated", nullable=False),
        column("unchanged", "int64", "Rows already present and identical", nullable=False),
        column("rejected", "int64", "Rows quarantined", nullable=False),
        column("subtotals", "int64", "Subtotal rows recognised and kept out", nullable=False),
        column("started_at", "timestamp", "When the load started", nullable=False),
        column("seconds", "float64", "Time taken", nullable=False),
        column("notes", "string", "What the loader assumed (defaults, derived keys), as a JSON list"),
    ),
    keys=("load_id",),
    description="One row per ingest run.",
    kind="system",
    date_column="started_at",
)

SCHEMA_META = Table(
    "carsight_schema",
    (
        column("version", "int64", "Schema version", nullable=False),
        column("applied_at", "timestamp", "When it was applied", nullable=False),
    ),
    description="Schema version history.",
    kind="system",
)

# Pipeline step states, in the order a step goes through them.
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"

PIPELINE_STATUS = Table(
    "pipeline_status",
    (
        column("run_id", "string", "The pipeline run", nullable=False),
        column("position", "int64", "Order of the step in the run (1 = first)", nullable=False),
        column("step", "string", "Step name (customers, propensity, market, voc, …)", nullable=False),
        column(
            "status",
            "string",
            "pending, running, done or failed",
            nullable=False,
            allowed=(PENDING, RUNNING, DONE, FAILED),
        ),
        column("tables", "string", "Result tables the step writes, comma-separated", nullable=False),
        column("started_at", "timestamp", "When the step started"),
        column("finished_at", "timestamp", "When it finished or failed"),
        column("seconds", "float64", "Time taken"),
        column("message", "string", "Why it failed"),
    ),
    keys=("run_id", "step"),
    description="The steps of the latest pipeline run and where each stands (pages say what is being computed).",
    kind="system",
    date_column="started_at",
)

SOURCE_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        VEHICLES,
        DEALERS,
        CUSTOMERS,
        PURCHASES,
        LEADS,
        SERVICE_VISITS,
        CONSULTATIONS,
        CAMPAIGNS,
        CAMPAIGN_CONTACTS,
        SALES_MONTHLY,
        EVENTS,
    )
}
SYSTEM_TABLES: dict[str, Table] = {t.name: t for t in (QUARANTINE, LOAD_LOG, SCHEMA_META, PIPELINE_STATUS)}

ALL_TABLES: dict[str, Table] = {**SOURCE_TABLES, **SYSTEM_TABLES, **RESULT_TABLES}
if len(ALL_TABLES) != len(SOURCE_TABLES) + len(SYSTEM_TABLES) + len(RESULT_TABLES):
    raise RuntimeError("a result table has the name of a source or system table")


def all_tables() -> dict[str, Table]:
    """Every table carsight knows, by name: source, system and result tables."""
    return dict(ALL_TABLES)


def get_table(name: str) -> Table:
    """The table called ``name``.

    Raises
    ------
    InputError
        For a name that is no source, system or result table; the message lists them all.
    """
    if name not in ALL_TABLES:
        known = "; ".join(
            f"{kind}: {', '.join(sorted(tables))}"
            for kind, tables in (("source", SOURCE_TABLES), ("system", SYSTEM_TABLES), ("result", RESULT_TABLES))
        )
        raise InputError(f"unknown table '{name}'", expected=f"a table of the schema ({known})")
    return ALL_TABLES[name]
