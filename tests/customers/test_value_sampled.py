"""The propensity step on a warehouse bigger than memory (DuckDB): fitted over a sample of customers,
every customer scored and valued in batches, deciles ranked by DuckDB over all of them."""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd

from carsight.config import Settings
from carsight.customers import features as F
from carsight.customers import value_sampled
from carsight.customers.value_sampled import InBatches, run_sampled
from carsight.pipeline import run_pipeline
from carsight.warehouse import connect
from carsight.warehouse import results_value as R


def _settings(path, root) -> Settings:
    return Settings(warehouse=str(path), model_dir=root / "models", output_dir=root / "out", data_dir=root / "data")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("target", "customer_id", "model") if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True)


def test_scoring_in_batches_writes_what_scoring_in_memory_writes(demo_wh_copy, pipeline_wh_path, tmp_path):
    # The demo's customers in four batches; the models are fitted on every customer (fewer than the
    # sample), so each table must be the in-memory step's, deciles included.
    with connect(str(demo_wh_copy)) as wh:
        customers = wh.count("customers")
        scoring = InBatches(wh, customers, batch_customers=customers // 4 + 1)
        assert scoring.batches == 4
        run_sampled(wh, _settings(demo_wh_copy, tmp_path), scoring)
        got = {
            t.name: wh.table(t.name).to_pandas() for t in (R.PROPENSITY_SCORES, R.CUSTOMER_CLV, R.PROPENSITY_METRICS)
        }
        leftovers = [t for t in wh.con.list_tables() if t.startswith(("_cached_", "_stage_"))]
    with connect(str(pipeline_wh_path), read_only=True) as wh:
        expected = {name: wh.table(name).to_pandas() for name in got}
    for name, frame in got.items():
        pd.testing.assert_frame_equal(_sorted(frame), _sorted(expected[name]), check_dtype=False, rtol=1e-9)
    assert not leftovers  # the kept rows and the stage are temporary tables, dropped at the end
    sizes = got[R.PROPENSITY_SCORES.name].groupby(["target", "decile"]).size()
    assert (sizes.groupby("target").max() - sizes.groupby("target").min()).le(1).all()


def test_a_big_duckdb_warehouse_is_fitted_on_a_sample_and_never_collects_every_customer(
    demo_wh_copy, tmp_path, monkeypatch
):
    # The demo stands in for a big warehouse: a sample of 1,000 of its 3,000 customers, batches of
    # 1,000, a drift check on 1,000 rows.
    monkeypatch.setattr("carsight.pipeline.SAMPLE_CUSTOMERS", 1_000)
    monkeypatch.setattr(F, "SAMPLE_CUSTOMERS", 1_000)
    monkeypatch.setattr(value_sampled, "BATCH_CUSTOMERS", 1_000)
    monkeypatch.setattr(value_sampled, "DRIFT_ROWS", 1_000)
    collected: list[int] = []
    to_pandas = ir.Table.to_pandas

    def counting(self, *args, **kwargs):
        frame = to_pandas(self, *args, **kwargs)
        if F.ID in frame.columns:
            collected.append(frame[F.ID].nunique())
        return frame

    monkeypatch.setattr(ir.Table, "to_pandas", counting)
    with connect(str(demo_wh_copy)) as wh:
        customers = wh.count("customers")
        [result] = run_pipeline(wh, _settings(demo_wh_copy, tmp_path), steps=["propensity"])
        monkeypatch.setattr(ir.Table, "to_pandas", to_pandas)
        scores = wh.table(R.PROPENSITY_SCORES.name).to_pandas()
        clv = wh.table(R.CUSTOMER_CLV.name).to_pandas()
    assert result.status == "done", result.summary
    assert result.summary["training sample"] == f"about 1,000 of {customers:,} customers (by a hash of the id)"
    response = scores[scores.target == "response"]
    assert len(response) == customers and response.customer_id.is_unique
    assert set(response.decile) == set(range(1, 11))
    assert clv.customer_id.is_unique and len(clv) > customers // 2
    # Every customer was scored and valued, yet no frame ever held more than a sample or a batch.
    assert collected and max(collected) < 1_300 < customers
