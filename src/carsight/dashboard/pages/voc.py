"""Voice of the customer (call-centre managers).

Filter by date range, model and topic; keyword ranking and rising keywords; topic trend; a word
cloud; a sample of masked consultation texts.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from carsight.dashboard import charts, data, frames, state, voc
from carsight.dashboard.state import tr
from carsight.warehouse.results_voc import VOC_KEYWORD_DAILY


def filters(r: data.Reader) -> dict:
    """The date range, model and topic the page shows."""
    first, last = voc.date_bounds(r)
    if last is None:
        st.info(tr("notice.no_rows", table=VOC_KEYWORD_DAILY.name))
        st.stop()
    default = (max(first, last - dt.timedelta(days=89)), last)
    c1, c2, c3 = st.columns([2, 1, 1])
    chosen = c1.date_input(
        tr("filter.dates"),
        value=default,
        min_value=first,
        max_value=last,
        key=state.DATE_RANGE,
        persist_state=state.PERSIST,
    )
    models = voc.options(r, "model")
    topics = voc.options(r, "topic")
    model = c2.selectbox(
        tr("filter.model"),
        [None, *models],
        key=state.MODEL,
        persist_state=state.PERSIST,
        format_func=lambda v: tr("voc.all") if v is None else v,
    )
    topic = c3.selectbox(
        tr("filter.topic"),
        [None, *topics],
        key=state.TOPIC,
        persist_state=state.PERSIST,
        format_func=lambda v: tr("voc.all") if v is None else v,
    )
    start, end = chosen if isinstance(chosen, (tuple, list)) and len(chosen) == 2 else default
    return {"start": start, "end": end, "model": model, "topic": topic}


def keywords(r: data.Reader, f: dict) -> None:
    """Keyword ranking, rising keywords and the word cloud."""
    ranking = voc.keyword_ranking(r, f["start"], f["end"], f["model"], f["topic"], limit=30)
    left, right = st.columns(2)
    with left:
        st.subheader(tr("voc.ranking"))
        if ranking.empty:
            st.info(tr("voc.no_data"))
        else:
            fig = charts.bars(
                ranking.head(20),
                "keyword",
                "n",
                tr("voc.ranking_chart", start=f["start"], end=f["end"]),
                tr("axis.keyword"),
                tr("axis.count"),
                horizontal=True,
            )
            charts.show(fig, key="voc_ranking")
    with right:
        st.subheader(tr("voc.rising"))
        rising = voc.rising(r, f"{f['end']:%Y-%m}")
        if rising.empty:
            st.info(tr("voc.no_rising"))
        else:
            frames.show(
                rising.head(20).rename(columns={"count": "this_month", "previous": "previous_month_count"}),
                ["keyword", "this_month", "previous_month_count", "ratio", "q_value", "significant"],
                formats={
                    "this_month": "localized",
                    "previous_month_count": "localized",
                    "ratio": "%.2f×",
                    "q_value": "%.3f",
                },
            )
            st.caption(tr("voc.rising_note", period=rising.period.iloc[0]))
        periods = voc.rising_periods(r)
        if len(periods):
            listed = ", ".join(f"{p} ({n})" for p, n in periods.head(6).items())
            st.caption(tr("voc.rising_periods", periods=listed))
    with state.section(), st.spinner(tr("voc.drawing")):
        st.subheader(tr("voc.cloud"))
        if ranking.empty:
            st.info(tr("voc.no_data"))
        else:
            image = voc.word_cloud(ranking)
            st.image(image, caption=tr("voc.cloud_caption", start=f["start"], end=f["end"]))


def topics(r: data.Reader, f: dict) -> None:
    """Consultations per topic and week."""
    st.subheader(tr("voc.topics"))
    trend = voc.topic_trend(r, f["start"], f["end"], f["model"], f["topic"])
    if trend.empty:
        st.info(tr("voc.no_data"))
        return
    fig = charts.grouped_lines(trend, "period", "n", "topic", tr("voc.topic_chart"), tr("axis.week"), tr("axis.count"))
    charts.show(fig, key="voc_topics")


def sample(r: data.Reader, f: dict) -> None:
    """A sample of masked consultation texts."""
    st.subheader(tr("voc.sample"))
    frame = voc.sample_texts(r, f["start"], f["end"], f["model"], f["topic"], n=20)
    if frame.empty:
        st.info(tr("voc.no_data"))
        return
    frames.show(frame)
    st.caption(tr("desk.masked_note"))


scope = state.scope()  # first: with nobody signed in, the sign-in page is all that is drawn
st.title(tr("page.voc"))
with state.guarded(), data.Reader(scope=scope) as reader:
    chosen = filters(reader)
    with state.section():
        keywords(reader, chosen)
    with state.section():
        topics(reader, chosen)
    with state.section():
        sample(reader, chosen)
