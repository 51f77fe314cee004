"""Backtest arithmetic: accuracy measures per rolling-origin window (MAPE, sMAPE, MASE).

Also Prophet on the same windows, as the baseline people know.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from carsight.market.series import DS, ID, Y


def naive_scale(y_train: np.ndarray, season_length: int = 12) -> float:
    """MASE denominator: in-sample mean absolute error of the seasonal naive forecast.

    The naive forecast is used when the series is too short for a seasonal lag (at most
    ``season_length + 2`` months). Never 0, so a flat series still gets a finite MASE.
    """
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


def window_scores(cv: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Accuracy scores: one row per series, backtest window and model.

    The scores are mae, rmse, mape, smape, mase, and rmse_scaled (RMSE over the MASE scale, used to
    choose among intermittent-demand methods).

    ``cv`` has one row per series, window and month: ``unique_id, window, cutoff, y``, the MASE
    ``scale`` of that window (computed on its training months only) and a column per model. A model
    with no forecast for a series (NaN) gets NaN scores there.
    """
    keys = cv.groupby([ID, "window"], sort=False).ngroup().to_numpy()
    n_keys = int(keys.max()) + 1 if len(keys) else 0
    first = np.unique(keys, return_index=True)[1]
    head = cv.iloc[first][[ID, "window", "cutoff", "scale"]].reset_index(drop=True)
    count = np.bincount(keys, minlength=n_keys).astype(float)
    actual = cv[Y].to_numpy(float)
    nonzero = actual != 0
    n_nonzero = np.bincount(keys, nonzero.astype(float), minlength=n_keys)
    scale = head["scale"].to_numpy(float)
    parts = []
    for model in models:
        if model not in cv.columns:
            continue
        forecast = cv[model].to_numpy(float)
        err = np.abs(actual - forecast)
        mae = np.bincount(keys, err, minlength=n_keys) / count
        rmse = np.sqrt(np.bincount(keys, err**2, minlength=n_keys) / count)
        ape = np.where(nonzero, err / np.where(nonzero, np.abs(actual), 1.0), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mape = np.where(n_nonzero > 0, np.bincount(keys, ape, minlength=n_keys) / n_nonzero * 100, np.nan)
        denom = np.abs(actual) + np.abs(forecast)
        terms = np.where(denom > 0, 200 * err / np.where(denom > 0, denom, 1.0), np.where(np.isnan(err), np.nan, 0.0))
        smape = np.bincount(keys, terms, minlength=n_keys) / count
        parts.append(
            head.drop(columns="scale").assign(
                model_name=model, mae=mae, rmse=rmse, mape=mape, smape=smape, mase=mae / scale, rmse_scaled=rmse / scale
            )
        )
    columns = [ID, "window", "cutoff", "model_name", "mae", "rmse", "mape", "smape", "mase", "rmse_scaled"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def prophet_backtest(forecaster, max_series: int | None = None) -> pd.DataFrame:
    """Prophet on exactly the windows the forecaster backtested, as the baseline people know.

    Same cutoffs, same horizon, same MASE scales, with the forecaster's declared events as holidays
    (:func:`carsight.market.events.prophet_holidays`); ``max_series`` limits it to the first series.
    Slow (about a second per fit): for reports and benchmarks only, never the pipeline. Returns one
    row per series and window.
    """
    import logging

    from prophet import Prophet

    from carsight.market.events import prophet_holidays

    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    r = forecaster.residuals_
    data = forecaster.data_
    rows = []
    uids = list(dict.fromkeys(r[ID]))[: max_series or None]
    events = getattr(forecaster, "events_", None)
    for uid in uids:
        holidays = prophet_holidays(events.events, events.keys.get(uid, {})) if events is not None else None
        hist = data[data[ID] == uid]
        ys, ds = hist[Y].to_numpy(float), hist[DS].to_numpy()
        for (cutoff, window), g in r[r[ID] == uid].groupby(["cutoff", "window"], sort=True):
            train = hist[hist[DS] <= cutoff]
            if len(train) < 3:
                continue
            model = Prophet(weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=0, holidays=holidays)
            model.fit(train[[DS, Y]])
            future = pd.DataFrame({DS: g[DS].to_numpy()})
            yhat = model.predict(future)["yhat"].to_numpy()
            if (ys >= 0).all():
                yhat = np.clip(yhat, 0, None)
            e = point_errors(g[Y].to_numpy(float), yhat)
            scale = naive_scale(ys[ds <= np.datetime64(cutoff)], forecaster.season_length)
            rows.append({ID: uid, "window": int(window), "model_name": "Prophet", **e, "mase": e["mae"] / scale})
    return pd.DataFrame(rows, columns=[ID, "window", "model_name", "mae", "rmse", "mape", "smape", "mase"])
