"""Customer desk (dealer).

Find a customer and see everything about them on one screen, or type in a new customer and get their
segment and the models to show, then save them.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from carsight.dashboard import data, desk, forms, frames, results, signin, state
from carsight.dashboard.state import tr
from carsight.errors import InputError, WarehouseError
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import CUSTOMER_RFM
from carsight.warehouse.sharing import is_lock_error


def search(r: data.Reader) -> str | None:
    """The customer search; returns the id chosen."""
    text = st.text_input(
        tr("desk.search"), key=state.CUSTOMER, persist_state=state.PERSIST, placeholder=tr("desk.search_hint")
    )
    found = data.search_customers(r, text or "", limit=50)
    if found.empty:
        st.info(tr("desk.no_match"))
        return None
    labels = {
        row.customer_id: f"{row.customer_id} · {row.name or ''} · {row.region or ''}" for row in found.itertuples()
    }
    return st.selectbox(tr("desk.pick"), list(labels), format_func=labels.get, key="desk_pick")


def view(r: data.Reader, customer_id: str) -> None:
    """Everything about one customer on one screen."""
    person = data.rows_for(r, S.CUSTOMERS.name, "customer_id", customer_id)
    if person.empty:
        st.warning(tr("desk.not_found", id=customer_id))
        return
    p = person.iloc[0]
    st.subheader(f"{p['name'] or ''} ({customer_id})")
    cols = st.columns(4)
    cols[0].metric(tr("desk.gender"), tr(f"form.gender_{p['gender']}") if p["gender"] in S.GENDERS else "—")
    cols[1].metric(tr("desk.birth_year"), "—" if pd.isna(p["birth_year"]) else str(int(p["birth_year"])))
    cols[2].metric(tr("desk.region"), p["region"] or "—")
    cols[3].metric(tr("desk.opt_in"), tr("desk.yes") if p["marketing_opt_in"] else tr("desk.no"))

    left, right = st.columns(2)
    with left, state.section():
        st.markdown(f"**{tr('desk.rfm')}**")
        rfm = results.customer_row(r, CUSTOMER_RFM.name, customer_id)
        if rfm.empty:
            st.caption(tr("desk.no_rfm"))
        else:
            row = rfm.iloc[0]
            c = st.columns(3)
            c[0].metric(
                tr("desk.grade"),
                state.rfm_word("grade", row["grade"]),
                help=tr("desk.rfm_score", score=row["rfm_score"]),
            )
            c[1].metric(tr("desk.named_segment"), state.rfm_word("segment", row["named_segment"]))
            c[2].metric(tr("desk.group"), state.rfm_word("group", row["group"]))
    with right, state.section():
        st.markdown(f"**{tr('desk.segment')}**")
        seg = desk.segment_of(r, customer_id, state.lang())
        if seg is None:
            st.caption(tr("desk.no_segment"))
        else:
            st.metric(tr("desk.segment"), f"#{seg['segment_id']}")
            st.write(seg["profile"])

    with state.section():
        st.markdown(f"**{tr('desk.propensity')}**")
        scores = desk.propensity_of(r, customer_id, state.lang())
        if scores.empty:
            st.caption(tr("desk.no_scores"))
        else:
            frames.show(
                scores,
                ["target", "grade", "score_pct", "horizon_days", "reason1", "reason2", "reason3"],
                formats={"score_pct": "%.1f%%"},
            )
            st.caption(tr("desk.scores_note", as_of=frames.plain_date(scores.as_of.iloc[0])))
    with state.section():
        st.markdown(f"**{tr('desk.clv')}**")
        clv = desk.clv_of(r, customer_id)
        if clv is None:
            st.caption(tr("desk.no_clv"))
        else:
            c = st.columns(4)
            c[0].metric(tr("desk.p_alive"), _pct(clv.get("p_alive")))
            c[1].metric(tr("desk.expected_purchases"), _num(clv.get("expected_purchases"), ".2f"))
            c[2].metric(tr("desk.expected_value"), _krw(clv.get("expected_value")))
            c[3].metric(tr("desk.hurdle_value"), _krw(clv.get("hurdle_expected_value")))
            st.caption(
                tr("desk.clv_note", days=int(clv.get("horizon_days") or 0), as_of=frames.plain_date(clv.get("as_of")))
            )
    with state.section():
        st.markdown(f"**{tr('desk.recommended')}**")
        recs = results.customer_recommendations(r, customer_id)
        if recs.empty:
            st.caption(tr("desk.no_recs"))
        else:
            show_recommendations(recs)
    tabs = st.tabs([tr("desk.purchases"), tr("desk.visits"), tr("desk.consultations")])
    with tabs[0], state.section():
        purchases = data.rows_for(r, S.PURCHASES.name, "customer_id", customer_id, order_by="purchase_date")
        frames.show(purchases, PURCHASE_COLUMNS, formats={"amount": "localized"})
    with tabs[1], state.section():
        visits = data.rows_for(r, S.SERVICE_VISITS.name, "customer_id", customer_id, order_by="visit_date")
        frames.show(visits, VISIT_COLUMNS, formats={"amount": "localized"})
    with tabs[2], state.section():
        frames.show(desk.masked_consultations(r, customer_id))
        st.caption(tr("desk.masked_note"))


# What the desk shows of a customer's purchases and service visits, most telling first.
PURCHASE_COLUMNS = ("purchase_date", "model", "brand", "amount", "payment_type", "dealer", "channel", "purchase_id")
VISIT_COLUMNS = ("visit_date", "model", "service_type", "amount", "mileage_km", "visit_id")


def show_recommendations(recs: pd.DataFrame) -> None:
    """The recommended models with the reason in the current language."""
    recs = recs.rename(columns={f"reason_{state.lang()}": "reason"})
    frames.show(recs, ["rank", "model", "score", "reason"])


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _pct(value) -> str:
    return "—" if _missing(value) else f"{value * 100:.0f}%"


def _num(value, fmt: str) -> str:
    return "—" if _missing(value) else format(value, fmt)


def _krw(value) -> str:
    return "—" if _missing(value) else f"₩{value:,.0f}"


def new_customer(r: data.Reader) -> None:
    """The new-customer form: the segment and models at once, and saving the customer."""
    st.subheader(tr("desk.new"))
    regions = data.distinct(r, S.CUSTOMERS.name, "region")
    channels = data.distinct(r, S.CUSTOMERS.name, "channel")
    models = data.distinct(r, S.VEHICLES.name, "model") if r.has(S.VEHICLES.name) else []
    errors: dict = st.session_state.get("desk_form_errors", {})

    def field_error(name: str) -> None:
        if name in errors:
            st.error(errors[name])

    with st.form("new_customer", clear_on_submit=False):
        c1, c2, c3 = st.columns(3)
        with c1:
            st.text_input(tr("form.customer_id"), key="nc_customer_id")
            field_error("customer_id")
            st.text_input(tr("form.name"), key="nc_name")
            field_error("name")
            st.selectbox(
                tr("form.gender"),
                [None, *S.GENDERS],
                key="nc_gender",
                format_func=lambda g: "—" if g is None else tr(f"form.gender_{g}"),
            )
            field_error("gender")
            st.text_input(tr("form.age"), key="nc_age", placeholder="16–100")
            field_error("age")
        with c2:
            st.selectbox(tr("form.region"), [None, *regions], key="nc_region", format_func=lambda v: v or "—")
            st.selectbox(tr("form.channel"), [None, *channels], key="nc_channel", format_func=lambda v: v or "—")
            st.selectbox(
                tr("form.interest_model"), [None, *models], key="nc_interest_model", format_func=lambda v: v or "—"
            )
            field_error("interest_model")
            st.text_input(tr("form.budget"), key="nc_budget", placeholder="45,000,000")
            field_error("budget")
        with c3:
            st.selectbox(
                tr("form.payment_type"), [None, *S.PAYMENT_TYPES], key="nc_payment_type", format_func=lambda v: v or "—"
            )
            st.text_input(tr("form.email"), key="nc_email")
            field_error("email")
            st.text_input(tr("form.phone"), key="nc_phone")
            field_error("phone")
            st.checkbox(tr("form.opt_in"), key="nc_marketing_opt_in")
        b1, b2 = st.columns(2)
        check = b1.form_submit_button(tr("form.check"), type="primary", key="desk_check")
        save = b2.form_submit_button(tr("form.save"), key="desk_save")
    if check or save:
        raw = {k[3:]: v for k, v in st.session_state.items() if isinstance(k, str) and k.startswith("nc_")}
        result = forms.validate(raw, state.lang())
        answer = None
        if result.ok:
            try:
                with st.spinner(tr("desk.thinking")):
                    answer = desk.new_customer_answer(r, result.profile, state.lang())
            except InputError as exc:
                result.errors[exc.column or "age"] = str(exc)
        st.session_state["desk_form_errors"] = result.errors
        st.session_state["desk_answer"] = answer
        if result.ok and save:
            # DuckDB refuses a write connection while this process holds a read-only one.
            r.close()
            st.session_state["desk_saved"] = _save(result.values, result.errors)
        else:
            st.session_state.pop("desk_saved", None)
        st.rerun()
    if errors:
        st.error(tr("form.has_errors"))
    answer = st.session_state.get("desk_answer")
    if answer:
        show_answer(answer)
    saved = st.session_state.get("desk_saved")
    if saved:
        (st.success if saved["ok"] else st.warning)(saved["text"])


def _save(values: dict, errors: dict) -> dict:
    try:
        outcome = forms.save(data.location(), values, state.lang())
    except InputError as exc:
        errors[exc.column or "customer_id"] = exc.message
        return {"ok": False, "text": tr("form.has_errors")}
    except WarehouseError as exc:
        if is_lock_error(exc):
            return {"ok": False, "text": tr("notice.write_busy")}
        return {"ok": False, "text": tr("notice.error", message=str(exc))}
    return {"ok": True, "text": tr(f"form.saved_{outcome}", id=values["customer_id"])}


def show_answer(answer: dict) -> None:
    """The segment and recommended models of a new customer."""
    seg = answer.get("segment")
    c1, c2 = st.container(key="desk_answer").columns(2)
    with c1:
        if seg is None:
            st.info(answer.get("segment_missing") or tr("desk.no_segment"))
        else:
            st.metric(tr("desk.segment"), f"#{seg['segment_id']}")
            st.write(seg["profile"])
            for note in seg.get("notes", []):
                st.caption(note)
    with c2:
        recs = answer.get("recommendations")
        if recs is None or len(recs) == 0:
            st.info(answer.get("recs_missing") or tr("desk.no_recs"))
        else:
            st.markdown(f"**{tr('desk.recommended')}**")
            show_recommendations(recs)


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.desk"))
with state.guarded(), data.Reader(scope=scope) as reader:
    tab_find, tab_new = st.tabs([tr("desk.find"), tr("desk.new")])
    with tab_find, state.section():
        chosen = search(reader)
        if chosen:
            # An agent sees the customer being served unmasked, every other one masked.
            if scope.role == "agent":
                with data.Reader(scope=replace(scope, serving=chosen)) as serving:
                    view(serving, chosen)
            else:
                view(reader, chosen)
            signin.audit("read", "desk", [chosen])
    with tab_new, state.section():
        new_customer(reader)
