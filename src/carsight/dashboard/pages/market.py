"""Market (HQ planning / export).

Top models per country, unusually strong models per market, the markets × models heatmap and
year-on-year change, and what drove the change (a waterfall of the segments that explain it).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from carsight.dashboard import charts, data, frames, state
from carsight.dashboard.state import tr
from carsight.warehouse import schema as S
from carsight.warehouse.results_insights import DRIVER_SEGMENTS
from carsight.warehouse.results_market import MARKET_UNUSUAL


def filters(r: data.Reader) -> dict:
    """The market, year, kinds and brands the page shows."""
    table = S.SALES_MONTHLY.name
    # Biggest market first, so the default is the one most people plan for.
    markets = data.sales(r, ("market",)).sort_values("units", ascending=False).market.tolist()
    kinds = data.distinct(r, table, "kind")
    brands = data.distinct(r, table, "brand")
    last = data.latest_date(r, table, "month")
    if last is None:
        st.info(tr("notice.no_rows", table=table))
        st.stop()
    years = sorted({y for y in range(last.year - 5, last.year + 1)}, reverse=True)
    c1, c2, c3, c4 = st.columns(4)
    market = c1.selectbox(tr("filter.market"), markets, key=state.MARKET, persist_state=state.PERSIST)
    kind = c2.multiselect(
        tr("filter.kind"),
        kinds,
        key=state.KIND,
        persist_state=state.PERSIST,
        format_func=lambda k: tr(f"kind.{k}"),
        placeholder=tr("filter.all"),
    )
    brand = c3.multiselect(
        tr("filter.brand"), brands, key=state.BRAND, persist_state=state.PERSIST, placeholder=tr("filter.all")
    )
    year = c4.selectbox(tr("filter.year"), years, key="market_year")
    return {"market": market, "kinds": tuple(kind), "brands": tuple(brand), "year": int(year), "last": last}


def _year_bounds(year: int, last) -> tuple:
    """The year's months up to the last month with data.

    The previous year over the same months, so year-on-year compares like with like when the current
    year is incomplete.
    """
    end_month = last.month if year == last.year else 12
    start = pd.Timestamp(year=year, month=1, day=1).date()
    end = pd.Timestamp(year=year, month=end_month, day=1).date()
    return start, end, end_month


def top_models(r: data.Reader, f: dict) -> None:
    """The year's top models in the market, with year on year."""
    st.subheader(tr("market.top", market=f["market"], year=f["year"]))
    start, end, end_month = _year_bounds(f["year"], f["last"])
    cur = data.sales(r, ("model",), kinds=f["kinds"], brands=f["brands"], markets=(f["market"],), start=start, end=end)
    prev_start, prev_end = start.replace(year=start.year - 1), end.replace(year=end.year - 1)
    prev = data.sales(
        r, ("model",), kinds=f["kinds"], brands=f["brands"], markets=(f["market"],), start=prev_start, end=prev_end
    )
    if cur.empty:
        st.info(tr("market.no_sales"))
        return
    table = cur.merge(prev.rename(columns={"units": "prev"}), on="model", how="left").sort_values(
        "units", ascending=False
    )
    table["yoy"] = (table.units - table.prev) / table.prev.where(table.prev > 0) * 100
    table["share"] = table.units / table.units.sum() * 100
    top = table.head(15)
    left, right = st.columns([3, 2])
    with left:
        fig = charts.bars(
            top,
            "model",
            "units",
            tr("market.top_chart", market=f["market"], year=f["year"], months=end_month),
            tr("axis.model"),
            tr("axis.units"),
            horizontal=True,
        )
        charts.show(fig, key="market_top")
    with right:
        frames.show(
            top.rename(columns={"prev": "prev_year", "yoy": "yoy_pct", "share": "share_pct"}),
            ["model", "units", "prev_year", "yoy_pct", "share_pct"],
            formats={"units": "localized", "prev_year": "localized", "yoy_pct": "%.1f%%", "share_pct": "%.1f%%"},
        )
        st.caption(tr("market.yoy_note", months=end_month))


def yoy_chart(r: data.Reader, f: dict) -> None:
    """Units per month of this year against the years before."""
    monthly = data.sales(r, ("year", "month"), kinds=f["kinds"], brands=f["brands"], markets=(f["market"],))
    if monthly.empty:
        return
    monthly = monthly[monthly.year >= f["year"] - 1].copy()
    monthly["month_no"] = pd.to_datetime(monthly.month).dt.month
    fig = charts.grouped_lines(
        monthly,
        "month_no",
        "units",
        "year",
        tr("market.yoy_chart", market=f["market"]),
        tr("axis.month_no"),
        tr("axis.units"),
    )
    charts.show(fig, key="market_yoy")


def unusual(r: data.Reader, f: dict) -> None:
    """Models selling unusually well (or badly) in the market."""
    st.subheader(tr("market.unusual", market=f["market"]))
    frame = data.read(r, MARKET_UNUSUAL.name, where=(("market", f["market"]),), order_by=("-points",))
    if frame.empty:
        st.info(tr("market.unusual_none"))
        return
    flagged = frame[frame.flag.fillna(False).astype(bool)]
    period = f"{pd.Timestamp(frame.period_start.iloc[0]):%Y-%m} – {pd.Timestamp(frame.period_end.iloc[0]):%Y-%m}"
    if flagged.empty:
        st.info(tr("market.unusual_none"))
    else:
        top = flagged.iloc[0]
        st.markdown(
            tr("market.unusual_headline", model=top.model, market=f["market"], points=top.points, ratio=top.ratio)
        )
        fig = charts.bars(
            flagged.head(15),
            "model",
            "points",
            tr("market.unusual_chart", market=f["market"], period=period),
            tr("axis.model"),
            tr("axis.points"),
            horizontal=True,
            color=charts.COLORS[1],
        )
        charts.show(fig, key="market_unusual")
    if bool(frame.small_market.fillna(False).any()):
        st.warning(tr("market.small_market", market=f["market"]))
    cols = ["model", "brand", "units", "share_market", "share_overall", "points", "points_se", "ratio", "flag"]
    frames.show(
        frame.head(30),
        cols,
        formats={c: "%.2f" for c in ("share_market", "share_overall", "points", "points_se", "ratio")},
    )
    st.caption(tr("market.unusual_note", period=period))


def matrix(r: data.Reader, f: dict) -> None:
    """Markets × models heatmap of share or units."""
    st.subheader(tr("market.matrix"))
    start, end, _ = _year_bounds(f["year"], f["last"])
    frame = data.sales(r, ("market", "model"), kinds=f["kinds"], brands=f["brands"], start=start, end=end)
    if frame.empty:
        st.info(tr("market.no_sales"))
        return
    n_models = st.slider(tr("market.matrix_models"), 5, 40, 15, key="market_matrix_n")
    top = frame.groupby("model").units.sum().nlargest(n_models).index
    pivot = frame[frame.model.isin(top)].pivot_table(
        index="market", columns="model", values="units", aggfunc="sum", fill_value=0
    )
    share = pivot.div(pivot.sum(axis=1).where(lambda s: s > 0), axis=0) * 100
    mode = st.radio(
        tr("market.matrix_mode"),
        ["share", "units"],
        format_func=lambda m: tr(f"market.mode.{m}"),
        horizontal=True,
        key="market_matrix_mode",
    )
    shown = share if mode == "share" else pivot
    fig = charts.heatmap(
        shown[list(top)],
        tr("market.matrix_chart", year=f["year"]),
        tr("axis.model"),
        tr("axis.market"),
        tr("axis.share_pct") if mode == "share" else tr("axis.units"),
        fmt=".1f" if mode == "share" else ",.0f",
    )
    charts.show(fig, key="market_matrix")


def what_changed(r: data.Reader) -> None:
    """The segments that drove the change, as a waterfall.

    From the pipeline's drivers step: from the base total to the current total, over all markets.
    """
    st.subheader(tr("drivers.title"))
    c1, c2 = st.columns(2)
    analysis = c1.radio(
        tr("drivers.analysis"), ["sales", "purchases"], format_func=lambda v: tr(f"drivers.analyses.{v}"),
        horizontal=True, key="drivers_analysis",
    )  # fmt: skip
    comparison = c2.radio(
        tr("drivers.comparison"), ["year", "quarter"], format_func=lambda v: tr(f"drivers.comparisons.{v}"),
        horizontal=True, key="drivers_comparison",
    )  # fmt: skip
    frame = data.read(
        r, DRIVER_SEGMENTS.name, where=(("analysis", analysis), ("comparison", comparison)), order_by=("rank",)
    )
    if frame.empty:
        st.info(tr("drivers.none"))
        return
    first = frame.iloc[0]
    base_total, current_total = float(first.base_total), float(first.current_total)
    change = current_total - base_total
    period = lambda a, b: f"{pd.Timestamp(a):%Y-%m}–{pd.Timestamp(b):%Y-%m}"  # noqa: E731
    st.markdown(
        tr(
            "drivers.headline",
            base_period=period(first.base_start, first.base_end),
            current_period=period(first.current_start, first.current_end),
            base=base_total,
            current=current_total,
            change=change,
            pct=change / base_total if base_total else 0.0,
            segment=first.segment,
            seg_change=float(first.change),
            share=float(first.share_of_change) if pd.notna(first.share_of_change) else 0.0,
        )
    )
    other = change - float(frame.change.sum())
    labels = [tr("drivers.base_total"), *frame.segment.tolist(), tr("drivers.other"), tr("drivers.current_total")]
    values = [base_total, *frame.change.tolist(), other, current_total]
    fig = go.Figure(
        go.Waterfall(
            x=labels, y=values, measure=["absolute"] + ["relative"] * (len(frame) + 1) + ["total"],
            connector={"line": {"color": "#bbbbbb"}}, increasing={"marker": {"color": charts.COLORS[2]}},
            decreasing={"marker": {"color": charts.COLORS[3]}}, totals={"marker": {"color": charts.COLORS[0]}},
        )
    )  # fmt: skip
    charts.style(
        fig, tr("drivers.chart"), None, tr("axis.units") if analysis == "sales" else tr("drivers.revenue_axis")
    )
    fig.update_xaxes(tickangle=-30)
    charts.show(fig, key="drivers_waterfall")
    cols = ["segment", "base", "current", "change", "share_of_change"]
    if analysis == "purchases":
        cols += ["volume", "mix", "rate"]
    table = frame[cols].assign(share_of_change=lambda f: f.share_of_change * 100)
    frames.show(
        table,
        cols,
        formats={c: "%.1f%%" if c == "share_of_change" else "localized" for c in cols[1:]},
        section="insights.column",
    )
    st.caption(tr("drivers.note"))


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.market"))
with state.guarded(), data.Reader(scope=scope) as reader:
    chosen = filters(reader)
    with state.section():
        top_models(reader, chosen)
    with state.section():
        yoy_chart(reader, chosen)
    with state.section():
        unusual(reader, chosen)
    with state.section():
        matrix(reader, chosen)
    with state.section():
        what_changed(reader)
