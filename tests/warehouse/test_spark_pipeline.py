"""``carsight pipeline run`` on a Spark warehouse: what runs there, what it writes, what it brings to the driver.

The demo's source tables in a Spark warehouse (conftest.py), the whole pipeline run on it inside
:func:`driver_collects`, and what it writes compared with the DuckDB pipeline over the same demo
(``pipeline_wh_path``). Every step runs there; a step that did not would say so, by name, and the run
would go on (a stand-in step checks that).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carsight.cli import app
from carsight.config import Settings, reset_settings_cache
from carsight.customers import value_pipeline as V
from carsight.pipeline import STEPS, Step, run_pipeline
from carsight.warehouse import connect
from carsight.warehouse import results_customers as RC
from carsight.warehouse import results_insights as RI
from carsight.warehouse import results_market as RM
from carsight.warehouse import results_value as RV
from carsight.warehouse import results_voc as RVOC
from carsight.warehouse import schema as S
from carsight.warehouse.spark import driver_collects

pytestmark = pytest.mark.spark

# Rows one collect may bring to the driver, per step: group counts, top-n lists and change cells are
# far fewer than the demo's 3,000 customers and 4,000 purchases, and do not grow with them. The market
# step's forecast input (one row per series and month: what statsforecast fits on the driver) is the
# one larger collect, bounded by the sales table's series × months (docs/scale.md).
STEP_BOUND = {"drivers": 1_000, "market": 1_000}
RUNS_ON_SPARK = {"customers", "propensity", "market", "voc", "triggers", "drivers"}
# What identifies a row of each table of the customers step but RFM (compared on its own).
CUSTOMER_KEYS = {
    RC.CUSTOMER_SEGMENTS: ["customer_id"],
    RC.SEGMENT_PROFILES: ["segment_id"],
    RC.SEGMENT_K_CURVE: ["k"],
    RC.RECOMMENDATIONS: ["customer_id", "rank"],
    RC.RECOMMENDATION_EVAL: ["method"],
}
# What identifies a row of each propensity table.
VALUE_KEYS = {
    RV.PROPENSITY_SCORES: ["target", "customer_id"],
    RV.PROPENSITY_METRICS: ["target", "model"],
    RV.PROPENSITY_DECILES: ["target", "model", "decile"],
    RV.PROPENSITY_CALIBRATION: ["target", "bin"],
    RV.PROPENSITY_IMPORTANCE: ["target", "feature"],
    RV.PROPENSITY_PDP: ["target", "feature", "value"],
    RV.CUSTOMER_CLV: ["customer_id"],
    RV.CLV_BACKTEST: ["model"],
}
# What identifies a row of each market table (they declare no natural key).
MARKET_KEYS = {
    RM.MARKET_TOP_MODELS: ["market", "rank"],
    RM.MARKET_UNUSUAL: ["market", "brand", "model"],
    RM.MARKET_MATRIX: ["market", "brand", "model"],
    RM.MARKET_SEASONALITY: ["unique_id", "month_of_year"],
    RM.FORECASTS: ["unique_id", "model_name", "ds"],
    RM.FORECAST_BACKTEST: ["unique_id", "model_name", "window"],
    RM.FORECAST_CHOICE: ["unique_id"],
}
# What identifies a row of each VoC table, and the masked source table the step writes back.
VOC_KEYS = {
    RVOC.VOC_CONSULTATIONS: ["consultation_id"],
    RVOC.VOC_KEYWORD_DAILY: ["date", "model", "topic", "keyword"],
    RVOC.VOC_TOPIC_DAILY: ["date", "model", "topic"],
    RVOC.VOC_RISING: ["period", "keyword"],
    RVOC.VOC_MODEL_METRICS: ["model_name", "metric"],
    RVOC.VOC_CONFUSION: ["model_name", "true_label", "predicted_label"],
    S.CONSULTATIONS: ["consultation_id"],
}


def _same(ours: pd.DataFrame, theirs: pd.DataFrame, keys: list[str], name: str) -> None:
    """Equal keys; every other column equal (floats to 1e-9 relative: sums in another order)."""
    ours = ours.sort_values(keys).reset_index(drop=True)
    theirs = theirs.sort_values(keys).reset_index(drop=True)
    assert len(ours) == len(theirs) > 0, name
    for c in theirs.columns:
        a, b = ours[c], theirs[c]
        if pd.api.types.is_float_dtype(b) and c not in keys:
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-9, err_msg=f"{name}.{c}")
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), f"{name}.{c}"


def test_the_pipeline_runs_on_spark_bringing_only_aggregates_to_the_driver(
    spark_copy, pipeline_wh_path, pipeline_results, tmp_path
):
    duck = connect(str(pipeline_wh_path), read_only=True)
    sales = duck.table(S.SALES_MONTHLY.name)
    series_months = int(sales.select("brand", "model", "market", "month").distinct().count().to_pyarrow().as_py())
    settings = Settings(warehouse=spark_copy.url, model_dir=tmp_path / "models", output_dir=tmp_path / "out")
    starts: list[tuple[str, int]] = []
    on_executors: list[int] = []  # series per call of map_chunks: the per-series fits sent to the executors
    map_chunks = spark_copy.map_chunks
    spark_copy.map_chunks = lambda function, shared, items: (
        on_executors.append(len(items)) or map_chunks(function, shared, items)
    )
    # The propensity step fits on the driver over a sample of customers, all of them at this size: its
    # largest collects are the features at every training cutoff and the purchases (for lifetime value).
    customers, purchases = duck.count(S.CUSTOMERS.name), duck.count(S.PURCHASES.name)
    as_of = duck.table(RV.PROPENSITY_SCORES.name).as_of.max().to_pyarrow().as_py()
    plans = [V.plan_cutoffs(as_of, V.first_event_date(duck), spec) for spec in V.TARGETS]
    cutoffs = {c for plan in plans for c in [*plan["train"], plan["valid"], plan["test"]]}
    propensity_bound = max(customers * len(cutoffs), purchases)
    # The customers step fits on the driver over a sample of customers, all of them at this size: its
    # largest collects are their segment features, purchases, customer rows and leads.
    customers_bound = max(customers, purchases, duck.count(S.LEADS.name))
    with driver_collects(max(series_months, propensity_bound, customers_bound)) as seen:
        results = run_pipeline(spark_copy, settings, on_step=lambda step: starts.append((step.name, len(seen))))
    del spark_copy.map_chunks
    # Every collect, by the step that made it: aggregates only.
    ends = [n for _, n in starts[1:]] + [len(seen)]
    by_step = {name: [rows for _, rows in seen[first:last]] for (name, first), last in zip(starts, ends, strict=True)}
    market = sorted(by_step["market"])
    assert market[-1] == series_months  # the forecast input, one row per series and month
    assert max(market[:-1]) <= STEP_BOUND["market"]
    assert by_step["drivers"] and max(by_step["drivers"]) <= STEP_BOUND["drivers"]
    assert max(by_step["customers"]) <= customers_bound
    assert max(by_step["propensity"]) <= propensity_bound
    assert max(by_step["triggers"]) <= customers  # rules are mined over (a sample of) the customers
    # The voc step fits on the driver over every labelled text at this size, and brings back the words the
    # executors analysed (what the saved word cache holds after a first run) and aggregates.
    labelled = pipeline_results["voc"].summary["labelled"]
    (saved,) = (tmp_path / "models" / "voc_tokens").glob("words-*.json")
    words = len(json.loads(saved.read_text("utf-8")))
    assert labelled in by_step["voc"] and max(by_step["voc"]) <= max(labelled, words)
    # What the executors analysed comes back to the word cache: the next run knows every word DuckDB's knows,
    # analysed alike. (The saved cache is the process's: words this test process tokenised in earlier tests,
    # e.g. the API's, may be in it too, so it is a superset, not equal.)
    (duck_saved,) = (pipeline_wh_path.parent / "models" / "voc_tokens").glob("words-*.json")
    ours, theirs = json.loads(saved.read_text("utf-8")), json.loads(duck_saved.read_text("utf-8"))
    assert {word: ours.get(word) for word in theirs} == theirs
    # Every step runs on Spark and says what it collects.
    outcome = {r.name: r for r in results}
    assert [r.name for r in results] == [s.name for s in STEPS]
    assert {s.name for s in STEPS} == RUNS_ON_SPARK
    assert {n for n, r in outcome.items() if r.status == S.DONE} == RUNS_ON_SPARK
    assert all(outcome[name].summary["on the driver"] for name in RUNS_ON_SPARK)
    status = spark_copy.table(S.PIPELINE_STATUS.name).to_pandas().set_index("step")
    assert (status["status"] == S.DONE).all()
    # The voc step's summary is DuckDB's (masked, labelled, macro-F1, needs review, keyword rows, rising).
    voc_summary = {k: v for k, v in outcome["voc"].summary.items() if k != "on the driver"}
    assert voc_summary == pipeline_results["voc"].summary

    # What it writes: the same as the DuckDB pipeline over the same demo.
    def both(table):
        return spark_copy.table(table.name).to_pandas(), duck.table(table.name).to_pandas()

    ours, theirs = both(RC.CUSTOMER_RFM)
    grades = ["grade", "named_segment", "group"]
    _same(ours.drop(columns=grades), theirs.drop(columns=grades), ["customer_id"], RC.CUSTOMER_RFM.name)
    merged = ours.merge(theirs, on="customer_id", suffixes=("_spark", "_duck"))
    for column in grades:  # percentile-based: documented tolerance 99.5% (measured: 100%)
        assert (merged[f"{column}_spark"] == merged[f"{column}_duck"]).mean() >= 0.995, column
    # Every series' statistical models were fitted on the executors, and forecast what DuckDB's did.
    choice = duck.table(RM.FORECAST_CHOICE.name).to_pandas()
    assert sum(on_executors) >= choice.unique_id.nunique() > 0
    for table, keys in MARKET_KEYS.items():
        ours, theirs = both(table)
        _same(ours, theirs, keys, table.name)
    # Segments and recommendations: fitted on the same rows as DuckDB's (at this size the sample is
    # every customer), every customer assigned and recommended on the executors.
    for table, keys in CUSTOMER_KEYS.items():
        _same(*both(table), keys, table.name)
    # Propensity and lifetime value: every customer scored and valued on the executors, by models fitted
    # on the same rows as DuckDB's (at this size the training sample is every customer).
    for table, keys in VALUE_KEYS.items():
        ours, theirs = both(table)
        _same(ours, theirs, keys, table.name)
    # Trigger rules mined on the driver over the same rows as on DuckDB; today's features written by the executors.
    _same(*both(RI.TRIGGER_RULES), ["rank"], RI.TRIGGER_RULES.name)
    _same(*both(RI.TRIGGER_FEATURES), ["customer_id"], RI.TRIGGER_FEATURES.name)
    # Sales and purchase drivers, the latter split by the customers step's segments on both.
    _same(*both(RI.DRIVER_SEGMENTS), list(RI.DRIVER_SEGMENTS.keys), RI.DRIVER_SEGMENTS.name)
    # Consultations masked (and written back), tokenised and classified on the executors by a classifier
    # fitted on the same texts as DuckDB's: the same topics, confidences, daily counts and rising keywords.
    for table, keys in VOC_KEYS.items():
        ours, theirs = both(table)
        ours, theirs = (
            ours.drop(columns=["trained_at"], errors="ignore"),
            theirs.drop(columns=["trained_at"], errors="ignore"),
        )
        _same(ours, theirs, keys, table.name)
    duck.close()


def test_a_step_not_built_for_spark_is_one_line_naming_it_and_exit_code_2(spark_copy, monkeypatch):
    """Every step runs on Spark; one that did not (a stand-in here) would fail alone, saying what it lacks."""
    import carsight.pipeline as pipeline

    lacking = Step(
        "stand-in", lambda wh, settings: {}, "A step not built for Spark", (), not_on_spark="every row on the driver"
    )
    monkeypatch.setattr(pipeline, "STEPS", (*STEPS, lacking))
    reset_settings_cache()
    result = CliRunner().invoke(app, ["--warehouse", spark_copy.url, "pipeline", "run", "--step", "stand-in"])
    reset_settings_cache()
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(
        "error: step 'stand-in' does not run on a Spark warehouse yet: every row on the driver"
    )
    status = spark_copy.table(S.PIPELINE_STATUS.name).to_pandas().set_index("step")
    assert status.loc["stand-in", "status"] == S.FAILED
