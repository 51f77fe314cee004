"""Reading the VoC step's pre-aggregated tables for the Voice-of-the-customer page.

Keyword and topic counts per day filtered by date, model and topic (summed in the warehouse, never
scanned text by text), rising keywords, masked samples, and the word cloud image.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import streamlit as st

from carsight.dashboard import data
from carsight.dashboard.data import MissingTable, Reader, _cache
from carsight.warehouse.results_voc import VOC_CONSULTATIONS, VOC_KEYWORD_DAILY, VOC_RISING, VOC_TOPIC_DAILY

_DAY = ("day", "date", "ds", "consulted_on")
_COUNT = ("n", "count", "docs", "documents", "n_docs", "consultations")
_TEXT = ("masked_text", "text_masked", "masked")


def _pick(columns, candidates) -> str | None:
    return next((c for c in candidates if c in columns), None)


def _need(r: Reader, table: str, candidates, what: str) -> str:
    column = _pick(data.columns(r, table), candidates)
    if column is None:
        raise MissingTable(f"{table}.{what}")
    return column


def date_bounds(r: Reader) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day with keyword counts."""
    table = VOC_KEYWORD_DAILY.name
    day = _need(r, table, _DAY, "day")
    return _bounds(r, r.key, table, day)


@_cache
def _bounds(_r: Reader, key: str, table: str, day: str):
    t = _r.table(table)
    row = t.aggregate(first=t[day].min(), last=t[day].max()).execute().iloc[0]
    if pd.isna(row["last"]):
        return None, None
    return pd.Timestamp(row["first"]).date(), pd.Timestamp(row["last"]).date()


def options(r: Reader, column: str) -> list:
    """The values of ``column`` (model or topic) the filters offer."""
    for table in (VOC_TOPIC_DAILY.name, VOC_KEYWORD_DAILY.name):
        if r.has(table) and column in data.columns(r, table):
            return data.distinct(r, table, column)
    return []


def _filter(t: ibis.Table, day: str, start, end, model, topic) -> ibis.Table:
    t = t.filter((t[day] >= start) & (t[day] <= end))
    if model is not None and "model" in t.columns:
        t = t.filter(t.model == model)
    if topic is not None and "topic" in t.columns:
        t = t.filter(t.topic == topic)
    return t


def keyword_ranking(r: Reader, start, end, model, topic, limit: int = 30) -> pd.DataFrame:
    """Keywords ranked by mentions within the filters."""
    return _keyword_ranking(r, r.key, start, end, model, topic, limit)


@_cache
def _keyword_ranking(_r: Reader, key: str, start, end, model, topic, limit) -> pd.DataFrame:
    from carsight.voc.aggregate import top_keywords

    _r.table(VOC_KEYWORD_DAILY.name)  # a clear "run the pipeline" when absent or empty
    frame = top_keywords(_r.wh, model=model, topic=topic, start=start, end=end, n=limit)
    return frame.rename(columns={"count": "n"})


def rising(r: Reader, period: str | None = None) -> pd.DataFrame:
    """Keywords tested for ``period`` (YYYY-MM.

    The latest tested period up to it, or the latest overall), significant ones first, strongest
    rise first.
    """
    frame = data.read(r, VOC_RISING.name)
    if frame.empty:
        return frame
    periods = frame.period[frame.period <= period] if period else frame.period
    chosen = periods.max() if len(periods) else frame.period.max()
    latest = frame[frame.period == chosen]
    return latest.sort_values(["significant", "ratio"], ascending=[False, False])


def rising_periods(r: Reader) -> pd.Series:
    """Significant rising keywords per tested period (only periods that have any), newest first."""
    frame = data.read(r, VOC_RISING.name)
    if frame.empty:
        return pd.Series(dtype="int64")
    counts = frame[frame.significant.astype(bool)].groupby("period").size()
    return counts.sort_index(ascending=False)


def topic_trend(r: Reader, start, end, model, topic) -> pd.DataFrame:
    """Consultations per week and topic within the filters."""
    return _topic_trend(r, r.key, start, end, model, topic)


@_cache
def _topic_trend(_r: Reader, key: str, start, end, model, topic) -> pd.DataFrame:
    table = VOC_TOPIC_DAILY.name
    day = _need(_r, table, _DAY, "day")
    n = _need(_r, table, _COUNT, "count")
    t = _filter(_r.table(table), day, start, end, model, topic)
    # Weeks, so a 90-day window shows a readable trend rather than daily noise.
    t = t.mutate(period=t[day].cast("date").truncate("W"))
    return t.group_by(["period", "topic"]).aggregate(n=t[n].sum()).order_by(["period", "topic"]).execute()


def sample_texts(r: Reader, start, end, model, topic, n: int = 20) -> pd.DataFrame:
    """The same ``n`` masked texts for the same filters."""
    return _sample_texts(r, r.key, start, end, model, topic, n)


@_cache
def _sample_texts(_r: Reader, key: str, start, end, model, topic, n) -> pd.DataFrame:
    table = VOC_CONSULTATIONS.name
    cols = data.columns(_r, table)
    text = _pick(cols, _TEXT)
    if text is None:
        raise MissingTable(f"{table}.masked_text")
    when = _pick(cols, ("consulted_at", *_DAY))
    t = _r.table(table)
    t = t.filter((t[when] >= start) & (t[when] < end + dt.timedelta(days=1)))
    if model is not None and "model" in cols:
        t = t.filter(t.model == model)
    if topic is not None and "topic" in cols:
        t = t.filter(t.topic == topic)
    keep = [c for c in (when, "model", "topic", text) if c in cols]
    # A deterministic "random" sample: the same filters show the same texts on every rerun.
    return t.select(keep).order_by(t[keep[-1]].hash()).limit(n).execute()


@st.cache_data(show_spinner=False, max_entries=16)
def word_cloud(ranking: pd.DataFrame) -> bytes:
    """A PNG word cloud of the ranked keywords (the VoC area's renderer, with the bundled Korean font)."""
    import tempfile
    from pathlib import Path

    from carsight.voc.wordcloud import render_wordcloud

    freqs = dict(zip(ranking.keyword.astype(str), ranking.n.astype(float), strict=False))
    with tempfile.TemporaryDirectory() as tmp:
        path = render_wordcloud(freqs, Path(tmp) / "cloud.png", width=800, height=380)
        return path.read_bytes()
