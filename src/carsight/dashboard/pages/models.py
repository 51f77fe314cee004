"""Models: every saved model with its metrics, training date and data fingerprint; the propensity
models' decile, lift, calibration and importance beside their baselines; the recommender and text
classifier evaluations; and the e-mail delivery log."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from carsight.dashboard import charts, data, results, state
from carsight.dashboard.state import tr


def saved() -> None:
    st.subheader(tr("models.saved"))
    metas = results.saved_models()
    if not metas:
        st.info(tr("models.none"))
        return
    rows = []
    for m in metas:
        fp = m.fingerprint or {}
        rows.append(
            {
                tr("models.name"): Path(m.path).name,
                tr("models.kind"): m.kind,
                tr("models.version"): m.model_version,
                tr("models.trained"): m.created_at,
                tr("models.rows"): fp.get("rows"),
                tr("models.fingerprint"): (fp.get("sha256") or "")[:12],
                tr("models.metrics"): ", ".join(f"{k}={_fmt(v)}" for k, v in _scalars(m.metrics).items())[:200],
                tr("models.path"): m.path,
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True)
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
    st.subheader(tr("models.propensity"))
    metrics = data.read(r, results.PROPENSITY_METRICS, order_by=("target", "model"))
    if metrics.empty:
        st.info(tr("notice.no_rows", table=results.PROPENSITY_METRICS))
        return
    st.dataframe(metrics, hide_index=True)
    st.caption(tr("models.baseline_note"))
    targets = sorted(metrics.target.unique())
    target = st.selectbox(tr("camp.target"), targets, key=state.TARGET, persist_state=state.PERSIST)
    deciles = data.read(r, results.PROPENSITY_DECILES, where=(("target", target),), order_by=("model", "decile"))
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
        if r.has(results.PROPENSITY_CALIBRATION):
            cal = data.read(r, results.PROPENSITY_CALIBRATION, where=(("target", target),), order_by=("bin",))
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
    st.dataframe(deciles, hide_index=True)
    if r.has(results.PROPENSITY_IMPORTANCE):
        imp = data.read(r, results.PROPENSITY_IMPORTANCE, where=(("target", target),), order_by=("rank",), limit=15)
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
    st.subheader(tr("models.other"))
    shown = False
    if r.has(results.RECOMMENDATION_EVAL.name):
        st.markdown(f"**{tr('models.recommender')}**")
        st.dataframe(results.recommendation_eval(r), hide_index=True)
        shown = True
    if r.has(results.VOC_MODEL_METRICS):
        st.markdown(f"**{tr('models.voc')}**")
        st.dataframe(data.read(r, results.VOC_MODEL_METRICS), hide_index=True)
        shown = True
    if r.has(results.FORECAST_BACKTEST):
        st.markdown(f"**{tr('models.forecast')}**")
        st.dataframe(results.backtest_summary(r), hide_index=True)
        shown = True
    if not shown:
        st.info(tr("notice.run_pipeline", table=results.RECOMMENDATION_EVAL.name))


def delivery(r: data.Reader) -> None:
    if not r.has(results.DELIVERY_LOG, allow_empty=True):
        return
    st.subheader(tr("models.delivery"))
    summary = results.delivery_summary(r)
    if summary.empty:
        st.caption(tr("models.delivery_empty"))
        return
    st.dataframe(summary, hide_index=True)
    st.dataframe(data.read(r, results.DELIVERY_LOG, order_by=("-updated_at",), limit=200), hide_index=True)


st.title(tr("page.models"))
with state.guarded(), data.Reader() as reader:
    with state.section():
        saved()
    with state.section():
        propensity(reader)
    with state.section():
        other_evaluations(reader)
    with state.section():
        delivery(reader)
