"""Cached, read-only, pre-aggregated queries behind the dashboard pages.

Connection policy (why): readers never wait for writers. Every page reads the newest snapshot the
warehouse's writers published (:func:`carsight.warehouse.reading.open_reader`, the one read path),
so a pipeline run, a load or a saved customer never makes a page wait or say "busy"; before anything
was published, the warehouse itself, read-only. A :class:`Reader` looks up the newest snapshot when
a page run starts (a file read, no connection), opens it on the first cache miss and closes it when
the run ends; a run whose queries are all cached opens nothing. Every cached query is keyed by the
warehouse location and the snapshot's name, so a new publication invalidates the cache on the next
page view. Non-DuckDB warehouses (Ibis URLs) are read live with a one-minute stamp.

Queries aggregate in the warehouse (Ibis) and return small frames; no page pulls a fact table.

Every read goes through the one scoped reader (:func:`carsight.access.reader.scoped`): a page run
reads as one :class:`~carsight.access.scope.Scope` (``LOCAL``, the local one-person mode, unless
the caller says whose run it is), and the scope is part of every cache key, so two users never
share a cached answer.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import streamlit as st

from carsight.access.reader import ScopedReader, scoped
from carsight.access.scope import LOCAL, Scope
from carsight.config import get_settings
from carsight.errors import CarsightError
from carsight.warehouse import schema as S
from carsight.warehouse.reading import open_reader, reading_stamp, stamp_of
from carsight.warehouse.sharing import Publication, duckdb_file, latest_publication


class MissingTable(CarsightError):
    """A table the page needs is not in the warehouse yet."""

    def __init__(self, table: str):
        super().__init__(table)
        self.table = table

    @property
    def is_result(self) -> bool:
        """Whether the missing table is a result table (the pipeline writes it)."""
        return self.table not in S.SOURCE_TABLES


def location() -> str:
    """The configured warehouse location."""
    return get_settings().warehouse


class Reader:
    """The published results for one page run: opened read-only on first use, closed at the end.

    Attributes
    ----------
    location : str
        The configured warehouse.
    publication : Publication or None
        The snapshot this page run reads (looked up when the run starts); None when nothing was
        published yet (the warehouse itself is read) or for a server warehouse.
    scope : Scope
        Whose page run this is: what it may read and what is masked (default: local one-person mode).
    """

    def __init__(self, loc: str | None = None, *, scope: Scope = LOCAL):
        self.location = loc or location()
        self.scope = scope
        path = duckdb_file(self.location)
        self.publication: Publication | None = latest_publication(path) if path is not None else None
        self.version = self.publication.file if self.publication is not None else reading_stamp(self.location)
        self._wh: ScopedReader | None = None

    @property
    def key(self) -> str:
        """The cache key of this page run: as whom, the location, and what it reads."""
        s = self.scope
        return f"{s.role}:{','.join(sorted(s.dealers))}:{s.serving or ''}#{self.location}@{self.version}"

    @property
    def wh(self) -> ScopedReader:
        """The scoped read-only connection, opened on first use."""
        if self._wh is None:
            reader = open_reader(self.location, publication=self.publication)
            if reader.publication != self.publication:  # replaced a moment ago: key what is read
                self.publication = reader.publication
                self.version = stamp_of(reader, self.location)
            self._wh = scoped(reader, self.scope)
        return self._wh

    def table(self, name: str, *, allow_empty: bool = False) -> ibis.Table:
        """An Ibis table.

        A result table that is absent or empty (created by ``carsight init`` but never filled)
        raises :class:`MissingTable`, so the page says to run the pipeline.
        """
        if not self.has(name, allow_empty=allow_empty):
            raise MissingTable(name)
        return self.wh.table(name)

    def has(self, *names: str, allow_empty: bool = False) -> bool:
        """Whether every table in ``names`` exists and, for result tables, has rows."""
        present = tables(self)
        for name in names:
            if name not in present:
                return False
            if not allow_empty and name not in S.SOURCE_TABLES and not _has_rows(self, self.key, name):
                return False
        return True

    def close(self) -> None:
        """Let go of the snapshot."""
        if self._wh is not None:
            self._wh.close()
            self._wh = None

    def __enter__(self) -> Reader:
        """Use the reader for one page run."""
        return self

    def __exit__(self, *exc) -> None:
        """Close the connection at the end of the page run."""
        self.close()


# Every cached function takes the reader as ``_r`` (not hashed) and the reader's key (hashed).
_cache = st.cache_data(show_spinner=False, max_entries=64)


def tables(r: Reader) -> dict[str, list[str]]:
    """Every table of the warehouse with its column names."""
    return _tables(r, r.key)


@_cache
def _tables(_r: Reader, key: str) -> dict[str, list[str]]:
    return _r.wh.catalogue()


@_cache
def _has_rows(_r: Reader, key: str, table: str) -> bool:
    return int(_r.wh.table(table).limit(1).count().execute()) > 0


def columns(r: Reader, table: str) -> list[str]:
    """The columns of ``table`` (empty when it is missing)."""
    return tables(r).get(table, [])


# ---- overview ---------------------------------------------------------------------------------
def monthly_activity(r: Reader) -> pd.DataFrame:
    """Per month: sales units, purchases, revenue, new customers, consultations (all months)."""
    return _monthly_activity(r, r.key)


@_cache
def _monthly_activity(_r: Reader, key: str) -> pd.DataFrame:
    frames = []
    present = tables(_r)

    def add(name: str, expr) -> None:
        frames.append(expr.execute().set_index("month"))

    if S.SALES_MONTHLY.name in present:
        t = _r.table(S.SALES_MONTHLY.name)
        add("units", t.group_by(month=t.month.cast("date")).aggregate(units=t.units.sum()))
    if S.PURCHASES.name in present:
        t = _r.table(S.PURCHASES.name)
        m = t.purchase_date.truncate("M").cast("date")
        add("purchases", t.group_by(month=m).aggregate(purchases=t.count(), revenue=t.amount.sum()))
    if S.CUSTOMERS.name in present:
        t = _r.table(S.CUSTOMERS.name)
        t = t.filter(t.join_date.notnull())
        add("new", t.group_by(month=t.join_date.truncate("M").cast("date")).aggregate(new_customers=t.count()))
    if S.CONSULTATIONS.name in present:
        t = _r.table(S.CONSULTATIONS.name)
        m = t.consulted_at.truncate("M").cast("date")
        add("consultations", t.group_by(month=m).aggregate(consultations=t.count()))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, axis=1).sort_index()
    out.index = pd.to_datetime(out.index)
    return out


def count(r: Reader, table: str) -> int:
    """Rows in ``table``."""
    return _count(r, r.key, table)


@_cache
def _count(_r: Reader, key: str, table: str) -> int:
    return int(_r.table(table).count().execute())


def latest_date(r: Reader, table: str, column: str) -> dt.date | None:
    """The latest date in ``column`` of ``table``, or None when it is empty."""
    return _latest(r, r.key, table, column)


@_cache
def _latest(_r: Reader, key: str, table: str, column: str):
    value = _r.table(table)[column].max().execute()
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def value_counts(r: Reader, table: str, column: str, *, where: tuple = ()) -> pd.DataFrame:
    """Rows per value of ``column`` (``where``: pairs of column and allowed values)."""
    return _value_counts(r, r.key, table, column, where)


@_cache
def _value_counts(_r: Reader, key: str, table: str, column: str, where: tuple) -> pd.DataFrame:
    t = _filtered(_r.table(table), where)
    return t.group_by(column).aggregate(n=t.count()).order_by(ibis.desc("n")).execute()


def _filtered(t: ibis.Table, where: tuple) -> ibis.Table:
    for column, values in where:
        if values is None:
            continue
        t = t.filter(t[column].isin(list(values))) if isinstance(values, tuple) else t.filter(t[column] == values)
    return t


def read(r: Reader, table: str, *, where: tuple = (), order_by: tuple = (), limit: int | None = None) -> pd.DataFrame:
    """A small table (or a filtered slice of one) as pandas: for result tables that are already aggregates."""
    return _read(r, r.key, table, where, order_by, limit)


@_cache
def _read(_r: Reader, key: str, table: str, where: tuple, order_by: tuple, limit: int | None) -> pd.DataFrame:
    t = _filtered(_r.table(table), where)
    if order_by:
        t = t.order_by([ibis.desc(c[1:]) if c.startswith("-") else c for c in order_by])
    if limit is not None:
        t = t.limit(limit)
    return t.execute()


def distinct(r: Reader, table: str, column: str) -> list:
    """The distinct values of ``column``, sorted, without missing values."""
    return _distinct(r, r.key, table, column)


@_cache
def _distinct(_r: Reader, key: str, table: str, column: str) -> list:
    t = _r.table(table)
    values = t.select(column).distinct().order_by(column).execute()[column]
    return [v for v in values.tolist() if v is not None and not (isinstance(v, float) and pd.isna(v))]


# ---- market (source: sales_monthly) -----------------------------------------------------------
def sales(
    r: Reader,
    by: tuple[str, ...],
    *,
    kinds: tuple = (),
    brands: tuple = (),
    markets: tuple = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Units summed by ``by`` (columns of sales_monthly, plus ``year``) within the filters."""
    return _sales(r, r.key, by, kinds, brands, markets, start, end)


@_cache
def _sales(_r, key, by, kinds, brands, markets, start, end) -> pd.DataFrame:
    t = _r.table(S.SALES_MONTHLY.name)
    for column, values in (("kind", kinds), ("brand", brands), ("market", markets)):
        if values:
            t = t.filter(t[column].isin(list(values)))
    if start is not None:
        t = t.filter(t.month >= start)
    if end is not None:
        t = t.filter(t.month <= end)
    t = t.mutate(year=t.month.year())
    keys = [t[c] for c in by]
    return t.group_by(keys).aggregate(units=t.units.sum()).execute()


# ---- customers ---------------------------------------------------------------------------------
def search_customers(r: Reader, text: str, limit: int = 20) -> pd.DataFrame:
    """Customers whose id starts with ``text`` or whose name contains it."""
    return _search_customers(r, r.key, text.strip(), limit)


@_cache
def _search_customers(_r: Reader, key: str, text: str, limit: int) -> pd.DataFrame:
    t = _r.table(S.CUSTOMERS.name)
    if text:
        pattern = text.lower()
        t = t.filter(
            (t.customer_id.lower() == pattern)
            | t.customer_id.lower().startswith(pattern)
            | t.name.lower().contains(pattern)
        )
    cols = ["customer_id", "name", "gender", "birth_year", "region", "join_date", "channel"]
    return t.select(cols).order_by("customer_id").limit(limit).execute()


def rows_for(
    r: Reader, table: str, column: str, value, *, order_by: str | None = None, limit: int = 200
) -> pd.DataFrame:
    """Rows of ``table`` where ``column == value`` (one customer's purchases, visits, …)."""
    return _rows_for(r, r.key, table, column, value, order_by, limit)


@_cache
def _rows_for(_r, key, table, column, value, order_by, limit) -> pd.DataFrame:
    t = _r.table(table)
    t = t.filter(t[column] == value)
    if order_by:
        t = t.order_by(ibis.desc(order_by))
    return t.limit(limit).execute()


# ---- pipeline runs ------------------------------------------------------------------------------
def pipeline_status(r: Reader) -> pd.DataFrame:
    """The steps of the latest pipeline run (``pipeline_status``), in order; empty before any run."""
    return _pipeline_status(r, r.key)


@_cache
def _pipeline_status(_r: Reader, key: str) -> pd.DataFrame:
    if S.PIPELINE_STATUS.name not in tables(_r):
        return pd.DataFrame(columns=S.PIPELINE_STATUS.column_names)
    return _r.wh.table(S.PIPELINE_STATUS.name).order_by("position").execute()


def step_writing(r: Reader, table: str) -> pd.Series | None:
    """The latest run's row for the step that writes ``table``, or None when no run lists it."""
    status = pipeline_status(r)
    for _, row in status.iterrows():
        if table in str(row["tables"]).split(","):
            return row
    return None
