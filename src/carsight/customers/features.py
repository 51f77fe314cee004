"""Point-in-time customer features as of a cutoff date, built in the warehouse with Ibis.

Built from events strictly before the cutoff, so a model trained on past cutoffs never sees its own future: activity
counts and amounts over 3/6/12/24 months, recent-versus-previous trends, recency per event type,
tenure, age of the current vehicle, point-in-time RFM, and the customer's static attributes.

A campaign response counts only once it has happened (``responded_at`` before the cutoff), and an
"opened" flag only for contacts sent at least ``OPEN_LAG_DAYS`` before it, because the flag has no
timestamp of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from carsight.customers.rfm import rfm_table
from carsight.errors import ModelError
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S

WINDOWS = (90, 180, 365, 730)  # ≈ 3, 6, 12, 24 months
OPEN_LAG_DAYS = 14
ID = "customer_id"
CUTOFF = "cutoff"

# On a distributed warehouse, the customers whose rows come to the driver to fit a model or mine
# rules: at 100,000 customers and nine cutoffs the training frames hold about a million rows of sixty
# features (a few hundred MB in pandas), and the holdout AUROC has a standard error below 0.005.
SAMPLE_CUSTOMERS = 100_000
# A hash of the customer id in this many buckets draws a sample.
HASH_BUCKETS = 10_000

# Categorical features (strings); everything else is numeric.
CATEGORICAL = ("gender", "region", "channel", "current_model")


# Feature → catalogue key for reasons in words (i18n/value.toml, "value.feature.<name>").
def descriptions(features: Iterable[str]) -> dict[str, str]:
    """The message-catalogue key that describes each feature, for the features that have one."""
    from carsight.i18n import catalogue

    known = catalogue()
    return {f: f"value.feature.{f}" for f in features if f"value.feature.{f}" in known}


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _window(date: ir.DateValue, cut: ir.DateValue, days: int) -> ir.BooleanValue:
    """The event falls in the ``days`` before the cutoff (events are already before it)."""
    return date >= cut - ibis.interval(days=days)


def _since(cut: ir.DateValue, column: ir.DateValue) -> ir.IntegerValue:
    return cut.delta(column, unit="day")


def _window_counts(
    table: ir.Table, date: ir.DateValue, key: ir.Column, prefix: str, extra: dict | None = None
) -> ir.Table:
    """Counts per window, the previous-90-days count (for trends) and the last event date."""
    cut = table[CUTOFF]
    aggs = {f"{prefix}_{w}d": key.count(where=_window(date, cut, w)) for w in WINDOWS}
    aggs[f"{prefix}_prev90d"] = key.count(where=_window(date, cut, 180) & ~_window(date, cut, 90))
    aggs[f"{prefix}_total"] = key.count()
    aggs[f"_last_{prefix}"] = date.max()
    aggs.update(extra or {})
    return table.group_by([ID, CUTOFF]).aggregate(**aggs)


def _upto(table: ir.Table, cuts: ir.Table, date_of) -> ir.Table:
    """Each event paired with every cutoff it precedes (the point-in-time join)."""
    paired = table.cross_join(cuts)
    return paired.filter(date_of(paired) < paired[CUTOFF])


def feature_expr(wh: Warehouse, cutoffs) -> ir.Table:
    """One row per customer and cutoff, with every feature except RFM, as one Ibis expression.

    Every customer known before the cutoff (joined before it, or with an earlier purchase); all
    cutoffs in one query, since compiling is the slow part for small data.
    """
    if not isinstance(cutoffs, (list, tuple)):
        cutoffs = [cutoffs]
    dates = sorted({_as_date(c) for c in cutoffs})
    cuts = ibis.memtable(pd.DataFrame({CUTOFF: pd.to_datetime(dates)})).select(**{CUTOFF: ibis._[CUTOFF].cast("date")})
    cust = wh.table(S.CUSTOMERS.name)
    pur = wh.table(S.PURCHASES.name)
    leads = wh.table(S.LEADS.name)
    svc = wh.table(S.SERVICE_VISITS.name)
    con = wh.table(S.CONSULTATIONS.name)
    cc = wh.table(S.CAMPAIGN_CONTACTS.name)

    # --- purchases (amount > 0 is a purchase; refunds only lower the amounts, as in RFM) -----------
    p = _upto(pur, cuts, lambda t: t.purchase_date)
    is_buy = p.amount > 0
    p_agg = p.group_by([ID, CUTOFF]).aggregate(
        purchases_365d=p.purchase_id.count(where=is_buy & _window(p.purchase_date, p[CUTOFF], 365)),
        purchases_730d=p.purchase_id.count(where=is_buy & _window(p.purchase_date, p[CUTOFF], 730)),
        purchases_total=p.purchase_id.count(where=is_buy),
        amount_730d=p.amount.sum(where=_window(p.purchase_date, p[CUTOFF], 730)),
        amount_total=p.amount.sum(),
        last_purchase_amount=p.amount.argmax(ibis.ifelse(is_buy, p.purchase_date, None)),
        current_model=p.model.argmax(ibis.ifelse(is_buy, p.purchase_date, None)),
        _last_purchase=p.purchase_date.max(where=is_buy),
        _first_purchase=p.purchase_date.min(where=is_buy),
    )

    # --- leads ---------------------------------------------------------------------------------
    ld = _upto(leads.filter(leads[ID].notnull()), cuts, lambda t: t.lead_date)
    is_td = ld.lead_type.lower() == "test_drive"
    l_agg = _window_counts(
        ld,
        ld.lead_date,
        ld.lead_id,
        "leads",
        {
            "test_drives_90d": ld.lead_id.count(where=is_td & _window(ld.lead_date, ld[CUTOFF], 90)),
            "test_drives_365d": ld.lead_id.count(where=is_td & _window(ld.lead_date, ld[CUTOFF], 365)),
            "_last_test_drive": ld.lead_date.max(where=is_td),
        },
    )

    # --- service visits ------------------------------------------------------------------------
    sv = _upto(svc.filter(svc[ID].notnull()), cuts, lambda t: t.visit_date)
    s_agg = _window_counts(
        sv,
        sv.visit_date,
        sv.visit_id,
        "service",
        {
            "service_amount_365d": sv.amount.sum(where=_window(sv.visit_date, sv[CUTOFF], 365)),
            "mileage_km": sv.mileage_km.max(),
        },
    )

    # --- consultations -------------------------------------------------------------------------
    cs = _upto(con.filter(con[ID].notnull()).mutate(_day=con.consulted_at.cast("date")), cuts, lambda t: t._day)
    c_agg = _window_counts(cs, cs._day, cs.consultation_id, "consults")

    # --- campaign contacts ---------------------------------------------------------------------
    ct = _upto(cc.mutate(_day=cc.sent_at.cast("date")), cuts, lambda t: t._day)
    cut = ct[CUTOFF]
    responded = ct.responded.fill_null(False) & ct.responded_at.notnull() & (ct.responded_at.cast("date") < cut)
    opened_known = ct.opened.fill_null(False) & (ct._day < cut - ibis.interval(days=OPEN_LAG_DAYS))
    k_agg = ct.group_by([ID, CUTOFF]).aggregate(
        contacts_365d=ct.campaign_id.count(where=_window(ct._day, cut, 365)),
        contacts_total=ct.campaign_id.count(),
        opens_365d=ct.campaign_id.count(where=opened_known & _window(ct._day, cut, 365)),
        responses_365d=ct.campaign_id.count(where=responded & _window(ct._day, cut, 365)),
        responses_total=ct.campaign_id.count(where=responded),
        _last_response=ct.responded_at.cast("date").max(where=responded),
    )

    # --- population and static attributes ------------------------------------------------------
    base = cust.cross_join(cuts)
    base = base.filter(base.join_date.isnull() | (base.join_date < base[CUTOFF]))
    out = base.select(
        ID,
        CUTOFF,
        gender=base.gender,
        region=base.region,
        channel=base.channel,
        age=base[CUTOFF].year() - base.birth_year,
        marketing_opt_in=base.marketing_opt_in.cast("int64"),
        _join=base.join_date,
    )
    for agg in (p_agg, l_agg, s_agg, c_agg, k_agg):
        out = out.left_join(agg, [ID, CUTOFF]).drop(f"{ID}_right", f"{CUTOFF}_right")
    # Customers without a join date exist from their first purchase on.
    out = out.filter(out._join.notnull() | out._first_purchase.notnull())

    counted = ("purchases", "leads", "test", "service", "consults", "contacts", "opens", "responses")
    zero_fill = [c for c in out.columns if c.split("_")[0] in counted and not c.startswith("_")]
    cut = out[CUTOFF]
    first_seen = ibis.coalesce(out._join, out._first_purchase)
    derived = {c: out[c].fill_null(0) for c in zero_fill}
    derived.update(
        amount_730d=out.amount_730d.fill_null(0),
        amount_total=out.amount_total.fill_null(0),
        tenure_days=_since(cut, first_seen),
        vehicle_age_days=_since(cut, out._last_purchase),
        days_since_first_purchase=_since(cut, out._first_purchase),
        days_since_lead=_since(cut, out._last_leads),
        days_since_test_drive=_since(cut, out._last_test_drive),
        days_since_service=_since(cut, out._last_service),
        days_since_consult=_since(cut, out._last_consults),
        days_since_response=_since(cut, out._last_response),
    )
    out = out.mutate(**derived)
    # Trends: last 3 months against the 3 months before (a difference and a smoothed ratio).
    trends = {}
    for prefix in ("leads", "service", "consults"):
        now, before = out[f"{prefix}_90d"], out[f"{prefix}_prev90d"]
        trends[f"{prefix}_trend_90d"] = now - before
        trends[f"{prefix}_ratio_90d"] = (now + 1).cast("float64") / (before + 1).cast("float64")
    trends["response_rate"] = ibis.ifelse(
        out.contacts_total > 0, out.responses_total.cast("float64") / out.contacts_total.cast("float64"), None
    )
    trends["leads_per_month_365d"] = out.leads_365d.cast("float64") / 12.0
    out = out.mutate(**trends)
    return out.drop(*[c for c in out.columns if c.startswith("_")])


def rfm_expr(wh: Warehouse, cutoff: dt.date) -> ir.Table:
    """RFM scores as of the cutoff (the same rules as the RFM pages), one row per customer, with the cutoff."""
    rfm = rfm_table(wh.table(S.PURCHASES.name), cutoff).select(ID, *RFM_FEATURES)
    return rfm.mutate(**{CUTOFF: ibis.date(_as_date(cutoff))})


RFM_FEATURES = ("r_score", "f_score", "m_score", "rfm_score")


def model_rows_expr(wh: Warehouse, cutoff: dt.date) -> ir.Table:
    """Every feature of every customer known at one cutoff, RFM included, as one expression.

    What :func:`build_features` brings to pandas, left in the warehouse (scored there on Spark).
    """
    features = feature_expr(wh, [cutoff])
    rfm = rfm_expr(wh, cutoff).drop(CUTOFF)
    joined = features.left_join(rfm, ID)
    return joined.select(*features.columns, *RFM_FEATURES)


def build_features(
    wh: Warehouse, cutoffs, *, sample: Callable[[ir.Column], ir.BooleanValue] | None = None
) -> pd.DataFrame:
    """Features for one or more cutoffs, stacked (a ``cutoff`` column tells them apart).

    In a fixed column order and sorted by cutoff and customer.

    ``sample``, a condition on the customer id, keeps only the customers it holds for (a bounded
    training sample on a big warehouse); None keeps every customer.
    """
    if not isinstance(cutoffs, (list, tuple)):
        cutoffs = [cutoffs]
    dates = sorted({_as_date(c) for c in cutoffs})
    expr = feature_expr(wh, dates)
    if sample is not None:
        expr = expr.filter(sample(expr[ID]))
    frame = expr.to_pandas()
    frame[CUTOFF] = pd.to_datetime(frame[CUTOFF])
    # Every cutoff's RFM in one query: on Spark each query costs seconds of planning and scheduling.
    scores = ibis.union(*[rfm_expr(wh, cutoff) for cutoff in dates])
    if sample is not None:
        scores = scores.filter(sample(scores[ID]))
    rfm = scores.to_pandas()
    rfm[CUTOFF] = pd.to_datetime(rfm[CUTOFF])
    if len(rfm):
        frame = frame.merge(rfm, on=[ID, CUTOFF], how="left")
    else:
        for name in RFM_FEATURES:
            frame[name] = float("nan")
    return typed_features(frame)


def customer_sample(count: int, limit: int) -> Callable[[ir.Column], ir.BooleanValue] | None:
    """A condition on the customer id that holds for about ``limit`` of ``count`` customers.

    The customers are drawn by a hash of the id (the same ones on every run); None when every
    customer fits.
    """
    if count <= limit:
        return None
    kept = max(1, limit * HASH_BUCKETS // count)
    return lambda column: (column.hash() % HASH_BUCKETS).abs() < kept


def typed_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Feature rows as the models see them: numbers as float64, categories as text.

    Sorted by cutoff and customer, the keys first and the features in name order.
    """
    for name in frame.columns:
        if name in (ID, CUTOFF) or name in CATEGORICAL:
            continue
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in CATEGORICAL:
        frame[name] = frame[name].astype("object")
    frame = frame.sort_values([CUTOFF, ID], kind="stable").reset_index(drop=True)
    return frame[[ID, CUTOFF] + sorted(c for c in frame.columns if c not in (ID, CUTOFF))]


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model inputs: every column except the keys."""
    return [c for c in frame.columns if c not in (ID, CUTOFF)]


def model_frame(batch: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """A batch of feature rows typed as the model saw them in training (numbers as float64, categories as text).

    The conversion of :func:`typed_features`, for the model's columns only and without sorting: a
    batch scored apart (on an executor, or one of many on DuckDB) keeps its order.
    """
    out = pd.DataFrame(index=batch.index)
    for name in features:
        if name not in batch.columns:
            raise ModelError(f"the model needs feature '{name}', which the feature rows lack")
        values = batch[name]
        if name in CATEGORICAL:
            out[name] = values.astype("object")
        else:
            out[name] = pd.to_numeric(values, errors="coerce").astype("float64")
    return out
