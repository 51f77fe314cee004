"""The pipeline step on the demo warehouse writes every market table, coherent and backtested."""

from __future__ import annotations

import numpy as np
import pytest

from carsight.warehouse import results_market as R


@pytest.mark.slow
def test_pipeline_step_writes_market_tables(pipeline_wh_path, pipeline_results):
    from carsight.warehouse import connect

    # The market step of the shared pipeline run over the demo (tests/conftest.py).
    summary = pipeline_results["market"].summary
    with connect(str(pipeline_wh_path), read_only=True) as wh:
        tables = {t.name: wh.table(t.name).to_pandas() for t in R.TABLES}
    assert summary["coherence_gap"] < 1e-6
    for name, frame in tables.items():
        assert len(frame) > 0, name
    fc, choice = tables["forecasts"], tables["forecast_choice"]
    assert fc.groupby("unique_id").size().eq(18).all()
    assert set(fc["level"]) == {"total", "brand", "market", "brand/model/market"}
    total = fc[fc.level == "total"].set_index("ds")["yhat"]
    bottom = fc[fc.level == "brand/model/market"].groupby("ds")["yhat"].sum()
    assert np.allclose(bottom.reindex(total.index), total, rtol=1e-9, atol=1e-6)
    # Each choice sits beside its baseline on the same windows; on the demo the chosen forecasts beat
    # it on average (a series' three windows alone are too noisy to ask that of each one).
    scored = choice.dropna(subset=["mase", "mase_snaive"])
    assert scored["mase"].mean() < scored["mase_snaive"].mean()
    assert "seasonal" in summary["selection"] and set(choice["selection"]) - {""} <= {"combination", "pooled", "series"}
    assert choice["warning"].str.len().gt(0).any()  # launches and discontinued models are called out
    assert tables["market_unusual"]["flag"].any()


@pytest.mark.slow
def test_unusual_finds_planted_affinities(demo_wh_path):
    """The demo plants "sells unusually well here" pairs; the assortment-aware ratio finds them."""
    from carsight.demo.config import MARKET_AFFINITY
    from carsight.market import analytics as A
    from carsight.warehouse import connect

    with connect(str(demo_wh_path), read_only=True) as wh:
        start, end = A.last_period(wh, 24)
        out = A.unusual(wh, start, end).set_index(["model", "market"])
    planted = [pair for pair in MARKET_AFFINITY if pair in out.index]
    assert len(planted) >= 10
    assert (out.loc[planted, "ratio_other_markets"] > 1.4).all()
    rest = out.drop(index=planted)["ratio_other_markets"].dropna()
    assert rest.median() < 1.0
