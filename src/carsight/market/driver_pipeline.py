"""The "drivers" pipeline step.

What drove the change in sales units (model × market × kind, from ``sales_monthly``) and in purchase
revenue (model × region × customer segment × channel, split into volume, mix and rate by the number
of purchases), for the last 12 months against the 12 before and for the last 3 months against the
same months a year earlier. Aggregation runs in the warehouse (Ibis); only the cells come back. The
monthly report calls :func:`sales_change` for its month.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from carsight.config import Settings
from carsight.errors import WarehouseError
from carsight.market.drivers import ChangeDrivers, explain_change
from carsight.warehouse import Warehouse
from carsight.warehouse import results_insights as R
from carsight.warehouse import schema as S

SALES_DIMS = ("model", "market", "kind")
PURCHASE_DIMS = ("model", "region", "customer_segment", "channel")
MAX_SEGMENTS = 10
# comparison → (months in each period, months between the starts of base and current)
COMPARISONS = {"year": (12, 12), "quarter": (3, 12)}
MISSING = "(missing)"


def _shift(month: dt.date, months: int) -> dt.date:
    return (pd.Timestamp(month) + pd.DateOffset(months=months)).date()


def periods(last: dt.date, comparison: str) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """((base first, base last), (current first, current last)) months, current ending at ``last``."""
    length, lag = COMPARISONS[comparison]
    current = (_shift(last, -(length - 1)), last)
    return (_shift(current[0], -lag), _shift(last, -lag)), current


def _cells(expr: ibis.Table, date: str, dims: tuple[str, ...], aggs: dict, base, current) -> tuple:
    month = expr[date].cast("date").truncate("M")
    scoped = expr.mutate(_month=month).filter(
        ((month >= base[0]) & (month <= base[1])) | ((month >= current[0]) & (month <= current[1]))
    )
    in_current = scoped._month >= current[0]
    grouped = scoped.group_by([*dims, in_current.name("_current")]).aggregate(**aggs).to_pandas()
    for dim in dims:
        grouped[dim] = grouped[dim].astype("string").fillna(MISSING).astype(str)
    return grouped[~grouped._current.astype(bool)], grouped[grouped._current.astype(bool)]


def sales_change(wh: Warehouse, base, current, *, max_segments: int = MAX_SEGMENTS) -> ChangeDrivers:
    """Units of ``sales_monthly`` by model × market × kind.

    ``base`` and ``current`` are inclusive (first month, last month) pairs.
    """
    sales = wh.table(S.SALES_MONTHLY.name)
    b, c = _cells(sales, "month", SALES_DIMS, {"units": sales.units.sum()}, base, current)
    return explain_change(b, c, list(SALES_DIMS), "units", max_segments=max_segments)


def purchase_change(wh: Warehouse, base, current, *, max_segments: int = MAX_SEGMENTS) -> ChangeDrivers:
    """Net purchase revenue by model × region × customer segment × channel.

    The number of purchases is the size (volume = fewer or more buyers). Without the customers
    step's segments the segment dimension is left out.
    """
    from carsight.warehouse.results_customers import CUSTOMER_SEGMENTS

    pur = wh.table(S.PURCHASES.name)
    cust = wh.table(S.CUSTOMERS.name).select("customer_id", "region")
    joined = pur.left_join(cust, pur.customer_id == cust.customer_id).drop("customer_id_right")
    dims = PURCHASE_DIMS
    if wh.has_table(CUSTOMER_SEGMENTS.name) and wh.count(CUSTOMER_SEGMENTS.name):
        seg = wh.table(CUSTOMER_SEGMENTS.name).select("customer_id", "segment_id")
        joined = joined.left_join(seg, joined.customer_id == seg.customer_id).drop("customer_id_right")
        joined = joined.mutate(customer_segment=joined.segment_id.cast("string"))
    else:
        dims = tuple(d for d in dims if d != "customer_segment")
    aggs = {"revenue": joined.amount.sum(), "purchases": (joined.amount > 0).cast("int64").sum()}
    b, c = _cells(joined, "purchase_date", dims, aggs, base, current)
    result = explain_change(b, c, list(dims), "revenue", size="purchases", max_segments=max_segments)
    if "customer_segment" not in dims:
        result.notes.append(("no_segments", {}))
    return result


def _last_month(wh: Warehouse, table: str, column: str) -> dt.date | None:
    if not wh.has_table(table):
        return None
    value = wh.table(table)[column].max().to_pyarrow().as_py()
    if value is None:
        return None
    return pd.Timestamp(value).to_period("M").to_timestamp().date()


def _rows(result: ChangeDrivers, analysis: str, comparison: str, base, current) -> pd.DataFrame:
    frame = result.segments.copy()
    out = pd.DataFrame(
        {
            "analysis": analysis,
            "comparison": comparison,
            "rank": np.arange(1, len(frame) + 1),
            "segment": result.labels(),
        }
    )
    for name in R.DRIVER_DIMENSIONS:
        out[name] = frame[name].to_numpy() if name in frame else None
    for name in ("base", "current", "change", "share_of_change", "volume", "mix", "rate"):
        out[name] = frame[name].to_numpy() if name in frame else np.nan
    out["base_start"], out["base_end"] = base
    out["current_start"], out["current_end"] = current
    out["base_total"], out["current_total"] = result.base_total, result.current_total
    return out


def run(wh: Warehouse, settings: Settings) -> dict:
    """Pipeline step: drivers of sales and purchases for both comparisons."""
    parts, summary = [], {}
    analyses = (
        ("sales", sales_change, _last_month(wh, S.SALES_MONTHLY.name, "month")),
        ("purchases", purchase_change, _last_month(wh, S.PURCHASES.name, "purchase_date")),
    )
    for analysis, compute, last in analyses:
        if last is None:
            summary[analysis] = "skipped: no data"
            continue
        for comparison in COMPARISONS:
            base, current = periods(last, comparison)
            try:
                result = compute(wh, base, current)
            except WarehouseError as exc:
                summary[analysis] = f"skipped: {exc}"
                break
            parts.append(_rows(result, analysis, comparison, base, current))
            if comparison == "year" and len(result.segments):
                summary[analysis] = (
                    f"{result.base_total:,.0f} → {result.current_total:,.0f}; top: {result.labels()[0]} "
                    f"({result.segments.share_of_change.iloc[0]:.0%} of the change)"
                )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=R.DRIVER_SEGMENTS.column_names)
    wh.replace(R.DRIVER_SEGMENTS, frame.reindex(columns=R.DRIVER_SEGMENTS.column_names))
    summary["segments"] = len(frame)
    return summary
