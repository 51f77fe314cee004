"""Series with known answers, fitted once per session (statsforecast compiles on first use)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

HORIZON = 12


def _series(uid: str, y, start: str = "2018-01-01") -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(y), freq="MS"), "y": y})


def known_series() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    t = np.arange(72)
    parts = [
        _series("seasonal", 100 + 30 * np.sin(2 * np.pi * t / 12)),
        _series("trend", 50 + 3.0 * t),
        _series("intermittent", rng.poisson(0.4, 60).astype(float)),
        _series("short", 20 + rng.normal(0, 2, 9), "2023-04-01"),
        _series("tiny", np.array([5.0, 6.0, 7.0]), "2024-01-01"),
        _series("break", np.r_[100 + rng.normal(0, 5, 60), 200 + rng.normal(0, 5, 12)]),
        _series("stopped", np.r_[rng.poisson(30, 50), np.zeros(12)].astype(float)),
        _series("zeros", np.zeros(30)),
    ]
    gaps = _series("gaps", 100 + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 5, 72))
    parts.append(gaps.drop(index=[30, 31, 32]))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def known_frame() -> pd.DataFrame:
    return known_series()


@pytest.fixture(scope="session")
def fitted():
    from carsight.market.forecast import Forecaster

    return Forecaster(horizon=HORIZON).fit(known_series())
