"""Lifetime value: BG/NBD and Gamma-Gamma reproduce the published CDNOW estimates, the conditional
expectations behave, and the CLV command writes the promised columns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carsight.customers.clv import BetaGeoModel, GammaGammaModel, HurdleCLV, clv_bgnbd, summarise_transactions


def _cdnow() -> pd.DataFrame:
    """The CDNOW summary that the `lifetimes` package ships (read as a file; lifetimes is not imported)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the lifetimes package (source of the CDNOW data files) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "cdnow_customers_summary_with_transactions.csv"
    return pd.read_csv(path)


def test_bgnbd_reproduces_the_published_cdnow_estimates():
    data = _cdnow()
    model = BetaGeoModel().fit(data.x, data.t_x, data["T"])
    # Fader, Hardie & Lee (2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4.
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert model.params_[name] == pytest.approx(value, abs=0.002), name
    assert model.loglik_ == pytest.approx(-9582.4, abs=0.1)
    # The paper's worked example: x = 2, t_x = 30.43, T = 38.86 → 1.226 purchases in the next 39 weeks.
    assert model.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)


def test_gamma_gamma_reproduces_the_published_cdnow_estimates():
    data = _cdnow()
    model = GammaGammaModel().fit(data.x, data.zbar)
    # Fader, Hardie & Lee (2005, "RFM and CLV"): p = 6.25, q = 3.74, γ = 15.44 on 946 repeat buyers.
    assert model.n_customers_ == 946
    assert model.params_["p"] == pytest.approx(6.25, abs=0.01)
    assert model.params_["q"] == pytest.approx(3.74, abs=0.01)
    assert model.params_["v"] == pytest.approx(15.44, abs=0.02)
    # Conditional spend lies between the customer's own mean and the population mean.
    spend = model.expected_spend([1, 10], [100.0, 100.0])
    population = 6.25 * 15.44 / (3.74 - 1)
    assert population < spend[0] < spend[1] < 100


def test_p_alive_and_any_purchase_behave():
    data = _cdnow()
    model = BetaGeoModel().fit(data.x, data.t_x, data["T"])
    # Same frequency, more recent last purchase → more likely alive; no repeat purchase → alive by definition.
    recent, stale = model.p_alive([3, 3], [35.0, 5.0], [38.0, 38.0])
    assert recent > stale
    assert model.p_alive([0], [0.0], [38.0])[0] == 1.0
    p_any = model.p_any_purchase(52, data.x, data.t_x, data["T"])
    expected = model.expected_purchases(52, data.x, data.t_x, data["T"])
    assert np.all((p_any >= 0) & (p_any <= 1))
    assert np.all(p_any <= expected + 1e-9)  # P(N ≥ 1) ≤ E[N]


def _transactions(n_customers: int = 400, seed: int = 0) -> pd.DataFrame:
    """Purchases of customers who buy at Poisson rates until they silently leave (the BG/NBD story)."""
    rng = np.random.default_rng(seed)
    ids, days, amounts = [], [], []
    horizon = (pd.Timestamp("2024-12-31") - pd.Timestamp("2022-01-01")).days
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
    dates = pd.Timestamp("2022-01-01") + pd.to_timedelta(days, unit="D")
    return pd.DataFrame({"customer_id": ids, "date": dates, "amount": amounts})


def test_summary_counts_repeat_days_and_weeks():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08"]),
            "amount": [10.0, 5.0, 30.0, 7.0],
        }
    )
    s = summarise_transactions(tx, "2024-01-29").set_index("customer_id")
    assert s.loc["a", "frequency"] == 1  # two purchases on one day are one occasion
    assert s.loc["a", "recency"] == pytest.approx(2.0) and s.loc["a", "T"] == pytest.approx(4.0)
    assert s.loc["a", "monetary_value"] == 30.0 and s.loc["a", "first_value"] == 15.0
    assert s.loc["b", "frequency"] == 0 and np.isnan(s.loc["b", "monetary_value"])


def test_clv_and_hurdle_on_a_simulated_log():
    tx = _transactions()
    table, info = clv_bgnbd(tx, "2024-07-01", 180)
    assert {"p_alive", "expected_purchases", "p_any_purchase", "expected_value"} <= set(table.columns)
    assert table.expected_value.ge(0).all() and table.p_alive.between(0, 1).all()
    hurdle = HurdleCLV(horizon_days=180).fit(tx, "2024-07-01")
    pred = hurdle.predict(tx, "2024-07-01")
    assert pred.hurdle_p_any.between(0, 1).all() and (pred.hurdle_expected_value >= 0).all()


def test_clv_command_writes_the_promised_columns(tmp_path):
    from carsight.cli import app

    tx = _transactions(300, seed=1)
    # The file as people have it: Korean-style dates and amounts with thousands separators.
    file = tmp_path / "tx.csv"
    pd.DataFrame(
        {
            "고객번호": tx.customer_id,
            "거래일": tx.date.dt.strftime("%Y.%m.%d"),
            "금액": tx.amount.map(lambda v: f"{v * 10000:,.0f}"),
        }
    ).to_csv(file, index=False, encoding="cp949")
    out = tmp_path / "clv.csv"
    args = [
        "clv",
        "--transactions",
        str(file),
        "--calibration-end",
        "2024-07-01",
        "--horizon-days",
        "180",
        "--output",
        str(out),
    ]
    args += ["--customer-col", "고객번호", "--date-col", "거래일", "--amount-col", "금액", "--hurdle"]
    app(args, standalone_mode=False)
    result = pd.read_csv(out, encoding="utf-8-sig")
    assert list(result.columns[:5]) == [
        "customer_id",
        "p_alive",
        "expected_purchases",
        "p_any_purchase",
        "expected_value",
    ]
    assert "hurdle_expected_value" in result.columns
    before = tx[tx.date < "2024-07-01"].customer_id.nunique()
    assert len(result) == before and result.customer_id.is_unique
