"""Known answers, interval order and per-series warnings of the forecasting engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.market.forecast import Forecaster

HORIZON = 12  # as in conftest's ``fitted``


def _fc(fitted, uid):
    return fitted.predict().query("unique_id == @uid").reset_index(drop=True)


def test_pure_seasonal_series_is_forecast_almost_exactly(fitted):
    fc = _fc(fitted, "seasonal")
    t = np.arange(72, 72 + HORIZON)
    truth = 100 + 30 * np.sin(2 * np.pi * t / 12)
    assert np.max(np.abs(fc["yhat"].to_numpy() - truth)) < 0.01 * 100


def test_linear_trend_is_extrapolated(fitted):
    fc = _fc(fitted, "trend")
    truth = 50 + 3.0 * np.arange(72, 72 + HORIZON)
    assert np.allclose(fc["yhat"].to_numpy(), truth, rtol=0.01)
    assert fitted.choice().set_index("unique_id").loc["trend", "mase"] < 0.1


def test_intermittent_series_gets_flat_non_negative_forecast(fitted):
    fc = _fc(fitted, "intermittent")
    choice = fitted.choice().set_index("unique_id").loc["intermittent"]
    assert choice["cls"] == "intermittent"
    assert np.ptp(fc["yhat"].to_numpy()) < 1e-9
    assert (fc[["yhat", "yhat_lo_80", "yhat_lo_95"]] >= 0).all().all()
    assert 0 < fc["yhat"].iloc[0] < 1.5  # near the true mean of 0.4 units, not a spike or 0


def test_interval_bounds_are_ordered_everywhere(fitted):
    fc = fitted.predict()
    assert len(fc) == fc["unique_id"].nunique() * HORIZON
    cols = ["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]
    values = fc[cols].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= -1e-9).all()


def test_hard_series_warn_instead_of_crashing(fitted):
    choice = fitted.choice("en").set_index("unique_id")
    assert "too short for seasonal models: 9 months" in choice.loc["short", "warning"]
    assert "too short to backtest" in choice.loc["tiny", "warning"]
    assert "level shift" in choice.loc["break", "warning"]
    assert "3 missing month(s) counted as 0" in choice.loc["gaps", "warning"]
    assert "no sales in the last 12 months" in choice.loc["stopped", "warning"]
    assert "all values are 0" in choice.loc["zeros", "warning"]
    assert (_fc(fitted, "zeros")["yhat"] == 0).all()
    # Korean text comes from the same catalogue.
    assert "계절 모형에는 너무 짧음" in fitted.choice("ko").set_index("unique_id").loc["short", "warning"]


def test_choice_is_compared_with_the_baseline_on_the_same_windows(fitted):
    choice = fitted.choice().set_index("unique_id")
    bt = fitted.backtest()
    row = choice.loc["gaps"]
    windows = bt[(bt.unique_id == "gaps")].groupby("model_name")["window"].apply(set)
    assert windows[row["model_name"]] == windows["SeasonalNaive"] == {1, 2, 3}
    scored = bt.dropna(subset=["coverage_80"])
    assert set(scored["model_name"]) <= set(choice["model_name"])
    assert scored["coverage_80"].between(0, 1).all()


def test_break_level_is_followed(fitted):
    fc = _fc(fitted, "break")
    assert 170 < fc["yhat"].iloc[0] < 230


@pytest.mark.parametrize(
    "params, column",
    [({"horizon": 0}, "horizon"), ({"levels": (80, 120)}, "levels"), ({"models": "nope"}, "models")],
)
def test_bad_parameters_are_input_errors(params, column):
    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=30, freq="MS"), "y": 1.0})
    with pytest.raises(InputError) as info:
        Forecaster(**params).fit(frame)
    assert info.value.column == column


def test_parameters_are_stored_unchanged():
    f = Forecaster(horizon=7, levels=(90,), models=("ETS",))
    assert (f.horizon, f.levels, f.models) == (7, (90,), ("ETS",))
    assert not hasattr(f, "forecast_")


def test_small_runs_also_backtest_arima_and_log_ets(fitted):
    # A handful of seasonal series: "standard" widens to AutoARIMA and ETS on log1p(y), backtested
    # on the same windows as the others, and the log model is back-transformed to the units of y.
    assert {"AutoARIMA", "LogETS"} <= set(fitted.candidates_["seasonal"])
    bt = fitted.backtest().query("unique_id == 'seasonal'")
    assert {"AutoARIMA", "LogETS"} <= set(bt["model_name"])
    assert bt.query("model_name == 'LogETS'")["mase"].max() < 0.5


def test_log_model_needs_non_negative_series():
    from carsight.market.forecast import _log_frame

    frame = pd.DataFrame(
        {"unique_id": ["a", "a", "b", "b"], "ds": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2), "y": [0, 9, -1, 5]}
    )
    out = _log_frame(frame)
    assert list(out["unique_id"]) == ["a", "a"]
    assert np.allclose(out["y"], np.log1p([0, 9]))


def test_pooled_selection_combines_the_class_best_that_beat_the_baseline(fitted):
    """Every seasonal series gets the same members: the two candidates with the lowest mean backtest
    MASE over the class, each of them better than seasonal naive there."""
    ranking = fitted.ranking_["seasonal"]
    assert "SeasonalNaive" not in ranking[:2]
    bt = fitted.backtest_
    seasonal = fitted.choice_[fitted.choice_["cls"] == "seasonal"]
    per_model = bt[bt["unique_id"].isin(seasonal["unique_id"])].groupby(["unique_id", "model_name"])["mase"].mean()
    pooled = per_model.groupby(level="model_name").mean()
    for member in ranking[:2]:
        assert pooled[member] < pooled["SeasonalNaive"]
    assert all(list(m) == ranking[:2] for m in seasonal["members"])


def test_series_selection_never_backtests_worse_than_its_baseline(known_frame):
    data = known_frame.query("unique_id in ['gaps', 'seasonal', 'break']")
    f = Forecaster(horizon=HORIZON, select="series").fit(data)
    choice = f.choice().set_index("unique_id")
    assert (choice["mase"] <= choice["mase_baseline"] + 1e-12).all()  # the baseline was a candidate


def test_unknown_selection_is_a_clear_error(known_frame):
    with pytest.raises(InputError, match="unknown selection 'best'"):
        Forecaster(select="best").fit(known_frame)
