"""Which rows of each table a scope sees, which tables a role may read, and which columns are masked.

Row rules, decided per table from what its rows are about (:func:`row_rule`):

- ``dealer``: tables with their own ``dealer_code`` (dealers, customers, purchases, leads, service
  visits, consultations): a dealer user sees the rows of its dealer codes; a row without a dealer
  code belongs to no dealer and only the other roles see it.
- ``customer``: tables keyed by ``customer_id`` without a dealer code of their own (RFM, segments,
  propensity scores, CLV, recommendations, trigger features, campaign contacts, the delivery log,
  opt-outs, monitored scores): the rows of the customers the scope sees.
- ``consultation``: per-consultation results keyed by ``consultation_id`` (``voc_consultations``):
  the rows of the consultations the scope sees.
- ``shared``: aggregates with no customer and no dealer in a row (the line-up, campaigns, market
  sales, forecasts, events, segment profiles, model metrics, VoC daily keyword and topic counts,
  rising keywords, monitor checks): whoever may read the table sees all of it. A dealer sees the
  market it sells in; the VoC aggregates are counts over every dealer's consultations, not rows of
  any one customer, and say nothing a dealer could tie to a person.

Tables a role may not read at all (:data:`DENIED`): only admin reads load bookkeeping (file names,
rejected rows as they were written, unmasked); reports and schedules are HQ's; an agent reads the
customer desk and consultations, not the sales pipeline (leads), campaigns, targeting scores or
delivery lists. A table carsight does not know (in no schema) is admin's only.

Masks (:data:`MASKED`): for hq and agent (``Scope.masks_personal_data``), names become initials,
phones their last four digits, e-mails their first letter and domain; an agent's ``serving``
customer is shown unmasked. Consultation texts are shown as the VoC step masked them
(``voc_consultations.text_masked``; none before that step has run).
"""

from __future__ import annotations

from carsight.access.scope import ROLES
from carsight.warehouse import results_delivery as RD
from carsight.warehouse import results_insights as RI
from carsight.warehouse import results_monitor as RM
from carsight.warehouse import results_value as RV
from carsight.warehouse import results_voc as RVOC
from carsight.warehouse import schema as S

DEALER, CUSTOMER, CONSULTATION, SHARED = "dealer", "customer", "consultation", "shared"

DEALER_COLUMN = "dealer_code"
CUSTOMER_COLUMN = "customer_id"
CONSULTATION_COLUMN = "consultation_id"

# Read by admin only: load bookkeeping (source file names; rejected rows stored raw, personal data
# unmasked) and the schema history.
ADMIN_ONLY = frozenset({S.QUARANTINE.name, S.LOAD_LOG.name, S.SCHEMA_META.name})
# HQ's reports and schedules (paths, periods over every dealer).
HQ_ONLY = frozenset({RD.REPORT_RUNS.name, RD.SCHEDULE_RUNS.name})
# What a call-centre agent does not read: the sales pipeline, campaigns and their targeting.
SALES_AND_CAMPAIGNS = frozenset(
    {
        S.LEADS.name,
        S.CAMPAIGNS.name,
        S.CAMPAIGN_CONTACTS.name,
        RD.DELIVERY_LOG.name,
        RD.OPT_OUTS.name,
        RV.PROPENSITY_SCORES.name,
        RV.PROPENSITY_DECILES.name,
        RV.CUSTOMER_CLV.name,
        RI.TRIGGER_RULES.name,
        RI.TRIGGER_FEATURES.name,
        RM.MONITOR_SCORES.name,
    }
)

DENIED: dict[str, frozenset[str]] = {
    "admin": frozenset(),
    "hq": ADMIN_ONLY,
    "dealer": ADMIN_ONLY | HQ_ONLY,
    "agent": ADMIN_ONLY | HQ_ONLY | SALES_AND_CAMPAIGNS,
}
if set(DENIED) != set(ROLES):
    raise RuntimeError("every role needs its denied tables")

# Personal columns per table and the mask each gets (a key of carsight.access.masks.MASKS).
MASKED: dict[str, dict[str, str]] = {
    S.CUSTOMERS.name: {"name": "name", "phone": "phone", "email": "email"},
    RD.DELIVERY_LOG.name: {"email": "email"},
    RD.OPT_OUTS.name: {"email": "email"},
}
# Free text that may hold personal data, shown as the VoC step masked it: table -> (text column,
# the result table and column holding the masked text, keyed by the same consultation id).
MASKED_TEXT: dict[str, tuple[str, str, str]] = {
    S.CONSULTATIONS.name: ("text", RVOC.VOC_CONSULTATIONS.name, "text_masked"),
}

# Per-consultation results without a customer id of their own (the consultation says whose it is).
_BY_CONSULTATION = frozenset({RVOC.VOC_CONSULTATIONS.name})


def row_rule(name: str) -> str | None:
    """The row rule of table ``name`` (:data:`DEALER`, :data:`CUSTOMER`, :data:`CONSULTATION`, :data:`SHARED`).

    None for a table carsight does not know (only admin reads it).
    """
    table = S.ALL_TABLES.get(name)
    if table is None:
        return None
    columns = set(table.column_names)
    if DEALER_COLUMN in columns:
        return DEALER
    if CUSTOMER_COLUMN in columns:
        return CUSTOMER
    if name in _BY_CONSULTATION:
        return CONSULTATION
    return SHARED


def may_read(role: str, name: str) -> bool:
    """Whether ``role`` may read table ``name`` at all."""
    if role == "admin":
        return True
    return row_rule(name) is not None and name not in DENIED[role]
