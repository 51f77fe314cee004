"""Models: every saved model and how each one is evaluated.

Every saved model with its metrics and training date; the propensity models' decile, lift,
calibration and importance beside their baselines; the recommender and text classifier evaluations;
and the e-mail delivery log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from carsight.customers.deciles import DECILE_COLUMNS as DECILE_TABLE_COLUMNS
from carsight.dashboard import charts, data, frames, results, state
from carsight.dashboard.state import tr
from carsight.warehouse.results_customers import RECOMMENDATION_EVAL
from carsight.warehouse.results_delivery import DELIVERY_LOG
from carsight.warehouse.results_market import FORECAST_BACKTEST
from carsight.warehouse.results_value import (
    PROPENSITY_CALIBRATION,
    PROPENSITY_DECILES,
    PROPENSITY_IMPORTANCE,
    PROPENSITY_METRICS,
)
from carsight.warehouse.results_voc import VOC_MODEL_METRICS

# What the page shows of the propensity decile tables, in this order.
DECILE_COLUMNS = ("model", *DECILE_TABLE_COLUMNS, "profit")


def saved() -> None:
    """The saved models; their files and fingerprints only with internals on."""
    st.subheader(tr("models.saved"))
    metas = results.saved_models()
    if not metas:
        st.info(tr("models.none"))
        return
    internals = state.show_internals()
    rows = []
    for m in metas:
        fp = m.fingerprint or {}
        row = {
            tr("models.name"): Path(m.path).name,
            tr("models.kind"): m.kind,
            tr("models.version"): m.model_version,
            tr("models.trained"): frames.plain_date(m.created_at),
            tr("models.rows"): fp.get("rows"),
            tr("models.metrics"): ", ".join(f"{k}={_fmt(v)}" for k, v in _scalars(m.metrics).items())[:200],
        }
        if internals:
            row[tr("models.fingerprint")] = (fp.get("sha256") or "")[:12]
            row[tr("models.path")] = m.path
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if not internals:
        return
    pick = st.selectbox(
        tr("models.pick"),
        range(len(metas)),
        format_func=lambda i: f"{Path(metas[i].path).name} ({metas[i].kind} v{metas[i].model_version})",
        key="models_pick",
    )
    meta = metas[pick]
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(f"**{tr('models.metrics')}**")
        st.json(json.loads(json.dumps(meta.metrics, default=str)), expanded=False)
        st.markdown(f"**{tr('models.params')}**")
        st.json(json.loads(json.dumps(meta.params, default=str)), expanded=False)
    with c2:
        st.markdown(f"**{tr('models.fingerprint')}**")
        st.json(json.loads(json.dumps(meta.fingerprint, default=str)), expanded=False)
        st.markdown(f"**{tr('models.libraries')}**")
        st.json(meta.library_versions, expanded=False)
        if meta.features:
            st.caption(tr("models.features", n=len(meta.features), names=", ".join(meta.features[:30])))


def _scalars(metrics: dict) -> dict:
    return {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def propensity(r: data.Reader) -> None:
    """The propensity models' metrics, gain, calibration, deciles and importance."""
    st.subheader(tr("models.propensity"))
    metrics = data.read(r, PROPENSITY_METRICS.name, order_by=("target", "model"))
    if metrics.empty:
        st.info(tr("notice.no_rows", table=PROPENSITY_METRICS.name))
        return
    frames.show(metrics, [c for c in results.PROPENSITY_METRIC_COLUMNS if c in metrics])
    st.caption(tr("models.baseline_note"))
    targets = sorted(metrics.target.unique())
    target = st.selectbox(tr("camp.target"), targets, key=state.TARGET, persist_state=state.PERSIST)
    deciles = data.read(r, PROPENSITY_DECILES.name, where=(("target", target),), order_by=("model", "decile"))
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        for i, (model, part) in enumerate(deciles.groupby("model", sort=True)):
            fig.add_trace(
                go.Scatter(
                    x=part.decile,
                    y=part.cum_gain * 100,
                    name=str(model),
                    mode="lines+markers",
                    line={"color": charts.COLORS[i]},
                )
            )
        fig.add_trace(
            go.Scatter(
                x=list(range(1, 11)),
                y=[i * 10 for i in range(1, 11)],
                name=tr("models.random"),
                mode="lines",
                line={"dash": "dot", "color": "#999"},
            )
        )
        charts.style(fig, tr("models.gain_chart", target=target), tr("axis.decile"), tr("axis.cum_gain_pct"))
        charts.show(fig, key="models_gain")
    with right:
        if r.has(PROPENSITY_CALIBRATION.name):
            cal = data.read(r, PROPENSITY_CALIBRATION.name, where=(("target", target),), order_by=("bin",))
            cal = cal[cal.customers > 0]
            fig = go.Figure()
            fig.add_trace(
                go.Scatter(
                    x=[0, 100],
                    y=[0, 100],
                    mode="lines",
                    name=tr("models.perfect"),
                    line={"dash": "dot", "color": "#999"},
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=cal.mean_predicted * 100,
                    y=cal.observed_rate * 100,
                    mode="lines+markers",
                    name=tr("models.calibration"),
                    text=cal.customers,
                )
            )
            charts.style(
                fig, tr("models.calibration_chart", target=target), tr("axis.predicted_pct"), tr("axis.observed_pct")
            )
            charts.show(fig, key="models_calibration")
    frames.show(deciles, [c for c in DECILE_COLUMNS if c in deciles])
    if r.has(PROPENSITY_IMPORTANCE.name):
        imp = data.read(r, PROPENSITY_IMPORTANCE.name, where=(("target", target),), order_by=("rank",), limit=15)
        label = f"description_{state.lang()}"
        imp = imp.assign(label=imp[label].fillna(imp.feature) if label in imp else imp.feature)
        fig = charts.bars(
            imp,
            "label",
            "mean_abs_shap",
            tr("models.importance_chart", target=target),
            tr("axis.feature"),
            tr("axis.importance"),
            horizontal=True,
        )
        charts.show(fig, key="models_importance")


def other_evaluations(r: data.Reader) -> None:
    """The recommender, topic classifier and forecast evaluations."""
    st.subheader(tr("models.other"))
    shown = False
    if r.has(RECOMMENDATION_EVAL.name):
        st.markdown(f"**{tr('models.recommender')}**")
        frames.show(results.recommendation_eval(r), ["method", "hit_at_3", "ndcg_at_5", "n"])
        shown = True
    if r.has(VOC_MODEL_METRICS.name):
        st.markdown(f"**{tr('models.voc')}**")
        voc_metrics = data.read(r, VOC_MODEL_METRICS.name)
        frames.show(
            voc_metrics, ["model_name", "metric", "value", "n_train", "n_test", "note"], formats={"value": "%.3f"}
        )
        shown = True
    if r.has(FORECAST_BACKTEST.name):
        st.markdown(f"**{tr('models.forecast')}**")
        frames.show(results.backtest_summary(r))
        shown = True
    if not shown:
        state.result_missing(RECOMMENDATION_EVAL.name)


def delivery(r: data.Reader) -> None:
    """The e-mail delivery log per campaign."""
    if not r.has(DELIVERY_LOG.name, allow_empty=True):
        return
    st.subheader(tr("models.delivery"))
    summary = results.delivery_summary(r)
    if summary.empty:
        st.caption(tr("models.delivery_empty"))
        return
    frames.show(summary)
    log = data.read(r, DELIVERY_LOG.name, order_by=("-updated_at",), limit=200)
    frames.show(log, ["updated_at", "campaign_id", "customer_id", "email", "status", "reason", "attempts", "template"])


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.models"))
with state.guarded(), data.Reader(scope=scope) as reader:
    with state.section():
        saved()
    with state.section():
        propensity(reader)
    with state.section():
        other_evaluations(reader)
    with state.section():
        delivery(reader)
