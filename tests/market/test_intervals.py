"""Conformal intervals: the horizon profile of the quantiles and each series' error scale."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carsight.market.intervals import ConformalIntervals, HorizonQuantiles, conformal_quantile, series_error_scale


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    scores = np.arange(1.0, 11.0)  # 1..10
    assert conformal_quantile(scores, 80) == 9.0  # ceil(11 · 0.8) = 9th smallest
    assert conformal_quantile(scores, 95) == 10.0  # too few scores: the largest


def test_quantiles_grow_with_the_horizon_without_the_running_maximum_bias():
    # Step 2's errors are, by chance, larger than step 3's and 4's. A running maximum would carry
    # step 2's quantile forward to every later step; the isotonic fit pools the violators instead.
    h = np.repeat([1, 2, 3, 4], 100)
    base = np.tile(np.linspace(0.01, 1.0, 100), 4)
    scores = base * np.repeat([1.0, 3.0, 2.0, 2.0], 100)
    hq = HorizonQuantiles(levels=(80,), min_pool=30).fit(h, scores)
    q = hq.quantile(80, 4)
    raw = [conformal_quantile(scores[h == s], 80) for s in (1, 2, 3, 4)]
    assert np.all(np.diff(q) >= 0)
    assert q[0] == raw[0]
    # steps 2–4 pooled into one level: the mean of their quantiles (equal pools)
    np.testing.assert_allclose(q[1:], np.mean(raw[1:]))
    assert q[3] < np.maximum.accumulate(raw)[3]
    # beyond the backtested horizon the last quantile grows with √h
    np.testing.assert_allclose(hq.quantile(80, 16)[15], q[3] * 2.0)


def test_the_error_scale_is_the_newest_window_when_errors_just_grew():
    errors = pd.DataFrame(
        {
            "unique_id": ["calm"] * 3 + ["shocked"] * 3 + ["settled"] * 3,
            "window": [1, 2, 3] * 3,
            "abs_err": [1.0, 1.0, 1.0, 1.0, 1.0, 7.0, 6.0, 2.0, 1.0],
        }
    )
    scale = series_error_scale(errors, {"calm": 0.1, "shocked": 0.1, "settled": 0.1})
    assert scale["calm"] == 1.0
    assert scale["shocked"] == 7.0  # the newest window's error, not the mean of 3
    assert scale["settled"] == 3.0  # the mean: its newest window is calmer than its past
    floored = series_error_scale(errors, {"calm": 5.0, "shocked": 0.1, "settled": 0.1})
    assert floored["calm"] == 5.0


def test_intervals_cover_new_exchangeable_errors_near_their_level():
    rng = np.random.default_rng(0)
    sigma = 1.0 + np.arange(60)  # series of very different sizes share one pool after normalising
    steps = np.arange(1, 7)
    rows = [
        (f"s{s}", w, step, sigma[s] * rng.normal(0.0, np.sqrt(step)))
        for s in range(60)
        for w in (1, 2, 3)
        for step in steps
    ]
    r = pd.DataFrame(rows, columns=["unique_id", "window", "h", "err"])
    r = r.assign(cls="seasonal", y=r["err"], yhat=0.0, weight=1.0)
    ci = ConformalIntervals(min_pool=30).fit(r, {f"s{s}": 0.0 for s in range(60)})
    covered = {80: [], 95: []}
    for s in range(60):
        future = sigma[s] * rng.normal(0.0, np.sqrt(steps), size=(200, 6))
        for level in covered:
            width = ci.width(f"s{s}", "seasonal", level, np.zeros(24), 6)
            assert np.all(np.diff(width) >= 0) and width[-1] > width[0]
            covered[level].append(np.mean(np.abs(future) <= width))
    # conformal intervals are at least nominal on exchangeable errors, and not much wider
    assert 0.78 <= np.mean(covered[80]) <= 0.88
    assert 0.94 <= np.mean(covered[95]) <= 0.99
