"""Overview: the morning KPIs, what changed since last month, and alerts worth a look."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from carsight.customers.rfm import CHURN_RISK, VIP
from carsight.dashboard import charts, data, frames, results, state
from carsight.dashboard.state import tr
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import CUSTOMER_RFM
from carsight.warehouse.results_voc import VOC_CONSULTATIONS


def _pct(new: float, old: float) -> float | None:
    if old is None or pd.isna(old) or old == 0 or new is None or pd.isna(new):
        return None
    return (new - old) / abs(old) * 100


def kpis(r: data.Reader) -> None:
    """The morning KPIs."""
    cols = st.columns(5)
    with cols[0], state.section():
        st.metric(tr("kpi.customers"), f"{data.count(r, S.CUSTOMERS.name):,}")
    with cols[1], state.section():
        activity = data.monthly_activity(r)
        if "units" not in activity or activity["units"].dropna().empty:
            raise data.MissingTable(S.SALES_MONTHLY.name)
        units = activity["units"].dropna()
        last_month = units.index.max()
        year_ago = last_month - pd.DateOffset(years=1)
        change = _pct(units.iloc[-1], units.get(year_ago))
        st.metric(
            tr("kpi.sales_month", month=last_month.strftime("%Y-%m")),
            f"{int(units.iloc[-1]):,}",
            delta=None if change is None else tr("kpi.yoy", value=change),
            help=tr("kpi.sales_month_help"),
        )
    missing: list[str] = []
    with cols[2]:
        if r.has(CUSTOMER_RFM.name):
            groups = results.rfm_groups(r)
            total = int(groups.n.sum())
            vip = int(groups.loc[groups.group == VIP, "n"].sum())
            churn = int(groups.loc[groups.group == CHURN_RISK, "n"].sum())
            st.metric(
                tr("kpi.vip_share"), f"{vip / total * 100:.1f}%" if total else "—", help=tr("kpi.vip_help", n=vip)
            )
        else:
            missing.append(CUSTOMER_RFM.name)
            churn = None
            st.metric(tr("kpi.vip_share"), "—")
    with cols[3]:
        st.metric(tr("kpi.churn_risk"), "—" if churn is None else f"{churn:,}", help=tr("kpi.churn_help"))
    with cols[4]:
        if r.has(VOC_CONSULTATIONS.name):
            complaints = results.open_complaints(r)
            st.metric(
                tr("kpi.complaints"),
                f"{complaints['count']:,}",
                help=tr(
                    "kpi.complaints_help",
                    start=complaints["start"],
                    end=complaints["end"],
                    topics=complaints["topics"],
                    review=complaints["needs_review"],
                ),
            )
        else:
            missing.append(VOC_CONSULTATIONS.name)
            st.metric(tr("kpi.complaints"), "—")
    for table in missing:
        state.result_missing(table)


def changes(r: data.Reader) -> None:
    """What changed since the month before."""
    st.subheader(tr("overview.changes"))
    activity = data.monthly_activity(r)
    if activity.empty:
        raise data.MissingTable(S.SALES_MONTHLY.name)
    labels = {
        "units": tr("metric.units"),
        "purchases": tr("metric.purchases"),
        "revenue": tr("metric.revenue"),
        "new_customers": tr("metric.new_customers"),
        "consultations": tr("metric.consultations"),
    }
    rows = []
    for column, label in labels.items():
        if column not in activity:
            continue
        series = activity[column].dropna()
        if len(series) < 2:
            continue
        last = series.index[-1]
        rows.append(
            {
                "metric": label,
                "month": last.strftime("%Y-%m"),
                "value": float(series.iloc[-1]),
                "previous": float(series.iloc[-2]),
                "change_pct": _pct(series.iloc[-1], series.iloc[-2]),
            }
        )
    frames.show(
        pd.DataFrame(rows, columns=["metric", "month", "value", "previous", "change_pct"]),
        formats={"value": "localized", "previous": "localized", "change_pct": "%.1f%%"},
    )
    st.caption(tr("overview.changes_note"))
    if "units" in activity:
        recent = activity[["units"]].dropna().tail(25).reset_index(names="month")
        fig = charts.lines(
            recent,
            "month",
            {"units": tr("metric.units")},
            tr("overview.units_chart"),
            tr("axis.month"),
            tr("axis.units"),
        )
        charts.show(fig, key="overview_units")


def alerts(r: data.Reader) -> None:
    """Alerts worth a look."""
    st.subheader(tr("overview.alerts"))
    found = results.alerts(r, state.lang())
    if not found:
        st.success(tr("overview.no_alerts"))
    for alert in found:
        (st.error if alert["level"] == "high" else st.warning)(alert["text"])
    missing = results.missing_for_alerts(r)
    if missing:
        st.caption(tr("overview.alerts_missing", tables=", ".join(missing)))


def monitoring(r: data.Reader) -> None:
    """The open alerts of `carsight monitor run` (docs/monitoring.md), most severe first."""
    from carsight.monitor.alerts import read_alerts
    from carsight.warehouse.results_monitor import MONITOR_ALERTS

    st.subheader(tr("overview.monitoring"))
    if not r.has(MONITOR_ALERTS.name):
        st.caption(tr("overview.monitoring_never"))
        return
    found = read_alerts(r.wh)
    if found.empty:
        st.success(tr("overview.monitoring_none"))
        return
    show = {"critical": st.error, "warning": st.warning, "info": st.info}
    for row in found.itertuples(index=False):
        show[row.severity](f"{getattr(row, f'message_{state.lang()}')} · {row.opened_at:%Y-%m-%d}")


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.overview"))
with state.guarded(), data.Reader(scope=scope) as reader:
    kpis(reader)
    left, right = st.columns([3, 2])
    with left, state.section():
        changes(reader)
    with right, state.section():
        alerts(reader)
    with state.section():
        monitoring(reader)
