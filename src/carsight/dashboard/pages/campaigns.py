"""Campaigns (marketing).

Pick a propensity target and a grade cut, read the holdout lift of the model against its baseline,
see expected responders and profit for a contact cost and margin, export the target list, and hand
it to e-mail sending (carsight.notify). Below, the repurchase trigger rules at the same cost and
margin, and a target list from the rule chosen.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from carsight.config import get_settings
from carsight.customers.deciles import profit_table
from carsight.customers.triggers import profit_efficiency
from carsight.dashboard import charts, data, frames, results, signin, state
from carsight.dashboard.state import tr
from carsight.errors import CarsightError
from carsight.i18n import word
from carsight.notify import send_campaign, shipped_templates
from carsight.warehouse.results_insights import TRIGGER_RULES
from carsight.warehouse.results_value import PROPENSITY_DECILES, PROPENSITY_METRICS, PROPENSITY_SCORES
from carsight.warehouse.sharing import is_lock_error


def controls(r: data.Reader) -> dict:
    """The target, grade cut, contact cost and margin the page works with."""
    found = data.distinct(r, PROPENSITY_SCORES.name, "target")
    # The usual marketing order first; any other target a company trained after them.
    targets = [t_ for t_ in ("repurchase", "response", "churn") if t_ in found] + [
        t_ for t_ in found if t_ not in ("repurchase", "response", "churn")
    ]
    if not targets:
        st.info(tr("notice.no_rows", table=PROPENSITY_SCORES.name))
        st.stop()
    c1, c2, c3, c4 = st.columns(4)
    target = c1.selectbox(
        tr("camp.target"), targets, key=state.TARGET, persist_state=state.PERSIST, format_func=lambda v: tr_target(v)
    )
    cut = c2.slider(tr("camp.cut"), 1, 10, 3, key="camp_cut", help=tr("camp.cut_help"))
    cost = c3.number_input(tr("camp.cost"), min_value=0.0, value=3_000.0, step=500.0, key="camp_cost", format="%.0f")
    margin = c4.number_input(
        tr("camp.margin"), min_value=0.0, value=300_000.0, step=10_000.0, key="camp_margin", format="%.0f"
    )
    return {"target": target, "cut": int(cut), "cost": float(cost), "margin": float(margin)}


def tr_target(value: str) -> str:
    """A target in the current language."""
    return word("value.target", value, state.lang())


def holdout(r: data.Reader, c: dict) -> None:
    """The holdout lift and profit per grade of the chosen target, beside the baseline."""
    st.subheader(tr("camp.holdout", target=tr_target(c["target"])))
    deciles = data.read(r, PROPENSITY_DECILES.name, where=(("target", c["target"]),), order_by=("model", "decile"))
    if deciles.empty:
        st.info(tr("notice.no_rows", table=PROPENSITY_DECILES.name))
        return
    metrics = (
        data.read(r, PROPENSITY_METRICS.name, where=(("target", c["target"]),))
        if r.has(PROPENSITY_METRICS.name)
        else pd.DataFrame()
    )
    left, right = st.columns(2)
    with left:
        fig = go.Figure()
        for i, (model, part) in enumerate(deciles.groupby("model", sort=True)):
            fig.add_trace(
                go.Bar(x=part.decile, y=part.lift, name=str(model), marker_color=charts.COLORS[i % len(charts.COLORS)])
            )
        fig.add_hline(y=1.0, line_dash="dot", annotation_text=tr("camp.lift_one"))
        charts.style(fig, tr("camp.lift_chart"), tr("axis.decile"), tr("axis.lift"))
        fig.update_layout(barmode="group")
        charts.show(fig, key="camp_lift")
    main_model = _main_model(deciles)
    main = deciles[deciles.model == main_model].sort_values("decile")
    table = profit_table(main, margin=c["margin"], contact_cost=c["cost"])
    best = table.loc[table.profit.idxmax()]
    with right:
        fig = go.Figure(go.Scatter(x=table.decile, y=table.profit, mode="lines+markers", name=tr("camp.profit")))
        fig.add_vline(x=c["cut"], line_dash="dot", annotation_text=tr("camp.your_cut"))
        charts.style(fig, tr("camp.profit_chart", model=main_model), tr("axis.decile"), tr("axis.profit_krw"))
        charts.show(fig, key="camp_profit")
    chosen = main[main.decile <= c["cut"]]
    overall = main.positives.sum() / max(main.customers.sum(), 1)
    rate = chosen.positives.sum() / max(chosen.customers.sum(), 1)
    st.markdown(
        tr(
            "camp.holdout_summary",
            cut=c["cut"],
            rate=rate * 100,
            overall=overall * 100,
            n=int(main.customers.sum()),
            positives=int(main.positives.sum()),
        )
    )
    if best.profit > 0:
        st.caption(tr("camp.best_grade", grade=int(best.decile), profit=best.profit))
    else:
        st.caption(tr("camp.no_grade_pays"))
    if not metrics.empty:
        cols = [c_ for c_ in results.PROPENSITY_METRIC_COLUMNS if c_ in metrics and c_ != "target"]
        frames.show(metrics, cols)
        if int(main.positives.sum()) < 50:
            st.warning(tr("notice.thin", n=int(main.positives.sum())))


def _main_model(deciles: pd.DataFrame) -> str:
    models = list(deciles.model.unique())
    for preferred in ("lightgbm",):
        if preferred in models:
            return preferred
    return next((m for m in models if "baseline" not in m), models[0])


def expected(r: data.Reader, c: dict) -> pd.DataFrame:
    """Expected responders and profit of contacting grades 1..cut today."""
    st.subheader(tr("camp.expected"))
    grades = results.grade_summary(r, c["target"])
    chosen = grades[grades.grade <= c["cut"]]
    contacted = int(chosen.customers.sum())
    responders = float(chosen.expected.sum())
    profit = c["margin"] * responders - c["cost"] * contacted
    cols = st.columns(4)
    cols[0].metric(tr("camp.contacted"), f"{contacted:,}")
    cols[1].metric(tr("camp.responders"), f"{responders:,.0f}")
    cols[2].metric(tr("camp.response_rate"), f"{responders / contacted * 100:.1f}%" if contacted else "—")
    cols[3].metric(tr("camp.expected_profit"), f"₩{profit:,.0f}")
    st.caption(tr("camp.expected_note"))
    return chosen


def target_list(r: data.Reader, c: dict) -> list[str]:
    """The target list of grades 1..cut, shown and downloadable; returns the customer ids."""
    st.subheader(tr("camp.list"))
    only_opt_in = st.checkbox(tr("camp.only_opt_in"), value=True, key="camp_opt_in")
    frame = results.target_list(r, c["target"], c["cut"], only_opt_in, state.lang())
    st.caption(tr("camp.list_size", n=len(frame)))
    frames.show(frame.head(100).rename(columns={f"reason1_{state.lang()}": "reason"}))
    st.download_button(
        tr("camp.download"),
        # Built only when clicked; the BOM makes Excel open Korean CSV correctly.
        data=signin.audited_download(
            f"campaigns:{c['target']}", frame.customer_id, lambda: frame.to_csv(index=False).encode("utf-8-sig")
        ),
        file_name=f"targets_{c['target']}_grade1-{c['cut']}.csv",
        mime="text/csv",
        key="camp_download",
    )
    return frame.customer_id.tolist()


def send(ids: list[str], c: dict) -> None:
    """The form that sends the campaign e-mail (a dry run by default)."""
    st.subheader(tr("camp.send"))
    with st.form("camp_send"):
        c1, c2, c3 = st.columns(3)
        campaign_id = c1.text_input(tr("camp.campaign_id"), value=f"{c['target']}-{dt.date.today():%Y%m%d}")
        template = c2.selectbox(tr("camp.template"), shipped_templates())
        dry = c3.checkbox(tr("camp.dry_run"), value=True, help=tr("camp.dry_run_help"))
        go_ = st.form_submit_button(tr("camp.send_button", n=len(ids)), type="primary")
    if not go_:
        return
    if not ids:
        st.warning(tr("camp.empty_list"))
        return
    from carsight.warehouse import Warehouse

    bar = st.progress(0.0)
    try:
        # A write (the delivery log): a few seconds' wait for the file, then the page says it is written.
        with Warehouse(data.location(), wait_s=3) as wh:
            report = send_campaign(
                wh,
                get_settings(),
                campaign_id,
                ids,
                template,
                lang=state.lang(),
                dry_run=dry,
                out_dir=get_settings().output_dir / "campaigns",
                on_progress=lambda done, total: bar.progress(done / max(total, 1)),
            )
    except CarsightError as exc:
        st.error(tr("notice.write_busy") if is_lock_error(exc) else tr("notice.error", message=str(exc)))
        return
    signin.record("campaign.send", campaign_id, ids, detail=f"template={template} dry_run={dry}")
    summary = report.as_dict()
    (st.success if report.ok else st.error)(
        tr(
            "camp.sent_report",
            **{k: summary[k] for k in ("requested", "sent", "failed", "already_sent", "pending", "written")},
            skipped=summary["skipped"],
        )
    )


def triggers(r: data.Reader, c: dict) -> None:
    """Stored repurchase trigger rules and the target list of the rule chosen.

    The rules are re-scored at this page's cost and margin; the list holds today's customers meeting
    the rule chosen.
    """
    st.subheader(tr("trig.title"))
    rules = data.read(r, TRIGGER_RULES.name, order_by=("rank",))
    if rules.empty:
        st.info(tr("trig.none"))
        return
    first = rules.iloc[0]
    st.caption(
        tr(
            "trig.intro",
            reference=pd.Timestamp(first.reference_date).date().isoformat(),
            horizon=int(first.horizon_days),
            population=int(first.population),
            rate=float(first.base_rate),
        )
    )
    rules["profit_efficiency"] = profit_efficiency(rules.responders, rules.customers, c["margin"], max(c["cost"], 1e-9))
    only_rep = st.checkbox(tr("trig.only_representative"), value=True, key="trig_representative")
    shown = rules[rules.representative.astype(bool)] if only_rep else rules
    population, base_rate = int(first.population), float(first.base_rate)
    everyone = float(profit_efficiency(base_rate * population, population, c["margin"], max(c["cost"], 1e-9)))
    top = rules[rules.representative.astype(bool)].head(5)
    if len(top) and pd.notna(top.union_customers.iloc[-1]):
        union = float(
            profit_efficiency(
                top.union_responders.iloc[-1], top.union_customers.iloc[-1], c["margin"], max(c["cost"], 1e-9)
            )
        )
        ratio = union / everyone if everyone > 0 else float("nan")
        st.markdown(tr("trig.everyone", everyone=everyone, top=union, ratio=ratio))
    fig = charts.bars(
        shown.head(10), "conditions", "lift", tr("trig.chart", n=min(10, len(shown))), tr("trig.axis"),
        tr("axis.lift"), horizontal=True, color=charts.COLORS[2], text_fmt="%{x:.2f}",
    )  # fmt: skip
    charts.show(fig, key="trig_chart")
    cols = ["conditions", "coverage", "confidence", "lift", "customers", "responders", "profit_efficiency"]
    table = shown[cols].head(50).assign(coverage=lambda f: f.coverage * 100, confidence=lambda f: f.confidence * 100)
    frames.show(
        table,
        cols,
        formats={"coverage": "%.2f%%", "confidence": "%.1f%%", "lift": "%.2f", "profit_efficiency": "%.2f"},
        section="insights.column",
    )
    chosen = st.selectbox(tr("trig.pick"), shown.conditions.head(50).tolist(), key="trig_rule")
    if not chosen:
        return
    only_opt_in = st.checkbox(tr("camp.only_opt_in"), value=True, key="trig_opt_in")
    frame = results.trigger_targets(r, chosen, only_opt_in)
    as_of = pd.Timestamp(frame.as_of.iloc[0]).date().isoformat() if len(frame) else "—"
    st.markdown(tr("trig.list", as_of=as_of))
    st.caption(tr("trig.list_size", n=len(frame)))
    frames.show(frame.head(100), [c for c in frame.columns if c != "as_of"])
    st.download_button(
        tr("trig.download"),
        data=signin.audited_download(
            "campaigns:trigger", frame.customer_id, lambda: frame.to_csv(index=False).encode("utf-8-sig")
        ),
        file_name="targets_trigger_rule.csv",
        mime="text/csv",
        key="trig_download",
    )


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.campaigns"))
with state.guarded(), data.Reader(scope=scope) as reader:
    chosen = controls(reader)
    with state.section():
        holdout(reader, chosen)
    with state.section():
        expected(reader, chosen)
    with state.section():
        ids = target_list(reader, chosen)
        send(ids, chosen)
    with state.section():
        triggers(reader, chosen)
