"""The "triggers" pipeline step.

Trigger conditions for repurchase from leads, service visits, campaign contacts and consultations.
Features are the point-in-time features of ``customers.features`` at a reference date one outcome
horizon before the data ends (events strictly before it); the outcome is a purchase in the horizon
after it, so nothing a rule uses comes from its own future. The rules go to ``trigger_rules``; the
same features as of today go to ``trigger_features``, so a rule becomes a target list (dashboard
Campaigns page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from carsight.config import Settings
from carsight.customers import features as F
from carsight.customers import targets as T
from carsight.customers.triggers import TriggerMiner
from carsight.warehouse import Warehouse
from carsight.warehouse import results_insights as R
from carsight.warehouse import schema as S

TARGET = "repurchase"
HORIZON_DAYS = 180
MAX_CONDITIONS = 3
# Support floor: a rule must hold for at least this many responders (and 0.1% of customers), so
# a rule is never read off a handful of cases.
MIN_RESPONDERS = 20
MIN_SUPPORT_FLOOR = 0.001
# Cut points in the words marketers use: days since an event (within 30 days, 3 months, …), whole
# counts (at least 1, 2, 3), a car's age in years (1, 3, 5, 7). Mileage is cut at its quartiles.
_DAYS = (30, 90, 180, 365)
CUTS = {
    "leads_90d": (1, 2, 3),
    "test_drives_90d": (1, 2),
    "days_since_lead": _DAYS,
    "days_since_test_drive": _DAYS,
    "service_180d": (1, 2),
    "days_since_service": _DAYS,
    "contacts_365d": (1, 2),
    "opens_365d": (1, 2),
    "responses_365d": (1,),
    "days_since_response": _DAYS,
    "consults_90d": (1, 2),
    "days_since_consult": _DAYS,
    "vehicle_age_days": (365, 1095, 1825, 2555),
    "purchases_total": (2, 3),
}
# "Within N days" and "older than N days" read as x<=N / x>N; counts as "at least".
CLOSED = {name: ("right" if name.startswith("days_since") or name == "vehicle_age_days" else "left") for name in CUTS}


def reference_date(as_of: dt.date, horizon_days: int = HORIZON_DAYS) -> dt.date:
    """The reference date the rules are mined at.

    The latest first-of-month whose outcome window ends before ``as_of`` (the same choice as the
    propensity step's holdout cutoff).
    """
    from carsight.customers.value_pipeline import TargetSpec, plan_cutoffs

    return plan_cutoffs(as_of, dt.date.min, TargetSpec(TARGET, horizon_days))["test"]


def training_rows(
    wh: Warehouse, reference: dt.date, *, sample: Callable[[ir.Column], ir.BooleanValue] | None = None
) -> pd.DataFrame:
    """The trigger features at the reference date with the outcome (``label``), sorted by customer.

    For customers who own a car (bought before the date); with ``sample`` (a condition on the
    customer id), only those it holds for.
    """
    columns = list(R.TRIGGER_FEATURE_COLUMNS)
    expr = F.feature_expr(wh, [reference])
    labels = T.repurchase_expr(wh, reference, HORIZON_DAYS)
    if sample is not None:
        expr, labels = expr.filter(sample(expr[F.ID])), labels.filter(sample(labels[F.ID]))
    frame = expr.select(F.ID, *columns).to_pandas()
    for name in columns:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    past = frame.merge(labels.select(F.ID, "label").to_pandas(), on=F.ID, how="inner")
    return past.sort_values(F.ID).reset_index(drop=True)


def features_today(wh: Warehouse, as_of: dt.date) -> ir.Table:
    """Each car owner's trigger features as of ``as_of``: the rows of ``trigger_features``.

    An expression the warehouse computes and writes (on Spark, the executors).
    """
    expr = F.feature_expr(wh, [as_of])
    owners = T.repurchase_expr(wh, as_of, 1).select(F.ID)
    expr = expr.semi_join(owners, F.ID)
    columns = {name: expr[name].cast("float64") for name in R.TRIGGER_FEATURE_COLUMNS}
    return expr.select(F.ID, as_of=expr[F.CUTOFF].cast("date"), **columns)


def mine_repurchase_triggers(past: pd.DataFrame, margin: float, contact_cost: float) -> TriggerMiner:
    """Mine repurchase trigger rules on the features at the reference date."""
    n = len(past)
    min_support = max(MIN_RESPONDERS / max(n, 1), MIN_SUPPORT_FLOOR)
    miner = TriggerMiner(
        max_conditions=MAX_CONDITIONS,
        min_support=min_support,
        margin=margin,
        contact_cost=contact_cost,
        cuts={k: list(v) for k, v in CUTS.items()},
        closed=CLOSED,
    )
    return miner.fit(past[list(R.TRIGGER_FEATURE_COLUMNS)], past["label"].to_numpy())


def run(wh: Warehouse, settings: Settings) -> dict:
    """Pipeline step: mine repurchase triggers at the reference date, store them and today's features."""
    from carsight.customers.value_pipeline import DEFAULT_CONTACT_COST, DEFAULT_MARGIN

    last = T.last_event_date(wh)
    if last is None:
        return {"skipped": "no purchases or events in the warehouse"}
    as_of = last + dt.timedelta(days=1)
    reference = reference_date(as_of)
    # On a distributed warehouse, rules are mined on the driver over a bounded sample of customers.
    sample = F.customer_sample(wh.count(S.CUSTOMERS.name), F.SAMPLE_CUSTOMERS) if wh.distributed else None
    past = training_rows(wh, reference, sample=sample)
    if past.empty or past["label"].sum() == 0:
        wh.replace(R.TRIGGER_RULES, pd.DataFrame(columns=R.TRIGGER_RULES.column_names))
        return {"skipped": f"no repurchase in the {HORIZON_DAYS} days after {reference}"}
    miner = mine_repurchase_triggers(past, DEFAULT_MARGIN, DEFAULT_CONTACT_COST)
    rules = miner.rules_.copy()
    rules.insert(0, "target", TARGET)
    rules.insert(1, "rank", np.arange(1, len(rules) + 1))
    rules["reference_date"] = reference
    rules["horizon_days"] = HORIZON_DAYS
    rules["base_rate"] = miner.base_rate_
    rules["population"] = miner.n_rows_
    rules["margin"] = DEFAULT_MARGIN
    rules["contact_cost"] = DEFAULT_CONTACT_COST
    wh.replace(R.TRIGGER_RULES, rules.reindex(columns=R.TRIGGER_RULES.column_names))
    wh.replace(R.TRIGGER_FEATURES, features_today(wh, as_of))
    summary = {
        "reference_date": str(reference),
        "customers": miner.n_rows_,
        "repurchase_rate": f"{miner.base_rate_:.2%}",
        "rules": f"{len(rules)} kept of {miner.n_mined_} mined over {miner.n_conditions_} conditions",
    }
    if sample is not None:
        summary["sample"] = f"rules mined over about {F.SAMPLE_CUSTOMERS:,} customers (by a hash of the id)"
    if len(rules):
        top = rules.iloc[0]
        summary["top_rule"] = f"{top.conditions} (lift {top.lift:.2f}, {int(top.customers)} customers)"
    return summary
