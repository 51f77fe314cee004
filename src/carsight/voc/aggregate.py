"""Daily pre-aggregates (date × model × topic × keyword) and the fast question they answer.

"top keywords for model X, topic Y between dates A and B", as an Ibis query over the aggregate
instead of re-reading and re-tokenising the text. :func:`top_keywords_scan` is the slow reference
answer.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from carsight.access.reader import ScopedReader, scoped
from carsight.access.scope import LOCAL
from carsight.warehouse import results_voc as R


def build_daily(frame: pd.DataFrame, token_lists: Sequence[Sequence[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``frame`` has one row per consultation with ``date``, ``model``, ``topic``; ``token_lists`` its tokens.

    Returns (keyword_daily, topic_daily); a keyword counts once per consultation.
    """
    if len(frame) != len(token_lists):
        raise ValueError("frame and token lists differ in length")
    keys = frame[["date", "model", "topic"]].reset_index(drop=True)
    topic_daily = keys.groupby(["date", "model", "topic"], dropna=False, sort=True).size().reset_index(name="count")
    vocab: dict[str, int] = {}
    doc_idx: list[int] = []
    kw_idx: list[int] = []
    for i, tokens in enumerate(token_lists):
        for token in set(tokens):
            code = vocab.setdefault(token, len(vocab))
            doc_idx.append(i)
            kw_idx.append(code)
    columns = ["date", "model", "topic", "keyword", "count"]
    if not vocab:
        return pd.DataFrame(columns=columns), topic_daily
    cell, cells = pd.MultiIndex.from_frame(keys).factorize()
    doc = np.asarray(doc_idx, dtype=np.int64)
    combined = cell[doc].astype(np.int64) * len(vocab) + np.asarray(kw_idx, dtype=np.int64)
    unique, counts = np.unique(combined, return_counts=True)
    words = np.array(list(vocab), dtype=object)
    cell_frame = cells.to_frame(index=False).iloc[unique // len(vocab)].reset_index(drop=True)
    cell_frame.columns = ["date", "model", "topic"]
    cell_frame["keyword"] = words[unique % len(vocab)]
    cell_frame["count"] = counts.astype(np.int64)
    # Stored in (model, topic, date) order: the warehouse's min/max zone maps then skip most of the
    # table for the usual "this model, this topic" filters.
    keyword_daily = cell_frame.sort_values(["model", "topic", "date", "keyword"], kind="stable").reset_index(drop=True)
    return keyword_daily[columns], topic_daily


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
