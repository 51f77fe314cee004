"""Reconciled forecasts add up: every total equals the sum of its bottom series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.market.forecast import Forecaster
from carsight.market.hierarchy import aggregate, coherence_gap, reconcile


def _bottom() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    t = np.arange(48)
    for brand, models in {"H": ["Tucson", "Kona"], "G": ["G80"]}.items():
        for model in models:
            for market in ("Korea", "USA", "UK"):
                level = rng.uniform(20, 400)
                y = level * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * (1 + 0.01 * t) + rng.normal(0, level * 0.1, 48)
                start = 12 if (model, market) == ("Kona", "UK") else 0  # a later launch
                rows.append(
                    pd.DataFrame(
                        {
                            "brand": brand,
                            "model": model,
                            "market": market,
                            "ds": pd.date_range("2021-01-01", periods=48, freq="MS")[start:],
                            "y": np.maximum(y, 0).round()[start:],
                        }
                    )
                )
    # A model that stopped selling in one market: its series runs on as zeros to the common end.
    rows.append(
        pd.DataFrame(
            {
                "brand": "G",
                "model": "G70",
                "market": "UK",
                "ds": pd.date_range("2021-01-01", periods=20, freq="MS"),
                "y": 5.0,
            }
        )
    )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def hierarchy():
    keys = ["brand", "model", "market"]
    Y_df, S, meta = aggregate(_bottom(), keys, [("total", []), ("brand", ["brand"]), ("market", ["market"])])
    f = Forecaster(horizon=6).fit(Y_df)
    return Y_df, S, meta, f


def test_aggregate_builds_every_level(hierarchy):
    Y_df, S, meta, _ = hierarchy
    assert set(meta["level"]) == {"total", "brand", "market", "brand/model/market"}
    assert S.shape == (1 + 2 + 3 + 10, 10)
    assert S.loc["Total"].sum() == 10
    # The history of a total is the sum of its bottom series.
    total = Y_df[Y_df.unique_id == "Total"].set_index("ds")["y"]
    bottom = Y_df[Y_df.unique_id.isin(S.columns)].groupby("ds")["y"].sum()
    assert np.allclose(total.to_numpy(), bottom.reindex(total.index).to_numpy())


@pytest.mark.parametrize("method", ["mint_shrink", "wls_struct", "bottom_up"])
def test_reconciled_forecasts_are_coherent(hierarchy, method):
    _, S, _, f = hierarchy
    base = f.predict()
    assert coherence_gap(base, S) > 1e-3  # independent forecasts do not add up by themselves
    rec, used = reconcile(base, S, f.residuals_, method=method)
    assert coherence_gap(rec, S) < 1e-6
    assert (rec["yhat"] >= 0).all()
    cols = ["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]
    assert (np.diff(rec[cols].to_numpy(), axis=1) >= -1e-9).all()
    assert used in ("mint_shrink", "wls_struct", "bottom_up")


def test_without_backtest_errors_falls_back_to_structural_weights(hierarchy):
    _, S, _, f = hierarchy
    rec, used = reconcile(f.predict(), S, None)
    assert used == "wls_struct"
    assert coherence_gap(rec, S) < 1e-6
