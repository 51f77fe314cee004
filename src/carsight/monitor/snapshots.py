"""Scores and forecasts kept as they were made, to be compared with what arrives later.

The pipeline replaces its result tables on every run, so monitoring keeps copies to compare with
the outcomes and the months that arrive later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carsight.market.backtest import naive_scale
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S
from carsight.warehouse.results_market import FORECAST_CHOICE, FORECASTS
from carsight.warehouse.results_monitor import MONITOR_FORECASTS, MONITOR_SCORES
from carsight.warehouse.results_value import PROPENSITY_DECILES, PROPENSITY_METRICS, PROPENSITY_SCORES

BASELINE_MODEL = "logistic_baseline"


def _stored(wh: Warehouse, table, column: str) -> set:
    if not wh.has_table(table.name) or wh.count(table.name) == 0:
        return set()
    return set(wh.table(table.name).select(column).distinct().to_pandas()[column])


def keep_scores(wh: Warehouse) -> int:
    """Copy the propensity scores of a run not kept yet (per target and as_of); the rows added.

    With the holdout AUROC and top-decile lift the model had then.
    """
    if not wh.has_table(PROPENSITY_SCORES.name) or wh.count(PROPENSITY_SCORES.name) == 0:
        return 0
    scores = wh.table(PROPENSITY_SCORES.name)
    runs = scores.select("target", "as_of").distinct().to_pandas()
    kept = set()
    if wh.has_table(MONITOR_SCORES.name) and wh.count(MONITOR_SCORES.name):
        done = wh.table(MONITOR_SCORES.name).select("target", "as_of").distinct().to_pandas()
        kept = {(r.target, pd.Timestamp(r.as_of).date()) for r in done.itertuples()}
    new = [r for r in runs.itertuples() if (r.target, pd.Timestamp(r.as_of).date()) not in kept]
    if not new:
        return 0
    metrics = wh.table(PROPENSITY_METRICS.name).to_pandas() if wh.has_table(PROPENSITY_METRICS.name) else None
    deciles = wh.table(PROPENSITY_DECILES.name).to_pandas() if wh.has_table(PROPENSITY_DECILES.name) else None
    added = 0
    for r in new:
        part = scores.filter((scores.target == r.target) & (scores.as_of == r.as_of)).select(
            "target", "as_of", "customer_id", "score", "horizon_days"
        )
        frame = part.to_pandas()
        auroc = lift = np.nan
        if metrics is not None:
            m = metrics[(metrics.target == r.target) & (metrics.model != BASELINE_MODEL)]
            auroc = float(m["auroc"].iloc[0]) if len(m) else np.nan
        if deciles is not None:
            d = deciles[(deciles.target == r.target) & (deciles.model != BASELINE_MODEL) & (deciles.decile == 1)]
            lift = float(d["lift"].iloc[0]) if len(d) else np.nan
        frame["holdout_auroc"], frame["holdout_lift"] = auroc, lift
        wh.upsert(MONITOR_SCORES, frame[MONITOR_SCORES.column_names])
        added += len(frame)
    return added


def series_history(wh: Warehouse) -> pd.DataFrame:
    """Every forecast series (bottom and totals, as the market step builds them) from sales_monthly."""
    from carsight.market.hierarchy import aggregate
    from carsight.market.pipeline import GROUPINGS, KEYS

    t = wh.table(S.SALES_MONTHLY.name)
    sales = t.group_by([*KEYS, "month"]).aggregate(y=t.units.sum()).to_pandas().rename(columns={"month": "ds"})
    sales["ds"] = pd.to_datetime(sales["ds"])
    Y_df, _, _ = aggregate(sales, KEYS, GROUPINGS)
    return Y_df


def keep_forecasts(wh: Warehouse, history: pd.DataFrame | None = None) -> int:
    """Copy the forecasts of a market run not kept yet (by first forecast month); the rows added.

    With each series' backtest MASE and its MASE scale at the origin.
    """
    if not wh.has_table(FORECASTS.name) or wh.count(FORECASTS.name) == 0:
        return 0
    fc = wh.table(FORECASTS.name).to_pandas()
    fc["ds"] = pd.to_datetime(fc["ds"])
    origin = fc["ds"].min()
    if origin.date() in {pd.Timestamp(v).date() for v in _stored(wh, MONITOR_FORECASTS, "origin")}:
        return 0
    history = series_history(wh) if history is None else history
    before = history[history["ds"] < origin]
    scale = {uid: naive_scale(g.sort_values("ds")["y"].to_numpy(float)) for uid, g in before.groupby("unique_id")}
    choice = wh.table(FORECAST_CHOICE.name).to_pandas() if wh.has_table(FORECAST_CHOICE.name) else None
    mase = dict(zip(choice["unique_id"], choice["mase"], strict=True)) if choice is not None else {}
    out = fc.assign(origin=origin.date(), ds=fc["ds"].dt.date)
    out["mase_backtest"] = out["unique_id"].map(mase)
    out["scale"] = out["unique_id"].map(scale)
    wh.upsert(MONITOR_FORECASTS, out[MONITOR_FORECASTS.column_names])
    return len(out)
