"""Backtest arithmetic: accuracy measures per rolling-origin window (MAPE, sMAPE, MASE) and
conformal prediction intervals calibrated on backtest errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from carsight.market.series import DS, ID, Y


def naive_scale(y_train: np.ndarray, season_length: int = 12) -> float:
    """MASE denominator: in-sample mean absolute error of the seasonal naive forecast (naive when the
    series is shorter than two seasons). Never 0, so a flat series still gets a finite MASE."""
    y = np.asarray(y_train, dtype=float)
    lag = season_length if len(y) > season_length + 2 else 1
    if len(y) <= lag:
        scale = float(np.mean(np.abs(y))) if len(y) else 0.0
    else:
        scale = float(np.mean(np.abs(y[lag:] - y[:-lag])))
    level = float(np.mean(np.abs(y))) if len(y) else 0.0
    # A perfectly repeating series has a scale of rounding noise; measure it against its level instead.
    if not np.isfinite(scale) or scale <= 1e-9 * max(level, 1e-300):
        scale = float(np.mean(np.abs(y))) if len(y) and np.mean(np.abs(y)) > 0 else 1.0
    return scale


def point_errors(actual: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    """MAE, MAPE (%, over non-zero actuals only: a month with 0 sales has no percentage error) and sMAPE (%)."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    err = np.abs(a - f)
    nz = a != 0
    mape = float(np.mean(err[nz] / np.abs(a[nz])) * 100) if nz.any() else math.nan
    denom = np.abs(a) + np.abs(f)
    smape_terms = np.where(denom > 0, 200 * err / np.where(denom > 0, denom, 1), 0.0)
    return {
        "mae": float(np.mean(err)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": mape,
        "smape": float(np.mean(smape_terms)),
    }


def cutoff_scales(train: pd.DataFrame, cv: pd.DataFrame, season_length: int) -> pd.Series:
    """The MASE scale of each (unique_id, cutoff): computed on the data up to that cutoff only."""
    values = {uid: (g[DS].to_numpy(), g[Y].to_numpy(float)) for uid, g in train.groupby(ID, sort=False)}
    out = {}
    for uid, cutoff in cv[[ID, "cutoff"]].drop_duplicates().itertuples(index=False):
        ds, y = values[uid]
        out[(uid, cutoff)] = naive_scale(y[ds <= cutoff], season_length)
    return pd.Series(out, name="scale")


def window_scores(cv: pd.DataFrame, models: list[str], scales: pd.Series) -> pd.DataFrame:
    """One row per series, model and backtest window: mae, rmse, mape, smape, mase, and rmse_scaled
    (RMSE over the MASE scale, used to choose among intermittent-demand methods)."""
    rows = []
    for (uid, cutoff), g in cv.groupby([ID, "cutoff"], sort=False):
        scale = float(scales[(uid, cutoff)])
        actual = g[Y].to_numpy(float)
        for model in models:
            if model not in g.columns:
                continue
            e = point_errors(actual, g[model].to_numpy(float))
            rows.append(
                {
                    ID: uid,
                    "cutoff": cutoff,
                    "model_name": model,
                    **e,
                    "mase": e["mae"] / scale,
                    "rmse_scaled": e["rmse"] / scale,
                }
            )
    return pd.DataFrame(
        rows, columns=[ID, "cutoff", "model_name", "mae", "rmse", "mape", "smape", "mase", "rmse_scaled"]
    )


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """Split-conformal quantile: the ceil((n+1)·level)/n empirical quantile (the largest score when
    there are too few to reach it), so coverage is at least ``level`` on exchangeable errors."""
    s = np.sort(np.asarray(scores, float)[np.isfinite(scores)])
    n = len(s)
    if n == 0:
        return math.nan
    k = math.ceil((n + 1) * level / 100.0)
    return float(s[min(k, n) - 1])


class HorizonQuantiles:
    """Conformal quantiles of normalised absolute errors per forecast step.

    ``scores`` holds one normalised error ``|y - ŷ| / scale`` per series, window and step ``h``
    (1-based). Steps with fewer than ``min_pool`` scores borrow from their neighbours (h±1, h±2, …)
    until they have enough; quantiles are then made non-decreasing in ``h`` (uncertainty does not
    shrink with the horizon). Beyond the backtested horizon the last quantile grows with √h.
    """

    def __init__(self, levels: tuple[int, ...] = (80, 95), min_pool: int = 30):
        self.levels = levels
        self.min_pool = min_pool

    def fit(self, h: np.ndarray, scores: np.ndarray) -> HorizonQuantiles:
        h = np.asarray(h, int)
        scores = np.asarray(scores, float)
        keep = np.isfinite(scores)
        h, scores = h[keep], scores[keep]
        self.max_h_ = int(h.max()) if len(h) else 0
        self.n_scores_ = int(len(scores))
        self.table_ = {}
        for level in self.levels:
            q = np.full(self.max_h_, np.nan)
            for step in range(1, self.max_h_ + 1):
                width = 0
                pool = scores[h == step]
                while len(pool) < self.min_pool and width < self.max_h_:
                    width += 1
                    pool = scores[np.abs(h - step) <= width]
                q[step - 1] = conformal_quantile(pool, level)
            self.table_[level] = np.maximum.accumulate(q) if len(q) else q
        return self

    def quantile(self, level: int, horizon: int) -> np.ndarray:
        """Quantiles for steps 1..horizon."""
        base = self.table_[level]
        if len(base) == 0:
            return np.full(horizon, np.nan)
        steps = np.arange(1, horizon + 1)
        out = np.empty(horizon)
        inside = steps <= len(base)
        out[inside] = base[steps[inside] - 1]
        out[~inside] = base[-1] * np.sqrt(steps[~inside] / len(base))
        return out


def prophet_backtest(forecaster, max_series: int | None = None) -> pd.DataFrame:
    """Prophet on exactly the windows the forecaster backtested (same cutoffs, same horizon, same
    MASE scales), as the baseline people know. Slow (about a second per fit): for reports and
    benchmarks only, never the pipeline. Returns one row per series and window."""
    import logging

    from prophet import Prophet

    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    r = forecaster.residuals_
    data = forecaster.data_
    rows = []
    uids = list(dict.fromkeys(r[ID]))[: max_series or None]
    for uid in uids:
        hist = data[data[ID] == uid]
        ys, ds = hist[Y].to_numpy(float), hist[DS].to_numpy()
        for (cutoff, window), g in r[r[ID] == uid].groupby(["cutoff", "window"], sort=True):
            train = hist[hist[DS] <= cutoff]
            if len(train) < 3:
                continue
            model = Prophet(weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=0)
            model.fit(train[[DS, Y]])
            future = pd.DataFrame({DS: g[DS].to_numpy()})
            yhat = model.predict(future)["yhat"].to_numpy()
            if (ys >= 0).all():
                yhat = np.clip(yhat, 0, None)
            e = point_errors(g[Y].to_numpy(float), yhat)
            scale = naive_scale(ys[ds <= np.datetime64(cutoff)], forecaster.season_length)
            rows.append({ID: uid, "window": int(window), "model_name": "Prophet", **e, "mase": e["mae"] / scale})
    return pd.DataFrame(rows, columns=[ID, "window", "model_name", "mae", "rmse", "mape", "smape", "mase"])
