"""Outcomes to learn, observed in the window [cutoff, cutoff + horizon) after a features cutoff.

Repurchase, response to a campaign contact sent in the window, and churn (no activity at all). Each
returns ``customer_id, cutoff, label`` for its population, as Ibis expressions run in the warehouse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ibis
import ibis.expr.datatypes as dt_
import ibis.expr.types as ir
import pandas as pd

from carsight.customers.features import CUTOFF, ID, _as_date
from carsight.errors import InputError
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S

TARGETS = ("repurchase", "response", "churn")
ACTIVE_LOOKBACK_DAYS = 365


def _window(cutoff, horizon_days: int) -> tuple[dt.date, dt.date]:
    if horizon_days <= 0:
        raise InputError(
            f"horizon must be positive, got {horizon_days} days", column="horizon_days", expected="days > 0"
        )
    start = _as_date(cutoff)
    return start, start + dt.timedelta(days=int(horizon_days))


def repurchase_expr(wh: Warehouse, cutoff, horizon_days: int) -> ir.Table:
    """Customers with a purchase before the cutoff; label 1 when they buy again in the window."""
    start, end = _window(cutoff, horizon_days)
    pur = wh.table(S.PURCHASES.name)
    buys = pur.filter((pur.amount > 0) & (pur.purchase_date < end))
    # One pass per customer (no IN-subquery: Spark plans those as slow joins).
    per = buys.group_by(ID).aggregate(
        before=(buys.purchase_date < start).any(), after=(buys.purchase_date >= start).any()
    )
    per = per.filter(per.before)
    return per.select(ID, label=per.after.cast("int64"), **{CUTOFF: ibis.date(start)})


def response_expr(wh: Warehouse, cutoff, horizon_days: int) -> ir.Table:
    """Customers contacted by a campaign in the window; label 1 when they responded to any of those contacts."""
    start, end = _window(cutoff, horizon_days)
    cc = wh.table(S.CAMPAIGN_CONTACTS.name)
    sent = cc.sent_at.cast("date")
    window = cc.filter((sent >= start) & (sent < end))
    agg = window.group_by(ID).aggregate(label=window.responded.fill_null(False).cast("int64").max())
    return agg.mutate(**{CUTOFF: ibis.date(start)})


def _activity(wh: Warehouse) -> ir.Table:
    """Every dated customer event (purchases, leads, service, consultations, campaign responses)."""
    pur = wh.table(S.PURCHASES.name)
    leads = wh.table(S.LEADS.name)
    svc = wh.table(S.SERVICE_VISITS.name)
    con = wh.table(S.CONSULTATIONS.name)
    cc = wh.table(S.CAMPAIGN_CONTACTS.name)
    key, day = dt_.String(nullable=True), dt_.Date(nullable=True)
    parts = [
        pur.select(customer_id=pur[ID].cast(key), day=pur.purchase_date.cast(day)),
        leads.select(customer_id=leads[ID].cast(key), day=leads.lead_date.cast(day)),
        svc.select(customer_id=svc[ID].cast(key), day=svc.visit_date.cast(day)),
        con.select(customer_id=con[ID].cast(key), day=con.consulted_at.cast(day)),
        cc.filter(cc.responded.fill_null(False)).select(customer_id=cc[ID].cast(key), day=cc.responded_at.cast(day)),
    ]
    events = ibis.union(*parts)
    return events.filter(events[ID].notnull() & events.day.notnull())


def churn_expr(wh: Warehouse, cutoff, horizon_days: int) -> ir.Table:
    """Customers active in the year before the cutoff; label 1 when they show no activity in the window."""
    start, end = _window(cutoff, horizon_days)
    events = _activity(wh)
    events = events.filter((events.day >= start - dt.timedelta(days=ACTIVE_LOOKBACK_DAYS)) & (events.day < end))
    # One pass per customer (no NOT IN-subquery: Spark plans those as slow null-aware joins).
    per = events.group_by(ID).aggregate(active=(events.day < start).any(), later=(events.day >= start).any())
    per = per.filter(per.active)
    return per.select(ID, label=(~per.later).cast("int64"), **{CUTOFF: ibis.date(start)})


_BUILDERS = {"repurchase": repurchase_expr, "response": response_expr, "churn": churn_expr}


def target_expr(wh: Warehouse, target: str, cutoff, horizon_days: int) -> ir.Table:
    """The labels of ``target`` (one of :data:`TARGETS`) at one cutoff; ``InputError`` for another name."""
    if target not in _BUILDERS:
        raise InputError(f"unknown target '{target}'", column="target", expected="one of " + ", ".join(TARGETS))
    return _BUILDERS[target](wh, cutoff, horizon_days)


def build_labels(
    wh: Warehouse,
    target: str,
    cutoffs,
    horizon_days: int,
    *,
    sample: Callable[[ir.Column], ir.BooleanValue] | None = None,
) -> pd.DataFrame:
    """Labels for several cutoffs, stacked: customer_id, cutoff, label.

    Only the customers ``sample`` (a condition on the customer id) holds for; every customer for None.
    """
    if not isinstance(cutoffs, (list, tuple)):
        cutoffs = [cutoffs]
    # Every cutoff in one query: on Spark each query costs seconds of planning and scheduling.
    labels = ibis.union(*[target_expr(wh, target, c, horizon_days) for c in cutoffs])
    frame = (labels if sample is None else labels.filter(sample(labels[ID]))).to_pandas()
    frame[CUTOFF] = pd.to_datetime(frame[CUTOFF])
    frame["label"] = frame["label"].astype("int64")
    return frame[[ID, CUTOFF, "label"]]


def last_event_date(wh: Warehouse) -> dt.date | None:
    """The latest dated event of any kind: scores refer to the day after it."""
    value = _activity(wh).day.max().to_pyarrow().as_py()
    return value
