"""Pipeline step ``market``: analytics of the last 12 months and coherent, backtested forecasts.

The forecasts cover every model × market and its totals (overall, per brand, per market); all is
stored in the market result tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carsight.config import Settings
from carsight.market import analytics as A
from carsight.market.events import check_events, warehouse_events
from carsight.market.forecast import Forecaster
from carsight.market.hierarchy import aggregate, coherence_gap, reconcile, season_groups
from carsight.market.series import DS, ID, Y
from carsight.warehouse import Warehouse
from carsight.warehouse import results_market as R
from carsight.warehouse import schema as S

HORIZON = 18
KEYS = ["brand", "model", "market"]
GROUPINGS = [("total", []), ("brand", ["brand"]), ("market", ["market"])]


def run(wh: Warehouse, settings: Settings, *, horizon: int = HORIZON, models: str = "standard") -> dict:
    """Compute and store the market tables; returns a short summary.

    The candidate set is ``standard`` (seasonal naive, AutoETS, AutoTheta, AutoCES; the short-series
    extras), and the selection scheme is chosen by the backtest (docs/market.md). Prophet is left out
    here because it is slow and, in our benchmarks, less accurate.
    """
    if not wh.has_table(S.SALES_MONTHLY.name) or wh.count(S.SALES_MONTHLY.name) == 0:
        return {"skipped": "sales_monthly is empty"}
    lang = settings.lang
    start, end = A.last_period(wh, 12)
    top = A.top_models(wh, start, end, n=10)
    unusual = A.unusual(wh, start, end)
    heat = A.matrix(wh, start, end, top=15)
    wh.replace(R.MARKET_TOP_MODELS, top)
    wh.replace(R.MARKET_UNUSUAL, unusual)
    wh.replace(R.MARKET_MATRIX, heat)

    t = wh.table(S.SALES_MONTHLY.name)
    sales = t.group_by([*KEYS, "month"]).aggregate(y=t.units.sum()).to_pandas().rename(columns={"month": DS})
    sales[DS] = pd.to_datetime(sales[DS])
    Y_df, S_mat, meta = aggregate(sales, KEYS, GROUPINGS)
    wh.replace(R.MARKET_SEASONALITY, _seasonality(Y_df, meta, lang))

    # A new model borrows the season of its market (model ranges share a market's calendar). The
    # declared events (the events table) are learnt and applied (docs/market.md, "Events").
    events = warehouse_events(wh)
    if events is not None:
        events = check_events(events, meta, file=S.EVENTS.name)
    # On a Spark warehouse each series' statistical models are fitted on the executors.
    map_chunks = wh.map_chunks if wh.distributed else None
    forecaster = Forecaster(horizon=horizon, models=models, n_jobs=-1, map_chunks=map_chunks).fit(
        Y_df, season_groups=season_groups(meta, "market"), events=events, keys=meta
    )
    base = forecaster.predict()
    coherent, method = reconcile(base, S_mat, forecaster.residuals_, levels=forecaster.levels)
    gap = coherence_gap(coherent, S_mat)
    fc = coherent.merge(meta, on=ID, how="left")
    fc[DS] = fc[DS].dt.date
    wh.replace(R.FORECASTS, fc)

    backtest = forecaster.backtest()
    backtest["cutoff"] = pd.to_datetime(backtest["cutoff"]).dt.date
    wh.replace(R.FORECAST_BACKTEST, backtest)

    choice = forecaster.choice(lang).merge(meta[[ID, "level"]], on=ID, how="left")
    choice = choice.rename(columns={"cls": "series_class", "mase_baseline": "mase_snaive"})
    choice["reconciliation"] = method
    wh.replace(R.FORECAST_CHOICE, choice)
    effects = forecaster.events()
    wh.replace(R.FORECAST_EVENTS, effects.reindex(columns=R.FORECAST_EVENTS.column_names))

    scored = choice.dropna(subset=["mase", "mase_snaive"])
    return {
        "period": f"{start:%Y-%m}..{end:%Y-%m}",
        "unusual_flagged": int(unusual["flag"].sum()) if len(unusual) else 0,
        "series": len(choice),
        "horizon": horizon,
        "mean_mase": round(float(scored["mase"].mean()), 3) if len(scored) else None,
        "mean_mase_snaive": round(float(scored["mase_snaive"].mean()), 3) if len(scored) else None,
        "coverage_80": _pct(choice["coverage_80"]),
        "coverage_95": _pct(choice["coverage_95"]),
        "reconciliation": method,
        "selection": _selection(forecaster),
        "coherence_gap": gap,
        "warnings": int((choice["warning"] != "").sum()),
        "events": _events(effects),
    }


def _events(effects: pd.DataFrame) -> str | None:
    """How many declared events were learnt and applied."""
    if effects.empty:
        return None
    counts = effects["status"].value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def _selection(forecaster: Forecaster) -> dict[str, str]:
    """Per class, the scheme the backtest chose and its out-of-sample score beside the combination's."""
    sel = forecaster.selection()
    out = {}
    for cls, g in sel.groupby("cls"):
        chosen = g[g["chosen"]].iloc[0]
        base = g[g["scheme"] == "combination"].iloc[0]
        out[str(cls)] = f"{chosen.scheme} ({chosen.metric} {chosen.score:.3f}, combination {base.score:.3f})"
    return out


def _pct(values: pd.Series) -> float | None:
    v = values.dropna()
    return round(float(v.mean()) * 100, 1) if len(v) else None


def _seasonality(Y_df: pd.DataFrame, meta: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Seasonal indices of every aggregate series (the bottom series are too many and too noisy)."""
    from carsight.i18n import t

    rows = []
    aggregates = meta[meta["level"] != "/".join(KEYS)]
    for uid, level in zip(aggregates[ID], aggregates["level"], strict=True):
        series = Y_df[Y_df[ID] == uid][[DS, Y]]
        series = series[series[Y].cumsum() > 0]
        if len(series) < 3:
            continue
        _, table, notes = A.trend(series)
        note = "; ".join(t(f"market.warning.{k}", lang, **v) for k, v in notes)
        table = table.assign(unique_id=uid, level=level, n_months=len(series), note=note)
        rows.append(table)
    if not rows:
        return pd.DataFrame(columns=[c.name for c in R.MARKET_SEASONALITY.columns])
    out = pd.concat(rows, ignore_index=True)
    out["seasonal_index"] = out["seasonal_index"].astype(float).replace([np.inf, -np.inf], np.nan)
    return out
