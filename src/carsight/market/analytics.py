"""Market analytics over ``sales_monthly``.

Top models per market with share and year-on-year change, models that sell unusually well in a
market, the market × model share matrix, and monthly trend and seasonality per series. Aggregation
runs in the warehouse (Ibis); only small results come back.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import numpy as np
import pandas as pd

from carsight.errors import DataTooThinError, InputError
from carsight.warehouse import schema as S

SALES = S.SALES_MONTHLY.name
ALL = "ALL"
# A market with less than this share of all units is flagged small: its shares move a lot on few cars.
SMALL_MARKET_SHARE = 0.01


def _month(value) -> dt.date:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(f"'{value}' is not a month", expected="YYYY-MM") from exc
    return dt.date(ts.year, ts.month, 1)


def last_period(wh, months: int = 12) -> tuple[dt.date, dt.date]:
    """The last ``months`` months that have data: (first month, last month)."""
    t = wh.table(SALES)
    end = t.month.max().to_pyarrow().as_py()
    if end is None:
        raise DataTooThinError("sales_monthly is empty: load sales first (carsight ingest sales_monthly FILE)")
    end = _month(end)
    start = (pd.Timestamp(end) - pd.DateOffset(months=months - 1)).date()
    return start, end


def _filtered(wh, start, end, kind: str | None) -> ibis.Table:
    t = wh.table(SALES)
    t = t.filter(t.month.between(ibis.date(_month(start)), ibis.date(_month(end))))
    if kind:
        if kind not in S.SALES_KINDS:
            raise InputError(f"unknown kind '{kind}'", column="kind", expected=", ".join(S.SALES_KINDS))
        t = t.filter(t.kind == kind)
    return t


def top_models(wh, start, end, *, market: str | None = None, n: int = 10, kind: str | None = None) -> pd.DataFrame:
    """Top ``n`` models per market in [start, end].

    Units, share of the market (%), and year-on-year change (%) against the same months a year
    earlier (empty when the model did not sell then). ``market=None`` ranks within every market;
    ``market="ALL"`` ranks over all markets together.
    """
    start, end = _month(start), _month(end)
    prev_start = (pd.Timestamp(start) - pd.DateOffset(years=1)).date()
    prev_end = (pd.Timestamp(end) - pd.DateOffset(years=1)).date()
    cur, prev = _filtered(wh, start, end, kind), _filtered(wh, prev_start, prev_end, kind)
    if market == ALL:
        cur, prev = cur.mutate(market=ibis.literal(ALL)), prev.mutate(market=ibis.literal(ALL))
    elif market:
        cur, prev = cur.filter(cur.market == market), prev.filter(prev.market == market)
    keys = ["market", "brand", "model"]
    units = cur.group_by(keys).aggregate(units=cur.units.sum())
    before = prev.group_by(keys).aggregate(units_prev_year=prev.units.sum())
    w = ibis.window(group_by="market")
    ranked = units.mutate(
        share=units.units.cast("float64") * 100 / units.units.sum().over(w),
        rank=ibis.row_number().over(ibis.window(group_by="market", order_by=[ibis.desc("units"), "model"])) + 1,
    )
    ranked = ranked.filter(ranked["rank"] <= n)
    joined = ranked.left_join(before, keys).select(ranked, before.units_prev_year)
    out = joined.to_pandas()
    if out.empty:
        return _empty_top()
    out["yoy"] = np.where(out["units_prev_year"] > 0, (out["units"] / out["units_prev_year"] - 1) * 100, np.nan)
    out.insert(0, "period_start", start)
    out.insert(1, "period_end", end)
    cols = [
        "period_start",
        "period_end",
        "market",
        "rank",
        "brand",
        "model",
        "units",
        "share",
        "units_prev_year",
        "yoy",
    ]
    return out[cols].sort_values(["market", "rank"]).reset_index(drop=True)


def _empty_top() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "period_start",
            "period_end",
            "market",
            "rank",
            "brand",
            "model",
            "units",
            "share",
            "units_prev_year",
            "yoy",
        ]
    )


def unusual(
    wh, start, end, *, min_points: float = 5.0, kind: str | None = None, flagged_only: bool = False
) -> pd.DataFrame:
    """Models whose share in a market exceeds their share overall.

    ``points`` = share in market − share overall (percentage points); ``ratio`` = share in market /
    share overall (1.172 reads "17.2% above"). ``flag`` marks ≥ ``min_points``. ``points_se`` is the
    binomial standard error of the market share, and ``small_market`` marks markets with < 1% of all
    units, so a 10-point gap on 40 cars is not read like one on 40,000.
    """
    t = _filtered(wh, start, end, kind)
    cell = t.group_by(["market", "brand", "model"]).aggregate(units=t.units.sum())
    by_market = t.group_by("market").aggregate(market_units=t.units.sum())
    by_model = t.group_by(["brand", "model"]).aggregate(model_units=t.units.sum())
    q = cell.join(by_market, "market").join(by_model, ["brand", "model"])
    out = q.to_pandas()
    if out.empty:
        return pd.DataFrame(columns=_UNUSUAL_COLS)
    total = float(out["units"].sum())
    out["share_market"] = out["units"] * 100 / out["market_units"]
    out["share_overall"] = out["model_units"] * 100 / total
    out["market_share_of_total"] = out["market_units"] / total
    out["points"] = out["share_market"] - out["share_overall"]
    out["ratio"] = out["share_market"] / out["share_overall"]
    p = out["share_market"] / 100
    out["points_se"] = np.sqrt(p * (1 - p) / out["market_units"].clip(lower=1)) * 100
    # Against the markets that sell the model too: a market with a short line-up gives every model a
    # big share, which the overall comparison mistakes for a preference.
    n_markets = out.groupby(["brand", "model"])["share_market"].transform("count")
    others = (out.groupby(["brand", "model"])["share_market"].transform("sum") - out["share_market"]) / (n_markets - 1)
    out["ratio_other_markets"] = np.where(n_markets > 1, out["share_market"] / others.replace(0, np.nan), np.nan)
    out["flag"] = out["points"] >= min_points
    out["small_market"] = out["market_share_of_total"] < SMALL_MARKET_SHARE
    out.insert(0, "period_start", _month(start))
    out.insert(1, "period_end", _month(end))
    out = out.sort_values(["points"], ascending=False)
    if flagged_only:
        out = out[out["flag"]]
    return out[_UNUSUAL_COLS].reset_index(drop=True)


_UNUSUAL_COLS = [
    "period_start",
    "period_end",
    "market",
    "brand",
    "model",
    "units",
    "market_units",
    "share_market",
    "share_overall",
    "points",
    "points_se",
    "ratio",
    "ratio_other_markets",
    "flag",
    "small_market",
]


def matrix(wh, start, end, *, top: int = 15, kind: str | None = None) -> pd.DataFrame:
    """Share (%) of each of the ``top`` models overall within each market.

    Long format (market, brand, model, units, share): pivot it for a heatmap.
    """
    t = _filtered(wh, start, end, kind)
    leaders = (
        t.group_by(["brand", "model"]).aggregate(total=t.units.sum()).order_by([ibis.desc("total"), "model"]).limit(top)
    )
    cell = t.group_by(["market", "brand", "model"]).aggregate(units=t.units.sum())
    by_market = t.group_by("market").aggregate(market_units=t.units.sum())
    markets = by_market.select("market")
    grid = markets.cross_join(leaders.select("brand", "model"))
    q = grid.left_join(cell, ["market", "brand", "model"]).select(grid, cell.units)
    q = q.join(by_market, "market")
    q = q.mutate(units=q.units.fill_null(0))
    q = q.mutate(share=q.units.cast("float64") * 100 / q.market_units)
    out = q.select("market", "brand", "model", "units", "share").to_pandas()
    out.insert(0, "period_start", _month(start))
    out.insert(1, "period_end", _month(end))
    return out.sort_values(["market", "share"], ascending=[True, False]).reset_index(drop=True)


def monthly(
    wh, *, brand: str | None = None, model: str | None = None, market: str | None = None, kind: str | None = None
) -> pd.DataFrame:
    """Monthly units (ds, y) of one series: any combination of brand, model, market and kind."""
    t = wh.table(SALES)
    for col, value in (("brand", brand), ("model", model), ("market", market), ("kind", kind)):
        if value:
            t = t.filter(t[col] == value)
    out = t.group_by("month").aggregate(y=t.units.sum()).order_by("month").to_pandas()
    if out.empty:
        what = ", ".join(f"{k}={v}" for k, v in (("brand", brand), ("model", model), ("market", market)) if v)
        raise InputError(
            f"no sales for {what or 'this selection'}", expected="a brand, model or market in sales_monthly"
        )
    out = out.rename(columns={"month": "ds"})
    out["ds"] = pd.to_datetime(out["ds"])
    idx = pd.date_range(out["ds"].min(), out["ds"].max(), freq="MS")
    return out.set_index("ds").reindex(idx, fill_value=0).rename_axis("ds").reset_index()


def trend(series: pd.DataFrame, season_length: int = 12) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, dict]]]:
    """Trend and seasonality of one monthly series (ds, y).

    With two full years or more: STL (robust) gives trend/seasonal/remainder, and seasonal indices
    are the mean STL seasonal component per calendar month relative to the level. With less: the
    trend is a centred 12-month mean where defined, indices are month means over the series mean,
    and a ``thin_history`` note says so. Returns (decomposition, indices, notes).
    """
    s = series.set_index("ds")["y"].astype(float)
    n = len(s)
    notes: list[tuple[str, dict]] = []
    if n < 3:
        raise DataTooThinError(f"{n} month(s) of data: too few for a trend")
    decomposition = pd.DataFrame({"ds": s.index, "y": s.to_numpy()})
    level = float(s.mean()) if s.mean() else 1.0
    if n >= 2 * season_length:
        from statsmodels.tsa.seasonal import STL

        fit = STL(s.to_numpy(), period=season_length, robust=True).fit()
        decomposition["trend"] = fit.trend
        decomposition["seasonal"] = fit.seasonal
        decomposition["remainder"] = fit.resid
        by_month = pd.Series(fit.seasonal, index=s.index.month).groupby(level=0).mean()
        indices = 1 + by_month / level
    else:
        notes.append(("thin_history", {"n": n}))
        decomposition["trend"] = s.rolling(season_length, center=True, min_periods=season_length).mean().to_numpy()
        decomposition["seasonal"] = math.nan
        decomposition["remainder"] = math.nan
        indices = s.groupby(s.index.month).mean() / level
    indices = indices.reindex(range(1, season_length + 1))
    table = pd.DataFrame({"month_of_year": indices.index, "seasonal_index": indices.to_numpy()})
    return decomposition, table, notes
