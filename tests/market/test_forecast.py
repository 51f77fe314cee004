"""Known answers, interval order, per-series warnings and the horizon contract of the forecasting engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.market.forecast import Forecaster

HORIZON = 12  # as in conftest's ``fitted``


def _fc(fitted, uid):
    return fitted.predict().query("unique_id == @uid").reset_index(drop=True)


def _frame(uid, y, start="2018-01-01"):
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(y), freq="MS"), "y": y})


def test_pure_seasonal_series_is_forecast_almost_exactly(fitted):
    fc = _fc(fitted, "seasonal")
    t = np.arange(72, 72 + HORIZON)
    truth = 100 + 30 * np.sin(2 * np.pi * t / 12)
    assert np.max(np.abs(fc["yhat"].to_numpy() - truth)) < 0.01 * 100


def test_linear_trend_is_extrapolated(fitted):
    fc = _fc(fitted, "trend")
    truth = 50 + 3.0 * np.arange(72, 72 + HORIZON)
    # ETS and Theta continue the line exactly; CES, the third member, bends upwards a little.
    assert np.allclose(fc["yhat"].to_numpy(), truth, rtol=0.03)
    assert 2.7 < np.polyfit(np.arange(HORIZON), fc["yhat"].to_numpy(), 1)[0] < 4.0
    assert fitted.choice().set_index("unique_id").loc["trend", "mase"] < 0.2


def test_intermittent_series_is_forecast_near_its_rate_and_never_negative(fitted):
    fc = _fc(fitted, "intermittent")
    choice = fitted.choice().set_index("unique_id").loc["intermittent"]
    assert choice["cls"] == "intermittent"
    assert (fc[["yhat", "yhat_lo_80", "yhat_lo_95"]] >= 0).all().all()
    # Near the true mean of 0.4 units a month every month: not a spike, not 0.
    assert fc["yhat"].between(0.1, 1.0).all()
    assert abs(fc["yhat"].mean() - 0.4) < 0.15


def test_interval_bounds_are_ordered_everywhere(fitted):
    fc = fitted.predict()
    assert len(fc) == fc["unique_id"].nunique() * HORIZON
    cols = ["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]
    values = fc[cols].to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= -1e-9).all()


def test_hard_series_warn_instead_of_crashing(fitted):
    choice = fitted.choice("en").set_index("unique_id")
    assert "too short to estimate a season: 9 months" in choice.loc["short", "warning"]
    assert "too short to backtest" in choice.loc["tiny", "warning"]
    assert "level shift" in choice.loc["break", "warning"]
    assert "3 missing month(s) counted as 0" in choice.loc["gaps", "warning"]
    assert "no sales in the last 12 months" in choice.loc["stopped", "warning"]
    assert "all values are 0" in choice.loc["zeros", "warning"]
    assert (_fc(fitted, "zeros")["yhat"] == 0).all()
    # Korean text comes from the same catalogue.
    assert "계절을 추정하기에 짧음" in fitted.choice("ko").set_index("unique_id").loc["short", "warning"]


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


def test_a_few_series_keep_the_fixed_combination(fitted):
    # Four seasonal series are too few to trust another scheme's backtest gain.
    seasonal = fitted.choice().query("cls == 'seasonal'")
    assert set(seasonal["selection"]) == {"combination"}
    assert set(seasonal["model_name"]) == {"Combo(AutoETS+AutoTheta+AutoCES)"}
    report = fitted.selection().query("cls == 'seasonal'").set_index("scheme")
    assert report["chosen"].to_dict() == {"combination": True, "pooled": False, "series": False}
    assert report.loc["combination", "vs_combination_pct"] == 0


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
    f = Forecaster(horizon=7, levels=(90,), models=("AutoETS",))
    assert (f.horizon, f.levels, f.models) == (7, (90,), ("AutoETS",))
    assert not hasattr(f, "forecast_")


def test_unknown_selection_is_a_clear_error(known_frame):
    with pytest.raises(InputError, match="unknown selection 'best'"):
        Forecaster(select="best").fit(known_frame)


def test_predicting_past_the_fitted_horizon_is_an_error_not_a_cut(fitted):
    assert len(fitted.predict(6)) == fitted.predict()["unique_id"].nunique() * 6
    with pytest.raises(InputError, match="cannot predict 24 months: fitted for 12") as info:
        fitted.predict(24)
    assert info.value.column == "horizon"
    with pytest.raises(InputError):
        fitted.predict(0)


# ---------------------------------------------------------------- short series, known answers
def test_short_level_is_forecast_at_its_level():
    rng = np.random.default_rng(5)
    frame = _frame("level", 40 + rng.normal(0, 1.0, 20), "2023-01-01")
    f = Forecaster(horizon=6).fit(frame)
    assert f.choice_.loc[0, "cls"] == "short"
    fc = f.predict()["yhat"].to_numpy()
    assert np.all(np.abs(fc - 40) < 1.5)


def test_short_damped_trend_flattens_instead_of_running_away():
    # 19 months along a trend that shrinks by 15% a month (phi = 0.85): a straight line overshoots.
    slope = 10 * 0.85 ** np.arange(25)
    path = 20 + np.cumsum(slope)
    f = Forecaster(horizon=6, models=("DampedHolt",), select="combination").fit(_frame("damped", path[:19]))
    assert f.choice_.loc[0, "model_name"] == "DampedHolt"
    fc = f.predict()["yhat"].to_numpy()
    assert np.max(np.abs(fc - path[19:])) < 0.5
    assert (np.diff(fc) > 0).all() and (np.diff(np.diff(fc)) < 0).all()


def test_local_models_fit_once_and_refit_the_chosen_form_on_all_data():
    """The backtest forecasts come from one fit on the earliest window rolled forward; the newest
    window refits that fit's exact form, and the final forecast its error and season types with
    the trend searched again."""
    from statsforecast.models import AutoETS

    from carsight.market.model_sets import CANDIDATES

    t = np.arange(96)
    y = 200 + 2 * t + 30 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(0, 3, 96)
    lengths = [60, 66, 72]
    cv, final, fallbacks = CANDIDATES["AutoETS"].forecast_series(y, lengths, 12, 12, 12, reuse_form=True)
    first = AutoETS(season_length=12).fit(y[:60])
    assert np.allclose(cv[1], first.forward(y=y[:66], h=12)["mean"])
    form = first.model_["components"]
    exact = AutoETS(season_length=12, model=form[:3], damped=form[3] == "D").forecast(y=y[:72], h=12)["mean"]
    assert np.allclose(cv[2], exact)
    refit = AutoETS(season_length=12, model=f"{form[0]}Z{form[2]}").forecast(y=y, h=12)["mean"]
    assert np.allclose(final, refit)
    assert fallbacks == 0


def test_unstable_ces_is_not_rolled_forward():
    from carsight.market.local import ces_stable

    class Fitted:
        def __init__(self, a0, a1):
            self.model_ = {"par": {"alpha_0": a0, "alpha_1": a1}}

    assert not ces_stable(Fitted(0.92, 0.9996))  # diverges when rolled forward (seen on a level shift)
    assert ces_stable(Fitted(1.2, 1.0))


def test_a_discontinued_model_is_forecast_zero(fitted):
    # 50 months of about 30 sales, then 12 of none (its longest run of zeros ever): not a rate or a
    # season to keep forecasting.
    choice = fitted.choice().set_index("unique_id").loc["stopped"]
    assert choice["cls"] == "stopped" and choice["model_name"] == "Naive"
    fc = _fc(fitted, "stopped")
    assert (fc["yhat"] == 0).all() and (fc["yhat_lo_95"] == 0).all()


def test_a_series_with_longer_gaps_before_is_intermittent_not_stopped():
    from carsight.market.series import regularise

    # Sells in bursts with 8-month gaps: 6 zero months at the end are no longer than its usual gap.
    y = np.tile(np.r_[np.full(4, 5.0), np.zeros(8)], 5)[:-2]
    _, infos = regularise(_frame("bursty", y))
    assert infos["bursty"].stopped == 0 and any(k == "stopped" for k, _ in infos["bursty"].warnings)


def test_log_model_gives_no_forecast_for_a_series_that_was_negative():
    from carsight.market.model_sets import CANDIDATES

    cv, final, _ = CANDIDATES["LogETS"].forecast_series(np.r_[-1.0, np.arange(40.0)], [30], 3, 3, 12, False)
    assert np.isnan(cv).all() and np.isnan(final).all()


# ---------------------------------------------------------------- the selection scheme
def _scheme_data(kind: str, n: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    t = np.arange(72)
    parts = []
    for i in range(n):
        trend = 100 + (2.0 + 0.2 * rng.random()) * t + rng.normal(0, 2.0, 72)
        seasonal = 300 + 60 * np.sin(2 * np.pi * (t + i) / 12) + rng.normal(0, 2.0, 72)
        # "pooled": every series trends. "series": half trend, half repeat a strong season.
        y = trend if kind == "pooled" or i % 2 == 0 else seasonal
        parts.append(_frame(f"{kind}{i:02d}", y))
    return pd.concat(parts, ignore_index=True)


def test_pooled_choice_wins_when_every_series_wants_the_same_model():
    # Candidates: Holt follows the trends; naive and SES lag them. The mean of all three (the
    # combination here) lags too; one model for all (pooled) is clearly better.
    f = Forecaster(horizon=12, models=("Naive", "SES", "Holt"), combine_top=1).fit(_scheme_data("pooled"))
    report = f.selection().set_index("scheme")
    assert report.loc["pooled", "chosen"], report
    assert report.loc["pooled", "vs_combination_pct"] < -10
    assert set(f.choice_["model_name"]) == {"Holt"}


def test_per_series_choice_wins_when_series_want_different_models():
    # Trending series want Holt; seasonal ones the seasonal naive forecast. No single model (pooled)
    # and no mean (combination) serves both halves.
    f = Forecaster(horizon=12, models=("Naive", "SES", "Holt"), combine_top=1).fit(_scheme_data("series"))
    report = f.selection().set_index("scheme")
    assert report.loc["series", "chosen"], report
    chosen = f.choice_.set_index("unique_id")["model_name"]
    assert (chosen[[f"series{i:02d}" for i in range(0, 24, 2)]] == "Holt").all()
    assert (chosen[[f"series{i:02d}" for i in range(1, 24, 2)]] == "SeasonalNaive").all()
