"""Reading the result tables other areas compute into the frames the pages show.

The areas: customers, propensity, market, VoC, delivery. Tables are imported from each area's
``warehouse/results_*`` module; a table that is not in the warehouse raises
:class:`data.MissingTable`, which the page turns into a notice.
"""

from __future__ import annotations

import ibis
import pandas as pd

from carsight.dashboard import data
from carsight.dashboard.data import MissingTable, Reader, _cache
from carsight.i18n import t
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import (
    CUSTOMER_RFM,
    CUSTOMER_SEGMENTS,
    RECOMMENDATION_EVAL,
    RECOMMENDATIONS,
    SEGMENT_K_CURVE,
    SEGMENT_PROFILES,
)
from carsight.warehouse.results_delivery import DELIVERY_LOG
from carsight.warehouse.results_insights import TRIGGER_FEATURES
from carsight.warehouse.results_market import FORECAST_BACKTEST, FORECAST_CHOICE
from carsight.warehouse.results_value import PROPENSITY_SCORES
from carsight.warehouse.results_voc import VOC_CONSULTATIONS, VOC_RISING


# ---- customers ---------------------------------------------------------------------------------
def rfm_groups(r: Reader) -> pd.DataFrame:
    """Customers per dealer group (VIP, Regular, New, Churn risk)."""
    return data.value_counts(r, CUSTOMER_RFM.name, "group")


def rfm_distribution(r: Reader) -> pd.DataFrame:
    """Customers, spend and recency per RFM grade and named segment."""
    return _rfm_distribution(r, r.key)


@_cache
def _rfm_distribution(_r: Reader, key: str) -> pd.DataFrame:
    t = _r.table(CUSTOMER_RFM.name)
    return (
        t.group_by(["grade", "named_segment"])
        .aggregate(n=t.count(), monetary=t.monetary_total.mean(), recency=t.recency_days.mean())
        .execute()
    )


def segment_profiles(r: Reader) -> pd.DataFrame:
    """Every segment's size, value and profile."""
    return data.read(r, SEGMENT_PROFILES.name, order_by=("segment_id",))


def k_curve(r: Reader) -> pd.DataFrame:
    """The K search: inertia and silhouette per number of segments."""
    return data.read(r, SEGMENT_K_CURVE.name, order_by=("k",))


def segment_by_model(r: Reader) -> pd.DataFrame:
    """Purchases per segment × model (share of each segment's purchases)."""
    return _segment_by_model(r, r.key)


@_cache
def _segment_by_model(_r: Reader, key: str) -> pd.DataFrame:
    seg = _r.table(CUSTOMER_SEGMENTS.name)
    pur = _r.table(S.PURCHASES.name)
    pur = pur.filter(pur.amount > 0)
    joined = pur.join(seg, pur.customer_id == seg.customer_id)
    return joined.group_by(["segment_id", "model"]).aggregate(n=joined.count()).execute()


def recommendation_eval(r: Reader) -> pd.DataFrame:
    """The recommenders compared on held-out purchases."""
    return data.read(r, RECOMMENDATION_EVAL.name)


def customer_row(r: Reader, table: str, customer_id: str) -> pd.DataFrame:
    """The rows of ``table`` for one customer."""
    return data.rows_for(r, table, "customer_id", customer_id)


def customer_recommendations(r: Reader, customer_id: str) -> pd.DataFrame:
    """One customer's recommended models, best first."""
    frame = data.rows_for(r, RECOMMENDATIONS.name, "customer_id", customer_id)
    return frame.sort_values("rank")


# ---- propensity and value ----------------------------------------------------------------------
# What pages show of a propensity metrics table, in this order (the ones the table has).
PROPENSITY_METRIC_COLUMNS = (
    "target",
    "model",
    "auroc",
    "auroc_lo",
    "auroc_hi",
    "pr_auc",
    "brier",
    "ece",
    "n_train",
    "n_test",
    "positives",
    "positive_rate",
    "best_grade",
    "note",
)


def grade_summary(r: Reader, target: str) -> pd.DataFrame:
    """Scored customers per grade with the sum of calibrated probabilities (expected responders)."""
    return _grade_summary(r, r.key, target)


@_cache
def _grade_summary(_r: Reader, key: str, target: str) -> pd.DataFrame:
    t = _r.table(PROPENSITY_SCORES.name)
    t = t.filter(t.target == target)
    return t.group_by("grade").aggregate(customers=t.count(), expected=t.score.sum()).order_by("grade").execute()


def target_list(r: Reader, target: str, cut: int, only_opt_in: bool, lang: str = "ko") -> pd.DataFrame:
    """Customers in grades 1..cut for ``target``, best first, with contact fields and the top reason."""
    return _target_list(r, r.key, target, cut, only_opt_in, lang)


@_cache
def _target_list(_r: Reader, key: str, target: str, cut: int, only_opt_in: bool, lang: str) -> pd.DataFrame:
    s = _r.table(PROPENSITY_SCORES.name)
    s = s.filter((s.target == target) & (s.grade <= cut))
    c = _r.table(S.CUSTOMERS.name)
    joined = s.join(c, s.customer_id == c.customer_id)
    if only_opt_in:
        joined = joined.filter(joined.marketing_opt_in.fill_null(False))
    reason = f"reason1_{lang}"
    cols = ["customer_id", "name", "email", "phone", "marketing_opt_in", "grade", "score", reason]
    return joined.select(cols).order_by([ibis.desc("score"), "customer_id"]).execute()


# ---- voc ---------------------------------------------------------------------------------------
# Topics counted as complaints: the VoC step's topic names are data-driven (agent labels or
# discovered topics), so the rule matches the words companies use for them.
COMPLAINT_WORDS = ("complaint", "불만", "클레임", "claim")


def open_complaints(r: Reader, days: int = 30) -> dict:
    """Consultations in the last ``days`` of data whose topic is a complaint.

    Also how many the classifier was unsure about (``needs_review``).
    """
    return _open_complaints(r, r.key, days)


@_cache
def _open_complaints(_r: Reader, key: str, days: int) -> dict:
    t = _r.table(VOC_CONSULTATIONS.name)
    end = t.consulted_at.max().execute()
    if end is None or pd.isna(end):
        raise MissingTable(VOC_CONSULTATIONS.name)
    end = pd.Timestamp(end)
    start = end - pd.Timedelta(days=days)
    recent = t.filter(t.consulted_at > start.to_pydatetime())
    topics = [
        v
        for v in data.distinct(_r, VOC_CONSULTATIONS.name, "topic")
        if any(w in str(v).lower() for w in COMPLAINT_WORDS)
    ]
    complaints = int(recent.filter(recent.topic.isin(topics)).count().execute()) if topics else 0
    review = int(recent.filter(recent.needs_review.fill_null(False)).count().execute())
    return {
        "count": complaints,
        "needs_review": review,
        "start": start.date().isoformat(),
        "end": end.date().isoformat(),
        "topics": ", ".join(map(str, topics)) or "—",
    }


# ---- alerts ------------------------------------------------------------------------------------
ALERT_SOURCES = (FORECAST_CHOICE.name, VOC_RISING.name)


def missing_for_alerts(r: Reader) -> list[str]:
    """The tables the alerts read that are not there yet."""
    return [name for name in ALERT_SOURCES if not r.has(name)]


def alerts(r: Reader, lang: str) -> list[dict]:
    """Things worth a look this morning.

    Forecasts worse than seasonal naive, rising complaint keywords, and saved models whose recorded
    drift check says the data shifted.
    """
    found: list[dict] = []
    found += _forecast_alerts(r, lang)
    if r.has(VOC_RISING.name):
        found += _rising_alerts(r, lang)
    found += _model_alerts(lang)
    if r.has(S.PURCHASES.name):
        found += _shift_alerts(r, lang)
    return found


# Purchases of the latest months are compared with the year before them; below these counts the
# population stability index is noise.
SHIFT_RECENT_MONTHS = 3
SHIFT_BASE_MONTHS = 12
SHIFT_MIN_ROWS = 300
_SHIFT_COLUMNS = ("model", "payment_type", "channel", "amount")


def purchase_shift(r: Reader) -> pd.DataFrame:
    """PSI per purchase column.

    The last 3 months of purchases against the 12 months before them
    (``carsight.registry.drift_report``); empty when either period is too thin to say.
    """
    return _purchase_shift(r, r.key)


@_cache
def _purchase_shift(_r: Reader, key: str) -> pd.DataFrame:
    from carsight.registry import drift_report, profile_frame

    t = _r.table(S.PURCHASES.name)
    last = t.purchase_date.max().execute()
    if last is None or pd.isna(last):
        return pd.DataFrame()
    split = (pd.Timestamp(last) - pd.DateOffset(months=SHIFT_RECENT_MONTHS)).date()
    start = (pd.Timestamp(split) - pd.DateOffset(months=SHIFT_BASE_MONTHS)).date()
    frame = t.filter(t.purchase_date > start).select("purchase_date", *_SHIFT_COLUMNS).execute()
    recent = frame[pd.to_datetime(frame.purchase_date).dt.date > split]
    base = frame[pd.to_datetime(frame.purchase_date).dt.date <= split]
    if len(recent) < SHIFT_MIN_ROWS or len(base) < SHIFT_MIN_ROWS:
        return pd.DataFrame()
    cols = list(_SHIFT_COLUMNS)
    table = drift_report(profile_frame(base[cols]), recent[cols]).table
    return table.assign(recent_rows=len(recent), base_rows=len(base), split=split.isoformat())


def _shift_alerts(r: Reader, lang: str) -> list[dict]:
    table = purchase_shift(r)
    if table.empty:
        return []
    shifted = table[table.status == "shifted"].sort_values("psi", ascending=False)
    if shifted.empty:
        return []
    features = ", ".join(f"{row.feature} (PSI {row.psi:.2f})" for row in shifted.itertuples())
    return [
        {
            "level": "medium",
            "kind": "drift",
            "text": t(
                "dash.alert.shift", lang, features=features, split=table.split.iloc[0], months=SHIFT_RECENT_MONTHS
            ),
        }
    ]


def _forecast_alerts(r: Reader, lang: str) -> list[dict]:
    """Series whose chosen forecast does not beat the seasonal-naive baseline in the backtest."""
    if not r.has(FORECAST_CHOICE.name):
        return []
    choice = data.read(r, FORECAST_CHOICE.name).dropna(subset=["mase"])
    # MASE ≥ 1: the backtest error is above the in-sample seasonal-naive error; or the chosen
    # method lost to its own baseline on the same windows.
    bad = choice[(choice.mase >= 1.0) | (choice.mase > choice.mase_snaive.fillna(float("inf")))]
    out = []
    for row in bad.sort_values("mase", ascending=False).head(5).itertuples():
        out.append(
            {
                "level": "high" if row.mase > 1.5 else "medium",
                "kind": "forecast",
                "text": t(
                    "dash.alert.forecast",
                    lang,
                    series=row.unique_id,
                    mase=row.mase,
                    model=row.model_name,
                    baseline=row.baseline or "SeasonalNaive",
                    naive=row.mase_snaive if pd.notna(row.mase_snaive) else float("nan"),
                ),
            }
        )
    return out


def _rising_alerts(r: Reader, lang: str) -> list[dict]:
    rising = data.read(r, VOC_RISING.name)
    if rising.empty:
        return []
    latest = rising[(rising.period == rising.period.max()) & rising.significant.astype(bool)]
    out = []
    for row in latest.sort_values("ratio", ascending=False).head(3).itertuples():
        out.append(
            {
                "level": "medium",
                "kind": "voc",
                "text": t(
                    "dash.alert.rising",
                    lang,
                    keyword=row.keyword,
                    period=row.period,
                    ratio=row.ratio,
                    count=row.count,
                    previous=row.previous,
                ),
            }
        )
    return out


def _model_alerts(lang: str) -> list[dict]:
    out = []
    for meta in saved_models():
        drift = (meta.extra or {}).get("drift") or (meta.metrics or {}).get("drift")
        shifted = []
        if isinstance(drift, dict):
            shifted = drift.get("shifted") or [k for k, v in drift.items() if v == "shifted"]
        elif isinstance(drift, list):
            shifted = [d.get("feature") for d in drift if isinstance(d, dict) and d.get("status") == "shifted"]
        if shifted:
            out.append(
                {
                    "level": "high",
                    "kind": "drift",
                    "text": t("dash.alert.drift", lang, model=meta.kind, features=", ".join(map(str, shifted[:5]))),
                }
            )
    return out


def saved_models() -> list:
    """Every saved model's metadata (the registry under ``settings.model_dir``)."""
    from carsight.config import get_settings
    from carsight.registry import list_models

    return list_models(get_settings().model_dir)


def delivery_summary(r: Reader) -> pd.DataFrame:
    """Messages per campaign and status."""
    return _delivery_summary(r, r.key)


@_cache
def _delivery_summary(_r: Reader, key: str) -> pd.DataFrame:
    t = _r.table(DELIVERY_LOG.name, allow_empty=True)
    agg = t.group_by(["campaign_id", "status"]).aggregate(n=t.count(), last=t.updated_at.max()).execute()
    if agg.empty:
        return agg
    wide = agg.pivot_table(index="campaign_id", columns="status", values="n", aggfunc="sum", fill_value=0)
    wide["last_update"] = agg.groupby("campaign_id")["last"].max()
    return wide.reset_index()


def backtest_summary(r: Reader) -> pd.DataFrame:
    """Mean backtest error per forecasting method over all series and windows it was tried on."""
    return _backtest_summary(r, r.key)


@_cache
def _backtest_summary(_r: Reader, key: str) -> pd.DataFrame:
    t = _r.table(FORECAST_BACKTEST.name)
    return (
        t.group_by("model_name")
        .aggregate(
            series=t.unique_id.nunique(),
            windows=t.count(),
            mape=t.mape.mean(),
            smape=t.smape.mean(),
            mase=t.mase.mean(),
        )
        .order_by("mase")
        .execute()
    )


# ---- insights (trigger rules, drivers of a change) -------------------------------------------------


def trigger_targets(r: Reader, conditions: str, only_opt_in: bool) -> pd.DataFrame:
    """Customers whose features today meet a trigger rule's conditions, with contact fields."""
    return _trigger_targets(r, r.key, conditions, only_opt_in)


@_cache
def _trigger_targets(_r: Reader, key: str, conditions: str, only_opt_in: bool) -> pd.DataFrame:
    from carsight.customers.triggers import rule_predicate

    f = _r.table(TRIGGER_FEATURES.name)
    f = f.filter(rule_predicate(f, conditions))
    c = _r.table(S.CUSTOMERS.name)
    joined = f.join(c, f.customer_id == c.customer_id)
    if only_opt_in:
        joined = joined.filter(joined.marketing_opt_in.fill_null(False))
    cols = ["customer_id", "name", "email", "phone", "marketing_opt_in", "as_of"]
    return joined.select(cols).order_by("customer_id").execute()
