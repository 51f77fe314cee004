"""Reading the market step's forecast tables for the Forecast page.

The list of series, one series' actuals (from ``sales_monthly``) and reconciled forecast with
intervals, the method chosen for it and the backtest errors of every candidate method.
"""

from __future__ import annotations

import pandas as pd

from carsight.dashboard import data
from carsight.dashboard.data import Reader, _cache
from carsight.warehouse import schema as S
from carsight.warehouse.results_market import FORECAST_BACKTEST, FORECAST_CHOICE, FORECASTS

_METRICS = ("mape", "smape", "mase", "coverage_80", "coverage_95")


def series_list(r: Reader) -> pd.DataFrame:
    """Every forecast series with its level, chosen method and backtest MASE beside the baseline's."""
    return _series_list(r, r.key)


@_cache
def _series_list(_r: Reader, key: str) -> pd.DataFrame:
    t = _r.table(FORECASTS.name)
    series = (
        t.select("unique_id", "level", "brand", "model", "market").distinct().order_by(["level", "unique_id"]).execute()
    )
    if _r.has(FORECAST_CHOICE.name):
        choice = _r.table(FORECAST_CHOICE.name).drop("level").execute()
        series = series.merge(choice, on="unique_id", how="left")
    return series


def levels(series: pd.DataFrame) -> list[str]:
    """The levels of the series: total, brand, market first, then the rest."""
    order = ["total", "brand", "market"]
    present = [v for v in series.level.dropna().unique()]
    return [v for v in order if v in present] + sorted(v for v in present if v not in order)


def series(r: Reader, unique_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(actuals ``ds, y`` from sales_monthly; forecast ``ds, mean, lo_80, hi_80, lo_95, hi_95``)."""
    return _series(r, r.key, unique_id)


@_cache
def _series(_r: Reader, key: str, unique_id: str):
    t = _r.table(FORECASTS.name)
    fc = t.filter(t.unique_id == unique_id).order_by("ds").execute()
    future = pd.DataFrame(
        {
            "ds": pd.to_datetime(fc.ds),
            "mean": fc.yhat,
            "lo_80": fc.yhat_lo_80,
            "hi_80": fc.yhat_hi_80,
            "lo_95": fc.yhat_lo_95,
            "hi_95": fc.yhat_hi_95,
        }
    )
    # The series' own brand/model/market columns say which sales make up its actuals
    # (all empty = the total).
    s = _r.table(S.SALES_MONTHLY.name)
    if len(fc):
        first = fc.iloc[0]
        for column in ("brand", "model", "market"):
            value = first[column]
            if value is not None and not pd.isna(value):
                s = s.filter(s[column] == value)
    history = s.group_by(ds=s.month).aggregate(y=s.units.sum()).order_by("ds").execute()
    history["ds"] = pd.to_datetime(history.ds)
    return history, future


def errors_for(r: Reader, unique_id: str) -> pd.DataFrame:
    """Mean backtest errors of every candidate method on this series, best MASE first."""
    if not r.has(FORECAST_BACKTEST.name):
        return pd.DataFrame()
    back = data.rows_for(r, FORECAST_BACKTEST.name, "unique_id", unique_id, limit=10_000)
    if back.empty:
        return back
    out = back.groupby("model_name")[[c for c in _METRICS if c in back]].mean()
    out["windows"] = back.groupby("model_name").size()
    return out.reset_index().sort_values("mase")
