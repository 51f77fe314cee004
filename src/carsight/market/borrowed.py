"""A season borrowed from related series, for series too short to learn their own (a new launch).

A model on sale for 14 months has seen each calendar month once or twice: its own seasonal pattern
cannot be estimated, and a trend fitted to it is mostly the launch ramp. Its market's other models
have years of history and, in car sales, largely share the market's calendar (fiscal-year ends,
holidays, model-year changes). So the short series is divided by the seasonal index of its group
(the sum of the group's seasonal series), its level is smoothed without a trend, and the index is put
back on the forecast: the "group seasonal index" method for new products.

The index is the classical ratio to a centred 2×12 moving average, averaged per calendar month with
the median (robust to one shock month) over the last five years. statsmodels' ``seasonal_decompose``
computes the same ratios, but it needs whole series and a date index per call; this is called per
group and backtest cutoff, on a few hundred numbers, so a few numpy lines are both clearer and faster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_MONTHS = 24  # two full seasons of the group total, or no index
WINDOW = 60  # months of the group total used for the index
INDEX_BOUNDS = (0.1, 10.0)  # a month at a tenth of the average is already extreme for car sales


def season_index(y: np.ndarray, months: np.ndarray, season_length: int = 12) -> np.ndarray | None:
    """Multiplicative seasonal index (mean 1) per calendar month ``1..season_length``.

    An array indexed by ``month - 1``; ``None`` when ``y`` is too short or not positive enough to have
    one.

    ``y`` is a regular monthly series (the group total), ``months`` its calendar months (1-based).
    """
    m = season_length
    y = np.asarray(y, float)[-WINDOW:]
    months = np.asarray(months, int)[-WINDOW:]
    if len(y) < max(MIN_MONTHS, 2 * m) or m < 2:
        return None
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")  # centred: trend[i] belongs to y[i + half]
    half = len(weights) // 2
    centre = y[half : half + len(trend)]
    ok = trend > 0
    if ok.sum() < m:
        return None
    ratio = centre[ok] / trend[ok]
    month_of = months[half : half + len(trend)][ok]
    index = np.ones(m)
    for k in range(1, m + 1):
        r = ratio[month_of == k]
        if len(r):
            index[k - 1] = float(np.median(r))
    index = np.clip(index / index.mean(), *INDEX_BOUNDS)
    return index / index.mean()


def borrowed_season_forecast(y: np.ndarray, months: np.ndarray, h: int, index: np.ndarray | None) -> np.ndarray:
    """Forecast ``h`` months after ``y`` (calendar months ``months``) with a borrowed season index.

    The level of ``y`` divided by ``index``, smoothed by exponential smoothing (no trend), times the
    index of the coming months. Without an index this is plain exponential smoothing.
    """
    from statsforecast.models import SimpleExponentialSmoothingOptimized

    y = np.asarray(y, float)
    months = np.asarray(months, int)
    if index is None:
        factor_past, factor_future = np.ones(len(y)), np.ones(h)
    else:
        future = (months[-1] + np.arange(1, h + 1) - 1) % len(index) + 1
        factor_past, factor_future = index[months - 1], index[future - 1]
    z = y / factor_past
    if len(z) < 2:
        level = float(z[-1]) if len(z) else 0.0
    else:
        level = float(SimpleExponentialSmoothingOptimized().forecast(y=z, h=1)["mean"][0])
    return level * factor_future


def group_totals(
    data: pd.DataFrame, groups: dict[str, str | None], uids: list[str], id_col: str, ds_col: str, y_col: str
):
    """Monthly sum of the series ``uids`` per season group.

    Returned as ``{group: (ds array, y array)}``; the pooled total of all of them is under ``None``.
    Months missing inside a group's span count as 0.
    """
    part = data[data[id_col].isin(uids)]
    out = {}
    if part.empty:
        return out
    keyed = part.assign(_g=part[id_col].map(lambda u: groups.get(u)))
    for key, frame in [(None, keyed), *((g, f) for g, f in keyed.groupby("_g", dropna=True))]:
        total = frame.groupby(ds_col)[y_col].sum().sort_index()
        total = total.reindex(pd.date_range(total.index.min(), total.index.max(), freq="MS"), fill_value=0.0)
        out[key] = (total.index.to_numpy(), total.to_numpy(float))
    return out
