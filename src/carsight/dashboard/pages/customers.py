"""Customers (marketing).

RFM grades and named segments, customer-type segment profiles with size and value, which models each
segment buys, and the elbow/silhouette curves behind the chosen K.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from carsight.customers.rfm import GRADES
from carsight.dashboard import charts, data, frames, results, state
from carsight.dashboard.state import tr
from carsight.warehouse.results_customers import CUSTOMER_SEGMENTS, SEGMENT_K_CURVE, SEGMENT_PROFILES


def rfm(r: data.Reader) -> None:
    """RFM grades, named segments and dealer groups."""
    st.subheader(tr("customers.rfm"))
    dist = results.rfm_distribution(r)
    total = int(dist.n.sum())
    left, right = st.columns(2)
    grades = dist.groupby("grade", as_index=False).n.sum()
    order = _order(grades.grade, list(GRADES))
    grades = grades.set_index("grade").loc[order].reset_index()
    grades["label"] = [state.rfm_word("grade", g) for g in grades.grade]
    with left:
        fig = charts.bars(
            grades,
            "label",
            "n",
            tr("customers.grade_chart", n=total),
            tr("axis.grade"),
            tr("axis.customers"),
            text_fmt="%{y:,}",
        )
        charts.show(fig, key="cust_grades")
    named = dist.groupby("named_segment", as_index=False).agg(n=("n", "sum"))
    named = named.sort_values("n", ascending=False)
    named["label"] = [state.rfm_word("segment", v) for v in named.named_segment]
    with right:
        fig = charts.bars(
            named,
            "label",
            "n",
            tr("customers.named_chart"),
            tr("axis.named_segment"),
            tr("axis.customers"),
            horizontal=True,
        )
        charts.show(fig, key="cust_named")
    groups = results.rfm_groups(r)
    cols = st.columns(max(1, len(groups)))
    for col, row in zip(cols, groups.itertuples(), strict=False):
        col.metric(
            state.rfm_word("group", row.group),
            f"{row.n:,}",
            help=tr("customers.group_share", share=row.n / total * 100 if total else 0),
        )


def _order(values: pd.Series, preferred: list[str]) -> list[str]:
    present = list(values)
    return [v for v in preferred if v in present] + [v for v in present if v not in preferred]


def profiles(r: data.Reader) -> pd.DataFrame:
    """Customer-type segments with their size, value and profile."""
    st.subheader(tr("customers.segments"))
    prof = results.segment_profiles(r)
    if prof.empty:
        st.info(tr("notice.no_rows", table=SEGMENT_PROFILES.name))
        return prof
    lang = state.lang()
    prof = prof.assign(profile=prof[f"profile_{lang}"], share_pct=prof["share"] * 100, value=prof["value"].round(0))
    left, right = st.columns([2, 3])
    with left:
        fig = go.Figure(
            go.Scatter(
                x=prof["size"],
                y=prof["value"],
                mode="markers+text",
                text=[f"#{s}" for s in prof.segment_id],
                textposition="top center",
                marker={"size": (prof.share_pct.clip(lower=1) ** 0.5) * 8, "color": charts.COLORS[0]},
                hovertext=prof.profile,
            )
        )
        charts.style(fig, tr("customers.segment_chart"), tr("axis.customers"), tr("axis.value_krw"))
        charts.show(fig, key="cust_seg_scatter")
    with right:
        frames.show(
            prof.rename(columns={"segment_id": "segment", "value": "value_krw"}),
            ["segment", "size", "share_pct", "value_krw", "profile"],
            formats={"share_pct": "%.1f%%", "value_krw": "localized"},
        )
    return prof


def heatmap(r: data.Reader) -> None:
    """Each segment's purchases by model, as shares."""
    st.subheader(tr("customers.segment_models"))
    frame = results.segment_by_model(r)
    if frame.empty:
        st.info(tr("notice.no_rows", table=CUSTOMER_SEGMENTS.name))
        return
    pivot = frame.pivot_table(index="segment_id", columns="model", values="n", aggfunc="sum", fill_value=0)
    top = pivot.sum().nlargest(20).index
    share = pivot.div(pivot.sum(axis=1), axis=0)[top] * 100
    share.index = [f"#{i}" for i in share.index]
    fig = charts.heatmap(
        share,
        tr("customers.segment_models_chart"),
        tr("axis.model"),
        tr("axis.segment"),
        tr("axis.purchase_share_pct"),
        fmt=".1f",
    )
    charts.show(fig, key="cust_seg_heatmap")


def k_curve(r: data.Reader) -> None:
    """The elbow and silhouette curves behind the chosen number of segments."""
    st.subheader(tr("customers.k_curve"))
    curve = results.k_curve(r)
    if curve.empty:
        st.info(tr("notice.no_rows", table=SEGMENT_K_CURVE.name))
        return
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=curve.k, y=curve.inertia, name=tr("axis.inertia"), mode="lines+markers"), secondary_y=False
    )
    fig.add_trace(
        go.Scatter(x=curve.k, y=curve.silhouette, name=tr("axis.silhouette"), mode="lines+markers"), secondary_y=True
    )
    chosen = curve[curve.chosen.astype(bool)]
    charts.style(fig, tr("customers.k_chart"), tr("axis.k"))
    fig.update_yaxes(title_text=tr("axis.inertia"), secondary_y=False)
    fig.update_yaxes(title_text=tr("axis.silhouette"), secondary_y=True)
    if not chosen.empty:
        k = int(chosen.k.iloc[0])
        fig.add_vline(x=k, line_dash="dot", annotation_text=tr("customers.k_chosen", k=k))
        st.caption(tr("customers.k_note", k=k))
    charts.show(fig, key="cust_k_curve")


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.customers"))
with state.guarded(), data.Reader(scope=scope) as reader:
    with state.section():
        rfm(reader)
    with state.section():
        profiles(reader)
    with state.section():
        heatmap(reader)
    with state.section():
        k_curve(reader)
