"""Daily pre-aggregates (date × model × topic × keyword) and the fast question they answer.

"top keywords for model X, topic Y between dates A and B", as an Ibis query over the aggregate
instead of re-reading and re-tokenising the text. :func:`top_keywords_scan` is the slow reference
answer.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from carsight.access.reader import ScopedReader, scoped
from carsight.access.scope import LOCAL
from carsight.warehouse import results_voc as R

# What identifies a row of ``voc_topic_daily`` (with the keyword, of ``voc_keyword_daily``).
DAILY_KEYS = ["date", "model", "topic"]
# ``voc_keyword_daily`` is stored in this order: the warehouse's min/max zone maps then skip most of
# the table for the usual "this model, this topic" filters.
KEYWORD_DAILY_ORDER = ["model", "topic", "date", "keyword"]
# A keyword is tested for rising in a month when this many texts of the month mention it.
RISING_MIN_COUNT = 5


def mentioned(tokens: Iterable[str]) -> list[str]:
    """The keywords a text mentions, each once and sorted: a keyword counts once per consultation."""
    return sorted(set(tokens))


def build_daily(frame: pd.DataFrame, token_lists: Sequence[Sequence[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``frame`` has one row per consultation with ``date``, ``model``, ``topic``; ``token_lists`` its tokens.

    Returns (keyword_daily, topic_daily); a keyword counts once per consultation (:func:`mentioned`).
    """
    if len(frame) != len(token_lists):
        raise ValueError("frame and token lists differ in length")
    keys = frame[DAILY_KEYS].reset_index(drop=True)
    topic_daily = keys.groupby(DAILY_KEYS, dropna=False, sort=True).size().reset_index(name="count")
    vocab: dict[str, int] = {}
    doc_idx: list[int] = []
    kw_idx: list[int] = []
    for i, tokens in enumerate(token_lists):
        for token in mentioned(tokens):
            code = vocab.setdefault(token, len(vocab))
            doc_idx.append(i)
            kw_idx.append(code)
    columns = [*DAILY_KEYS, "keyword", "count"]
    if not vocab:
        return pd.DataFrame(columns=columns), topic_daily
    cell, cells = pd.MultiIndex.from_frame(keys).factorize()
    doc = np.asarray(doc_idx, dtype=np.int64)
    combined = cell[doc].astype(np.int64) * len(vocab) + np.asarray(kw_idx, dtype=np.int64)
    unique, counts = np.unique(combined, return_counts=True)
    words = np.array(list(vocab), dtype=object)
    cell_frame = cells.to_frame(index=False).iloc[unique // len(vocab)].reset_index(drop=True)
    cell_frame.columns = DAILY_KEYS
    cell_frame["keyword"] = words[unique % len(vocab)]
    cell_frame["count"] = counts.astype(np.int64)
    keyword_daily = cell_frame.sort_values(KEYWORD_DAILY_ORDER, kind="stable").reset_index(drop=True)
    return keyword_daily[columns], topic_daily


def monthly_mentions(
    months: Sequence[pd.Period], token_lists: Sequence[Sequence[str]]
) -> tuple[pd.DataFrame, pd.Series]:
    """Texts per month mentioning each keyword, and texts per month: the input of :func:`rising_by_month`.

    Parameters
    ----------
    months : sequence of pandas.Period
        Each text's month.
    token_lists : sequence of sequences of str
        Each text's tokens.

    Returns
    -------
    tuple of pandas.DataFrame and pandas.Series
        ``month``, ``keyword``, ``count`` (texts that month mentioning it), and the texts per month.
    """
    keywords = pd.DataFrame({"month": list(months), "keyword": [mentioned(t) for t in token_lists]})
    exploded = keywords.explode("keyword").dropna(subset=["keyword"])
    mentions = exploded.groupby(["month", "keyword"], sort=True).size().reset_index(name="count")
    return mentions, keywords["month"].value_counts()


def rising_by_month(mentions: pd.DataFrame, texts: pd.Series, *, min_count: int = RISING_MIN_COUNT) -> pd.DataFrame:
    """Rising keywords of every month against the month before (the dashboard picks the period).

    Parameters
    ----------
    mentions : pandas.DataFrame
        ``month`` (pandas.Period), ``keyword``, ``count``: texts that month mentioning the keyword
        (:func:`monthly_mentions`). Only the rows of keywords mentioned ``min_count`` times or more
        in a month, and their rows of the month before, are needed.
    texts : pandas.Series
        Texts per month (indexed by pandas.Period).
    min_count : int
        Mentions a keyword needs in a month to be tested.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`carsight.voc.keywords.rising_keywords` for every month with texts in the
        month before, one after the other.
    """
    from carsight.voc.keywords import rising_from_counts

    by_month = {month: part.set_index("keyword")["count"] for month, part in mentions.groupby("month", sort=True)}
    parts = []
    for current in sorted(texts.index):
        previous = current - 1
        if previous not in texts.index or current not in by_month:
            continue
        counts = by_month[current]
        keywords = sorted(counts.index)
        before = by_month.get(previous, pd.Series(dtype="int64"))
        part = rising_from_counts(
            keywords,
            counts.reindex(keywords).to_numpy(),
            before.reindex(keywords, fill_value=0).to_numpy(),
            int(texts[current]),
            int(texts[previous]),
            period=str(current),
            min_count=min_count,
        )
        if len(part):
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[c.name for c in R.VOC_RISING.columns])
    return pd.concat(parts, ignore_index=True)


def _as_list(value) -> list | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def _filtered(table, models, topics, start, end, date_col: str):
    """``table`` filtered; each value may be a literal or an Ibis expression standing in for one."""
    if models is not None:
        table = table.filter(table.model.isin(models))
    if topics is not None:
        table = table.filter(table.topic.isin(topics))
    if start is not None:
        table = table.filter(table[date_col] >= start)
    if end is not None:
        table = table.filter(table[date_col] <= end)
    return table


def _top_keywords_expr(table, models, topics, start, end, n: int):
    import ibis

    table = _filtered(table, models, topics, start, end, "date")
    return (
        table.group_by("keyword")
        .aggregate(count=table["count"].sum())
        .order_by([ibis.desc("count"), "keyword"])
        .limit(n)
    )


def top_keywords(
    wh,
    model: str | Sequence[str] | None = None,
    topic: str | Sequence[str] | None = None,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    n: int = 20,
) -> pd.DataFrame:
    """Top ``n`` keywords (``keyword``, ``count`` = consultations mentioning it) for the filters given (each optional.

    ``start``/``end`` inclusive; ``model``/``topic`` one value or a list), from
    ``voc_keyword_daily``, read through the scoped reader (``wh`` is one, or a warehouse read in
    local mode).

    The query is an Ibis expression run by :meth:`carsight.access.reader.ScopedReader.query`: on
    DuckDB its compiled SQL is kept per query shape and run as a prepared statement, so a dashboard
    pays the compile cost once.
    """
    reader = wh if isinstance(wh, ScopedReader) else scoped(wh, LOCAL)
    models, topics = _as_list(model), _as_list(topic)
    values: dict[str, object] = {f"m{i}": str(v) for i, v in enumerate(models or [])}
    values.update({f"t{i}": str(v) for i, v in enumerate(topics or [])})
    if start is not None:
        values["start"] = _day(start)
    if end is not None:
        values["end"] = _day(end)
    shape = (
        "top_keywords",
        None if models is None else len(models),
        None if topics is None else len(topics),
        start is not None,
        end is not None,
        int(n),
    )

    def build(table, param):
        return _top_keywords_expr(
            table(R.VOC_KEYWORD_DAILY.name),
            None if models is None else [param(f"m{i}") for i in range(len(models))],
            None if topics is None else [param(f"t{i}") for i in range(len(topics))],
            param("start").cast("date") if start is not None else None,
            param("end").cast("date") if end is not None else None,
            n,
        )

    out = reader.query(shape, build, values)
    out = out[["keyword", "count"]].reset_index(drop=True)
    out["count"] = out["count"].astype("int64")
    return out


def topic_counts(wh, model=None, start=None, end=None) -> pd.DataFrame:
    """Consultations per topic for the filters given, from ``voc_topic_daily``."""
    import ibis

    table = _filtered(
        wh.table(R.VOC_TOPIC_DAILY.name),
        _as_list(model),
        None,
        _day(start) if start is not None else None,
        _day(end) if end is not None else None,
        "date",
    )
    expr = table.group_by("topic").aggregate(count=table["count"].sum()).order_by([ibis.desc("count"), "topic"])
    return expr.to_pandas()


def top_keywords_scan(wh, tokenizer, model=None, topic=None, start=None, end=None, n: int = 20) -> pd.DataFrame:
    """The same answer as :func:`top_keywords`, from the masked texts.

    Reads the masked texts and tokenises them again (what dashboards did before pre-aggregation;
    kept as the reference and the benchmark baseline).
    """
    table = _filtered(
        wh.table(R.VOC_CONSULTATIONS.name),
        _as_list(model),
        _as_list(topic),
        _day(start) if start is not None else None,
        _day(end) if end is not None else None,
        "date",
    )
    texts = table.select("text_masked").to_pandas()["text_masked"].fillna("").tolist()
    counter: Counter = Counter()
    for tokens in tokenizer.tokenize_many(texts):
        counter.update(set(tokens))
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return pd.DataFrame(ranked, columns=["keyword", "count"]).astype({"count": "int64"})
