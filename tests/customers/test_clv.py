"""Lifetime value: BG/NBD and Gamma-Gamma agree with an independent implementation on the CDNOW
master log, the published worked example holds, the calibration end is inclusive, no customer is lost,
the hurdle model trains whatever the horizon, the default columns follow the backtest, and `carsight
clv` runs on a plain customer/date/amount file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carsight.customers.clv import (
    BetaGeoModel,
    GammaGammaModel,
    holdout_outcomes,
    summarise_transactions,
)
from carsight.customers.clv_hurdle import HurdleCLV
from carsight.customers.clv_select import OUTPUT_COLUMNS, choose, customer_value, fit_customer_value


@pytest.fixture(scope="module")
def cdnow_master() -> pd.DataFrame:
    """The full CDNOW log (23,570 customers) that the `lifetimes` package ships as a file; read
    directly, lifetimes is not imported. Its 1/10 sample and summaries stay out of the tests."""
    spec = importlib.util.find_spec("lifetimes")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_master.txt"
    raw = pd.read_csv(path, sep=r"\s+", header=0, names=["customer_id", "date", "cds", "amount"], dtype=str)
    return pd.DataFrame(
        {
            "customer_id": raw.customer_id,
            "date": pd.to_datetime(raw.date, format="%Y%m%d"),
            "amount": raw.amount.astype(float),
        }
    )


def test_bgnbd_and_gamma_gamma_on_cdnow_match_an_independent_fit(cdnow_master):
    summary = summarise_transactions(cdnow_master, "1997-12-31")
    assert len(summary) == 23_570 and summary.frequency.sum() == 31_744
    model = BetaGeoModel().fit(summary)
    # lifetimes 0.11.3 BetaGeoFitter on the same (frequency, recency, T) arrays, penalizer 0.
    expected = {"r": 0.26545, "alpha": 5.43833, "a": 0.59868, "b": 2.22779}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, rel=2e-4), name
    spend = GammaGammaModel().fit(summary)
    # lifetimes GammaGammaFitter on the 10,487 repeat buyers with a positive mean spend.
    assert spend.n_customers_ == 10_487
    for name, value in {"p": 5.39733, "q": 3.77424, "v": 18.73207}.items():
        assert spend.params_[name] == pytest.approx(value, rel=2e-4), name
    # Conditional expectations agree too (lifetimes: 0.92348 purchases in 26 weeks, P(alive) 0.76970).
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert model.expected_purchases(one, 26)[0] == pytest.approx(0.92348, abs=1e-4)
    assert model.p_alive(one)[0] == pytest.approx(0.76970, abs=1e-4)


def test_bgnbd_reproduces_the_published_worked_example():
    # Fader, Hardie & Lee (2005): with r = 0.243, α = 4.414, a = 0.793, b = 2.426, a customer with
    # x = 2, t_x = 30.43, T = 38.86 weeks makes 1.226 purchases in the next 39 weeks.
    model = BetaGeoModel()
    model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert model.expected_purchases(one, 39)[0] == pytest.approx(1.226, abs=0.001)


def test_bgnbd_fits_customers_with_equal_histories_as_one_weighted_row():
    # The fit merges equal (frequency, recency, T) rows; the same customers given as distinct rows with
    # their counts as weights must give the same model, and every customer still counts.
    rng = np.random.default_rng(3)
    T = rng.integers(10, 60, 400).astype(float)
    frequency = rng.poisson(0.7, 400).astype(float)
    recency = np.where(frequency > 0, np.floor(T * rng.random(400)), 0.0)
    customers = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T})
    repeated = customers.loc[customers.index.repeat(rng.integers(1, 4, 400))].reset_index(drop=True)
    distinct = repeated.value_counts().rename("n").reset_index()
    one_row_each = BetaGeoModel(penalizer=0.001).fit(repeated)
    weighted = BetaGeoModel(penalizer=0.001).fit(distinct, sample_weight=distinct["n"])
    assert one_row_each.n_customers_ == len(repeated) and weighted.n_customers_ == len(distinct)
    for name, value in one_row_each.params_.items():
        assert weighted.params_[name] == pytest.approx(value, rel=1e-5), name
    assert weighted.loglik_ == pytest.approx(one_row_each.loglik_, rel=1e-9)


def test_p_alive_and_any_purchase_behave(cdnow_master):
    summary = summarise_transactions(cdnow_master, "1997-12-31")
    model = BetaGeoModel().fit(summary)
    # Same frequency, more recent last purchase → more likely alive; no repeat purchase → alive by definition.
    two = pd.DataFrame({"frequency": [3, 3, 0], "recency": [35.0, 5.0, 0.0], "T": [38.0, 38.0, 38.0]})
    recent, stale, single = model.p_alive(two)
    assert recent > stale and single == 1.0
    p_any = model.p_any_purchase(summary, 52)
    expected = model.expected_purchases(summary, 52)
    assert np.all((p_any >= 0) & (p_any <= 1))
    assert np.all(p_any <= expected + 1e-9)  # P(N ≥ 1) ≤ E[N]


def _transactions(n_customers: int = 400, seed: int = 0, start: str = "2022-01-01") -> pd.DataFrame:
    """Purchases of customers who buy at Poisson rates until they silently leave (the BG/NBD story)."""
    rng = np.random.default_rng(seed)
    ids, days, amounts = [], [], []
    horizon = (pd.Timestamp("2024-12-31") - pd.Timestamp(start)).days
    for i in range(n_customers):
        rate = rng.gamma(0.8, 1 / 20)  # purchases per day while active
        day = float(rng.integers(0, 300))
        end = min(day + rng.exponential(500), horizon)
        spend = rng.gamma(5, 20)
        while day < end:
            ids.append(f"C{i:04d}")
            days.append(int(day))
            amounts.append(round(rng.gamma(6, spend / 6), 2))
            day += rng.exponential(1 / rate)
    dates = pd.Timestamp(start) + pd.to_timedelta(days, unit="D")
    return pd.DataFrame({"customer_id": ids, "date": dates, "amount": amounts})


def test_summary_counts_repeat_days_and_the_calibration_end_is_inclusive():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "c", "d", "d"],
            "date": pd.to_datetime(
                ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08", "2024-01-29", "2024-01-03", "2024-01-30"]
            ),
            "amount": [10.0, 5.0, 30.0, 7.0, 12.0, 0.0, 9.0],
        }
    )
    s = summarise_transactions(tx, "2024-01-29").set_index("customer_id")
    assert s.loc["a", "frequency"] == 1  # two purchases on one day are one occasion
    assert s.loc["a", "recency"] == pytest.approx(2.0) and s.loc["a", "T"] == pytest.approx(4.0)
    assert s.loc["a", "monetary_value"] == 30.0 and s.loc["a", "first_value"] == 15.0
    assert s.loc["b", "frequency"] == 0 and np.isnan(s.loc["b", "monetary_value"])
    # A purchase on the calibration-end day belongs to the calibration period: T = 0.
    assert s.loc["c", "T"] == 0 and s.loc["c", "n_purchases"] == 1
    # A customer whose only purchase before the end has amount 0 keeps a row, with no value.
    assert s.loc["d", "n_purchases"] == 1 and np.isnan(s.loc["d", "mean_value"]) and s.loc["d", "value_note"]
    # What happens after the end day starts the day after it.
    after = holdout_outcomes(tx, "2024-01-29", 7).set_index("customer_id")
    assert after.index.tolist() == ["d"] and after.loc["d", "actual_purchases"] == 1


def test_no_customer_is_lost_and_the_end_day_customer_gets_a_probability():
    tx = _transactions(600, seed=3)
    end = pd.Timestamp("2024-06-30")
    extra = pd.DataFrame(
        {
            "customer_id": ["ONLY-END-DAY", "ZERO-AMOUNT", "LATER"],
            "date": [end, pd.Timestamp("2023-03-01"), end + pd.Timedelta(days=3)],
            "amount": [55.0, 0.0, 20.0],
        }
    )
    result = customer_value(pd.concat([tx, extra], ignore_index=True), end, 180)
    table = result.table.set_index("customer_id")
    before = set(tx[tx.date <= end].customer_id) | {"ONLY-END-DAY", "ZERO-AMOUNT"}
    assert set(table.index) == before and "LATER" not in table.index
    assert any("first buy after" in note for note in result.notes)
    # The first column whose name contains "any" is the chosen model's probability, for everyone.
    first_any = next(c for c in result.table.columns if "any" in c)
    assert first_any == "p_any_purchase" and result.table[first_any].between(0, 1).all()
    chosen = result.chosen["p_any_purchase"]
    np.testing.assert_allclose(table.p_any_purchase, table[f"{chosen}_p_any"])
    assert table.loc["ONLY-END-DAY", "tenure_days"] == 0 and 0 < table.loc["ONLY-END-DAY", "p_any_purchase"] < 1
    # No positive amount: the value is empty and says why; the purchase probability is still there.
    assert (
        np.isnan(table.loc["ZERO-AMOUNT", "expected_value"])
        and "positive amount" in table.loc["ZERO-AMOUNT", "value_note"]
    )
    assert list(result.table.columns[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS


def test_hurdle_trains_when_the_horizon_is_longer_than_half_the_calibration_period():
    tx = _transactions(800, seed=5, start="2023-06-01")
    # History from mid-2023 to the end of 2024 (~ 580 days); predict 400 days ahead.
    end = "2024-12-31"
    model = HurdleCLV(horizon_days=400).fit(tx, calibration_end=end)
    assert model.window_days_ < 400 and model.n_train_rows_ >= 800
    assert any("scales" in note for note in model.notes_)
    pred = model.predict(tx)
    assert len(pred) == tx[tx.date <= end].customer_id.nunique()
    assert pred.p_any_purchase.between(0, 1).all() and (pred.expected_purchases >= 0).all()
    # A horizon as long as the whole calibration period (the case that used to stop with
    # "0 buyers of 0 customers") trains too.
    span = (pd.Timestamp(end) - tx.date.min()).days
    assert HurdleCLV(horizon_days=span).fit(tx, calibration_end=end).n_buyers_ > 10


def test_a_customers_value_does_not_depend_on_who_else_is_predicted():
    # On Spark every customer is predicted in a group of other customers; each row must be the same
    # as when the whole log is predicted at once (the hurdle model's BG/NBD features come from the fit).
    tx = _transactions(600, seed=3)
    fitted = fit_customer_value(tx, "2024-06-30", 180)
    whole = fitted.predict(tx).set_index("customer_id")
    halves = [fitted.predict(tx[tx.customer_id.str[-1].isin(list(digits))]) for digits in ("01234", "56789")]
    apart = pd.concat(halves).set_index("customer_id").reindex(whole.index)
    assert fitted.models.keys() >= {"bgnbd", "hurdle"}
    pd.testing.assert_frame_equal(apart, whole, rtol=1e-12)
    assert customer_value(tx, "2024-06-30", 180).table.equals(whole.reset_index())


def test_default_columns_follow_the_backtest():
    backtest = pd.DataFrame(
        {
            "model": ["bgnbd", "hurdle", "past_rate"],
            "auroc": [0.70, 0.74, 0.72],
            "mae_purchases": [0.50, 0.55, 1.20],
            "mae_value": [30.0, 20.0, 80.0],
        }
    )
    assert choose(backtest, ["bgnbd", "hurdle", "past_rate"]) == {
        "p_any_purchase": "hurdle",
        "expected_purchases": "bgnbd",
        "expected_value": "hurdle",
    }
    # A model that learned from shorter windows than the horizon scales its counts: the backtest cannot
    # check that, so it only competes for the ranking.
    assert choose(backtest, ["bgnbd", "hurdle", "past_rate"], scaled=("hurdle",)) == {
        "p_any_purchase": "hurdle",
        "expected_purchases": "bgnbd",
        "expected_value": "bgnbd",
    }
    # A model that could not be fitted at the calibration end is never chosen.
    assert choose(backtest, ["bgnbd", "past_rate"])["p_any_purchase"] == "past_rate"
    # No backtest at all (calibration too short): the textbook model.
    assert set(choose(backtest.iloc[0:0], ["bgnbd", "past_rate"]).values()) == {"bgnbd"}


def test_the_ranking_does_not_flip_on_a_gap_within_noise():
    backtest = pd.DataFrame(
        {
            "model": ["bgnbd", "hurdle", "past_rate", "ensemble"],
            "auroc": [0.7506, 0.7542, 0.7567, 0.7560],
            "auroc_se": [0.0030, 0.0032, 0.0, 0.0015],
            "mae_purchases": [0.37, 0.40, 0.86, 0.50],
            "mae_value": [14.2, 15.7, 31.6, 18.0],
        }
    )
    fitted = ["bgnbd", "hurdle", "past_rate", "ensemble"]
    # The past rate leads by less than one standard error of the gap: the richest model within it, the
    # ensemble, ranks.
    assert choose(backtest, fitted)["p_any_purchase"] == "ensemble"
    # Without the ensemble the hurdle model is the richest within one standard error.
    assert choose(backtest, fitted[:3])["p_any_purchase"] == "hurdle"
    # A lead larger than the noise decides.
    clear = backtest.assign(auroc_se=[0.0030, 0.0010, 0.0, 0.0005])
    assert choose(clear, fitted)["p_any_purchase"] == "past_rate"
    # Counts and value still go to the lowest error.
    assert choose(backtest, fitted)["expected_purchases"] == "bgnbd"


def test_backtest_is_inside_the_calibration_period_and_stored():
    tx = _transactions(500, seed=2)
    end = pd.Timestamp("2024-06-30")
    # Purchases after the calibration end must not change anything.
    noisy = pd.concat(
        [
            tx,
            pd.DataFrame(
                {"customer_id": ["C0001"] * 5, "date": [end + pd.Timedelta(days=d) for d in range(1, 6)], "amount": 1.0}
            ),
        ]
    )
    a, b = customer_value(tx, end, 120), customer_value(noisy, end, 120)
    pd.testing.assert_frame_equal(a.backtest, b.backtest)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert set(a.backtest.model) == {"bgnbd", "hurdle", "past_rate", "ensemble"} and (a.backtest.status == "ok").all()
    # The ensemble is the mean of the three models, in the backtest and in the output.
    models = a.table[["bgnbd_p_any", "hurdle_p_any", "past_rate_p_any"]]
    np.testing.assert_allclose(a.table.ensemble_p_any, models.mean(axis=1))
    # Every model's AUROC gap to the best one carries its standard error (0 for the best itself).
    best = a.backtest.loc[a.backtest.auroc.idxmax()]
    assert best.auroc_se == 0 and (a.backtest.drop(index=best.name).auroc_se > 0).all()
    assert a.backtest.window_days.iloc[0] == 120 and "scored on the 120 days" in a.backtest_description


def test_clv_command_on_a_plain_log(tmp_path):
    from carsight.cli import app

    tx = _transactions(300, seed=1)
    # The file as people have it: only customer, date and amount; Korean-style dates, separators.
    file = tmp_path / "tx.csv"
    pd.DataFrame(
        {
            "고객번호": tx.customer_id,
            "거래일": tx.date.dt.strftime("%Y.%m.%d"),
            "금액": tx.amount.map(lambda v: f"{v * 10000:,.0f}"),
        }
    ).to_csv(file, index=False, encoding="cp949")
    with open(file, "a", encoding="cp949") as fh:
        fh.write("C99999,언젠가,1000\n")  # a bad row is set aside with its reason, the rest is used
    out = tmp_path / "clv.csv"
    # No column options: the headers are recognised as `carsight ingest` recognises them.
    args = ["clv", "--transactions", str(file), "--calibration-end", "2024-07-01", "--horizon-days", "180"]
    args += ["--output", str(out)]
    app(args, standalone_mode=False)
    result = pd.read_csv(out, encoding="utf-8-sig", dtype={"customer_id": str})
    assert list(result.columns[:4]) == ["customer_id", "p_any_purchase", "expected_purchases", "expected_value"]
    assert {"bgnbd_p_any", "hurdle_p_any", "past_rate_p_any", "clv_model"} <= set(result.columns)
    before = tx[tx.date <= "2024-07-01"].customer_id.nunique()
    assert len(result) == before and result.customer_id.is_unique
    backtest = pd.read_csv(tmp_path / "clv_backtest.csv", encoding="utf-8-sig")
    assert set(backtest.model) == {"bgnbd", "hurdle", "past_rate", "ensemble"} and backtest.chosen_for.notna().any()


def test_clv_help_says_the_calibration_end_is_inclusive():
    from typer.testing import CliRunner

    from carsight.cli import app

    out = CliRunner().invoke(app, ["clv", "--help"], env={"COLUMNS": "200"}).output
    assert "inclusive" in out
