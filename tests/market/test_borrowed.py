"""A short series borrows its group's season: the index is recovered, and forecasts follow it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.market.borrowed import season_index
from carsight.market.forecast import Forecaster

SEASON = 1 + 0.4 * np.sin(2 * np.pi * np.arange(12) / 12)  # index of Jan..Dec, mean 1
OPPOSITE = 2 - SEASON


def _frame(uid, values, start):
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(values), freq="MS"), "y": values})


def test_index_of_a_trending_multiplicative_series_is_recovered():
    months = np.tile(np.arange(1, 13), 6)
    trend = np.linspace(100, 180, 72)
    y = trend * SEASON[months - 1]
    index = season_index(y, months)
    assert np.allclose(index, SEASON, atol=0.02)
    assert index.mean() == pytest.approx(1.0)


def test_no_index_from_too_little_or_non_positive_data():
    months = np.tile(np.arange(1, 13), 3)
    assert season_index(np.ones(20), months[:20]) is None
    assert season_index(np.zeros(36), months) is None


def _group_data(rng):
    parts = []
    for market, season in (("north", SEASON), ("south", OPPOSITE)):
        t = np.arange(60)
        for k in range(4):
            level = 200 * (k + 1)
            y = level * season[t % 12] * rng.lognormal(0, 0.03, 60)
            parts.append(_frame(f"{market}/old{k}", y, "2019-01-01"))
        # A launch: 14 months on sale at a level of 50 (the first month is January).
        t_new = np.arange(46, 60)
        parts.append(_frame(f"{market}/new", 50 * season[t_new % 12] * rng.lognormal(0, 0.03, 14), "2022-11-01"))
    return pd.concat(parts, ignore_index=True)


def test_launch_forecast_follows_its_own_groups_season():
    data = _group_data(np.random.default_rng(3))
    groups = {u: u.split("/")[0] for u in data["unique_id"].unique()}
    f = Forecaster(horizon=12, select="series").fit(data, season_groups=groups)
    assert set(f.choice_.set_index("unique_id").loc[["north/new", "south/new"], "cls"]) == {"short"}
    fc = f.predict()
    for market, season in (("north", SEASON), ("south", OPPOSITE)):
        new = fc[fc["unique_id"] == f"{market}/new"]
        truth = 50 * season[new["ds"].dt.month.to_numpy() - 1]
        assert "BorrowedSeason" in new["model_name"].iloc[0]
        assert np.corrcoef(new["yhat"], truth)[0, 1] > 0.8
        assert new["yhat"].mean() == pytest.approx(50, rel=0.2)


def test_intervals_calibrate_on_the_newest_windows_that_suffice():
    from carsight.market.intervals import newest_windows

    def residuals(n_series, windows=3, h=6):
        return pd.DataFrame(
            [(w, step) for _ in range(n_series) for w in range(1, windows + 1) for step in range(1, h + 1)],
            columns=["window", "h"],
        )

    many = residuals(40)  # 40 errors per step in the newest window alone
    assert set(many.loc[newest_windows(many, 30), "window"]) == {3}
    few = residuals(12)  # 12 per window: the two newest give 24, all three 36
    assert set(few.loc[newest_windows(few, 30), "window"]) == {1, 2, 3}
    assert set(few.loc[newest_windows(few, 20), "window"]) == {2, 3}
