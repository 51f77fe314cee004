"""Market analytics on a hand example whose answers are worked out below."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from carsight.market import analytics as A
from carsight.warehouse import schema as S


def _rows(market, model, year, monthly_units, brand="H", kind="export"):
    return [
        {
            "brand": brand,
            "model": model,
            "market": market,
            "kind": kind,
            "month": dt.date(year, m, 1),
            "units": monthly_units,
        }
        for m in range(1, 13)
    ]


@pytest.fixture
def wh(tmp_warehouse):
    # 2024: market A = X 60/month + Y 40/month; market B = X 10 + Y 90. Overall X 70/200 = 35%, Y 65%.
    # 2023: X sold 50/month in A (so YoY +20%); Y did not sell in A.
    rows = (
        _rows("A", "X", 2024, 60) + _rows("A", "Y", 2024, 40) + _rows("B", "X", 2024, 10) + _rows("B", "Y", 2024, 90)
        + _rows("A", "X", 2023, 50)
    )  # fmt: skip
    tmp_warehouse.upsert(S.SALES_MONTHLY, pd.DataFrame(rows))
    return tmp_warehouse


def test_top_models_share_and_yoy(wh):
    top = A.top_models(wh, "2024-01", "2024-12", market="A")
    assert top[["model", "rank", "units"]].values.tolist() == [["X", 1, 720], ["Y", 2, 480]]
    assert top["share"].tolist() == pytest.approx([60.0, 40.0])
    assert top["yoy"].iloc[0] == pytest.approx(20.0)
    assert np.isnan(top["yoy"].iloc[1])  # no sales a year earlier: no YoY, not +inf


def test_top_models_all_markets_together(wh):
    top = A.top_models(wh, "2024-01", "2024-12", market="ALL", n=1)
    assert top[["market", "model", "units"]].values.tolist() == [["ALL", "Y", 1560]]
    assert top["share"].iloc[0] == pytest.approx(65.0)


def test_unusual_points_and_ratio(wh):
    out = A.unusual(wh, "2024-01", "2024-12").set_index(["market", "model"])
    x_in_a = out.loc[("A", "X")]
    assert x_in_a["share_market"] == pytest.approx(60.0)
    assert x_in_a["share_overall"] == pytest.approx(35.0)
    assert x_in_a["points"] == pytest.approx(25.0)
    assert x_in_a["ratio"] == pytest.approx(60 / 35)
    assert bool(x_in_a["flag"])
    assert not bool(out.loc[("A", "Y"), "flag"])  # 40% vs 65%: below overall
    assert x_in_a["market_units"] == 1200
    assert x_in_a["points_se"] == pytest.approx(np.sqrt(0.6 * 0.4 / 1200) * 100)


def test_matrix_has_every_market_and_model(wh):
    m = A.matrix(wh, "2024-01", "2024-12", top=2)
    wide = m.pivot(index="market", columns="model", values="share")
    assert wide.loc["B", "Y"] == pytest.approx(90.0)
    assert wide.loc["A", "X"] == pytest.approx(60.0)


def test_trend_notes_short_history():
    series = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=15, freq="MS"), "y": np.arange(15.0) + 10})
    _, indices, notes = A.trend(series)
    assert notes == [("thin_history", {"n": 15})]
    assert len(indices) == 12


def test_trend_seasonal_indices_with_stl():
    t = np.arange(48)
    season = np.array([0.8, 0.9, 1.0, 1.1, 1.2, 1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 1.1])
    series = pd.DataFrame({"ds": pd.date_range("2021-01-01", periods=48, freq="MS"), "y": 1000 * season[t % 12]})
    decomposition, indices, notes = A.trend(series)
    assert notes == []
    assert (
        indices.set_index("month_of_year")["seasonal_index"].loc[5]
        > indices.set_index("month_of_year")["seasonal_index"].loc[1]
    )
    assert {"trend", "seasonal", "remainder"} <= set(decomposition.columns)


def test_bad_kind_is_an_input_error(wh):
    from carsight.errors import InputError

    with pytest.raises(InputError):
        A.top_models(wh, "2024-01", "2024-12", kind="wholesale")
