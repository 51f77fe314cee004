"""The Spark warehouse gives the same tables as DuckDB from the same Ibis expressions.

One local[2] Spark session for the test run, over the small demo (3,000 customers; fixtures in
conftest.py): customers and purchases go in through ``load_file`` (what ``carsight ingest`` runs:
Spark's bulk path) from the demo's own files, the other source tables are copied from the DuckDB
demo warehouse. Keys must be equal and counts and sums exact. What the pipeline writes on Spark (RFM,
market tables, drivers) is compared with the DuckDB pipeline in test_spark_pipeline.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time

import ibis
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import types as T

from carsight.customers.features import CATEGORICAL, customer_sample, feature_expr, model_frame
from carsight.ingest import load_file
from carsight.market import analytics as A
from carsight.voc.aggregate import build_daily, top_keywords, topic_counts
from carsight.warehouse import connect
from carsight.warehouse import results_voc as RV
from carsight.warehouse import schema as S
from carsight.warehouse.spark import GRACE_S, DriverCollectLimit, SparkWarehouse, driver_collects, parse_url
from carsight.warehouse.spark_scoring import SCORE, groups_on_executors, score_on_executors

pytestmark = pytest.mark.spark

BULK = (S.CUSTOMERS.name, S.PURCHASES.name)  # loaded by load_file in the ``spark_wh`` fixture (conftest.py)


def _same(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], exact: list[str] = ()) -> None:
    """Equal keys; every other column equal (floats to 1e-9 relative: sums in another order)."""
    left = left.sort_values(keys).reset_index(drop=True)
    right = right.sort_values(keys).reset_index(drop=True)
    assert len(left) == len(right) and len(left) > 0
    for k in keys:
        assert list(left[k].astype(str)) == list(right[k].astype(str)), k
    for c in left.columns:
        if c in keys:
            continue
        a, b = left[c], right[c]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b) and c not in exact:
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-6, err_msg=c)
        else:
            assert list(a.astype(str)) == list(b.astype(str)), c


def test_a_spark_url_opens_a_spark_warehouse_of_parquet_tables(spark_wh, tmp_path):
    assert isinstance(spark_wh, SparkWarehouse) and not spark_wh.is_duckdb
    folder, conf = parse_url(f"spark://{tmp_path}/wh?master=local[2]&spark.executor.memory=2g")
    assert folder == (tmp_path / "wh").resolve()
    assert conf == {"spark.master": "local[2]", "spark.executor.memory": "2g"}
    current = (spark_wh.folder / S.PURCHASES.name / "_CURRENT").read_text()
    assert list((spark_wh.folder / S.PURCHASES.name / current).glob("*.parquet"))
    with pytest.raises(Exception, match="unknown setting 'colour'"):
        parse_url(f"spark://{tmp_path}?colour=red")


def test_bulk_ingest_gives_the_rows_duckdb_ingest_gives(spark_wh, duck, demo_files, tmp_path):
    for name in BULK:
        table = S.get_table(name)
        ours = spark_wh.table(name).to_pandas()
        theirs = duck.table(name).to_pandas()
        _same(ours[table.column_names], theirs[table.column_names], list(table.keys))
    # Loading the same file again changes nothing (upsert by key).
    entry = next(
        e for e in json.loads((demo_files / "manifest.json").read_text())["files"] if e["table"] == "purchases"
    )
    again = load_file(spark_wh, "purchases", demo_files / entry["path"], chunk_rows=2_000, output_dir=tmp_path)
    assert again.inserted == 0 and again.updated == 0
    assert again.unchanged == spark_wh.bulk_reports["purchases"].inserted > 1000
    assert again.rejected == spark_wh.bulk_reports["purchases"].rejected


def _as_of(wh) -> dt.date:
    last = wh.table("purchases").purchase_date.max().to_pyarrow().as_py()
    return last + dt.timedelta(days=1)


def test_point_in_time_features_are_the_same_on_spark(spark_wh, duck):
    as_of = _as_of(duck)
    cutoffs = [as_of - dt.timedelta(days=365), as_of]
    ours = feature_expr(spark_wh, cutoffs).to_pandas()
    theirs = feature_expr(duck, cutoffs).to_pandas()
    assert len(theirs) > 1000
    _same(ours, theirs, ["customer_id", "cutoff"])


def test_market_analytics_are_the_same_on_spark(spark_wh, duck):
    """What the dashboard reads besides the pipeline's tables (those: test_spark_pipeline.py)."""
    start, end = A.last_period(duck, 12)
    assert (start, end) == A.last_period(spark_wh, 12)
    _same(A.monthly(spark_wh, market="Korea"), A.monthly(duck, market="Korea"), ["ds"])


def test_voc_daily_aggregates_answer_the_same_on_spark(spark_wh, duck, tmp_path):
    texts = duck.table("consultations").to_pandas()
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(texts.consulted_at).dt.date,
            "model": texts.model,
            "topic": texts.category.fillna("other"),
        }
    )
    keyword_daily, topic_daily = build_daily(frame, [str(t).split() for t in texts.text.fillna("")])
    local = connect(str(tmp_path / "voc.duckdb"), init=True)
    for wh in (local, spark_wh):
        wh.replace(RV.VOC_KEYWORD_DAILY, keyword_daily)
        wh.replace(RV.VOC_TOPIC_DAILY, topic_daily)
    model = frame.model.mode()[0]
    start, end = frame.date.min() + dt.timedelta(days=100), frame.date.max()
    for kwargs in ({}, {"model": model}, {"model": model, "start": start, "end": end}):
        ours, theirs = top_keywords(spark_wh, n=15, **kwargs), top_keywords(local, n=15, **kwargs)
        assert ours.to_dict("records") == theirs.to_dict("records") and len(theirs) == 15
    _same(topic_counts(spark_wh, model=model), topic_counts(local, model=model), ["topic"])
    local.close()


def test_a_whole_table_brought_to_the_driver_is_refused(spark_wh):
    """The pipeline's steps run inside this bound (test_spark_pipeline.py); a whole table is refused, loudly."""
    with pytest.raises(DriverCollectLimit, match="rows to the driver"), driver_collects(200):
        spark_wh.table("purchases").to_pandas()


def test_replacing_a_result_table_is_atomic_for_readers(spark_wh):
    small = pd.DataFrame({"date": [dt.date(2024, 1, 1)], "model": ["A"], "topic": ["t"], "count": [1]})
    big = pd.concat([small] * 50, ignore_index=True).assign(model=[f"M{i}" for i in range(50)])
    name = RV.VOC_TOPIC_DAILY.name
    stored = len(spark_wh.versions(name))
    spark_wh.replace(RV.VOC_TOPIC_DAILY, small)
    seen: set[int] = set()
    failures: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                seen.add(spark_wh.count(name))
            except BaseException as exc:  # a reader that lost its files fails the test below
                failures.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for data in (big, small, big, small, big):
            spark_wh.replace(RV.VOC_TOPIC_DAILY, data)
    finally:
        stop.set()
        reader.join()
    assert not failures and seen <= {1, 50} and seen
    # A write that fails leaves the table as it was.
    with pytest.raises(Exception, match="lacks columns"):
        spark_wh.replace(RV.VOC_TOPIC_DAILY, big.drop(columns=["count"]))
    assert spark_wh.count(name) == 50
    # Replaced versions stay while a query may still read them, and go once their grace has passed.
    assert len(spark_wh.versions(name)) == stored + 6
    for version in spark_wh.versions(name):
        os.utime(spark_wh.folder / name / version, (time.time() - GRACE_S - 60,) * 2)
    spark_wh.replace(RV.VOC_TOPIC_DAILY, small)
    assert len(spark_wh.versions(name)) == 2 and spark_wh.count(name) == 1


def test_every_customer_is_scored_on_the_executors(spark_wh, duck, tmp_path):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    as_of = _as_of(duck)
    past = feature_expr(duck, [as_of - dt.timedelta(days=365)]).to_pandas()
    numeric = [c for c in past.columns if c not in ("customer_id", "cutoff", *CATEGORICAL)]
    model = make_pipeline(SimpleImputer(), LogisticRegression(max_iter=300))
    model.fit(model_frame(past, numeric), past.purchases_730d > 1)  # fitted on the driver
    with driver_collects(10) as seen:
        scores = score_on_executors(spark_wh, feature_expr(spark_wh, [as_of]), model, numeric)
        scores.write.parquet(str(tmp_path / "scores"))
    assert not seen  # the scores were written by the executors; nothing came back
    ours = pd.read_parquet(tmp_path / "scores").sort_values("customer_id").reset_index(drop=True)
    now = feature_expr(duck, [as_of]).to_pandas().sort_values("customer_id").reset_index(drop=True)
    assert list(ours.customer_id) == list(now.customer_id) and len(now) > 1000
    expected = model.predict_proba(model_frame(now, numeric))[:, 1]
    np.testing.assert_allclose(ours[SCORE], expected, rtol=1e-9)


def test_work_mapped_over_the_executors_comes_back_in_item_order(spark_wh):
    items = list(range(103))
    assert spark_wh.map_chunks(lambda shared, chunk: [shared * i for i in chunk], 3, items) == [3 * i for i in items]
    assert spark_wh.map_chunks(lambda shared, chunk: chunk, None, []) == []


def test_each_group_on_the_executors_holds_every_row_of_its_customers(spark_wh, duck):
    schema = T.StructType([T.StructField("customer_id", T.StringType()), T.StructField("n", T.LongType())])
    purchases = spark_wh.table(S.PURCHASES.name).select("customer_id", "purchase_id")

    def count_purchases(_shared, group: pd.DataFrame) -> pd.DataFrame:  # shipped by value: tests are no package
        return group.groupby("customer_id", as_index=False).size().rename(columns={"size": "n"})

    # Groups of about 500 rows: several groups, and every customer's purchases in one of them.
    with driver_collects(1) as seen:
        counted = groups_on_executors(
            spark_wh, purchases, "customer_id", count_purchases, None, schema, rows_per_group=500
        )
        total_rows = counted.count()
    assert all(rows == 1 for _, rows in seen)  # aggregates only: the groups ran on the executors
    ours = counted.toPandas().sort_values("customer_id").reset_index(drop=True)
    theirs = duck.table(S.PURCHASES.name).group_by("customer_id").aggregate(n=ibis._.count()).to_pandas()
    theirs = theirs.sort_values("customer_id").reset_index(drop=True)
    assert ours.customer_id.is_unique  # no customer split over two groups
    assert list(ours.customer_id) == list(theirs.customer_id) and list(ours.n) == list(theirs.n)
    assert total_rows == len(theirs)


def test_a_customer_sample_is_drawn_by_the_id_the_same_way_on_every_run(spark_wh, duck):
    assert customer_sample(3_000, 3_000) is None  # every customer fits: no sample at all
    condition = customer_sample(3_000, 600)
    for wh in (spark_wh, duck):
        customers = wh.table(S.CUSTOMERS.name)
        kept = customers.filter(condition(customers.customer_id)).select("customer_id")
        first = set(kept.to_pandas().customer_id)
        assert 400 <= len(first) <= 800  # about 600 of 3,000
        assert set(kept.to_pandas().customer_id) == first


def test_a_segmenter_fitted_on_a_sample_assigns_every_customer_on_the_executors(spark_copy, duck):
    from carsight.customers.customers_on_spark import SampledOnSpark
    from carsight.customers.pipeline import default_as_of
    from carsight.customers.segments import CustomerSegmenter
    from carsight.warehouse import results_customers as RC

    as_of = default_as_of(duck)
    sampled = SampledOnSpark(spark_copy, customer_sample(3_000, 1_000))
    with driver_collects(1_500) as seen:
        frame = sampled.segment_frame(as_of)  # about 1,000 customers' features come to the driver
        segmenter = CustomerSegmenter(k_range=(3, 5)).fit(frame)
        segments = sampled.write_segments(segmenter, frame, as_of)
    assert 600 <= len(frame) <= 1_400 and max(rows for _, rows in seen) == len(frame)
    written = spark_copy.table(RC.CUSTOMER_SEGMENTS.name).to_pandas().set_index("customer_id")
    # Every customer assigned, the sampled ones to the segment the driver gives them.
    assert sorted(written.index) == sorted(duck.table(S.CUSTOMERS.name).customer_id.to_pandas())
    assert (written.loc[segments.index, "segment_id"] == segments).all()
    # The profiles count every customer, not the sample the segmenter was fitted on.
    profiles = spark_copy.table(RC.SEGMENT_PROFILES.name).to_pandas().set_index("segment_id")
    sizes = written.segment_id.value_counts()
    assert profiles["size"].sum() == 3_000 and (profiles["size"] == sizes.reindex(profiles.index)).all()
    np.testing.assert_allclose(profiles["share"].sum(), 1.0)
    assert profiles.value_total.sum() > segmenter.profiles_.value_total.sum()


def test_a_topic_classifier_fitted_on_a_sample_labels_every_consultation_on_the_executors(
    spark_copy, tmp_path, monkeypatch
):
    from carsight.config import Settings
    from carsight.voc import voc_on_spark

    monkeypatch.setattr(voc_on_spark, "SAMPLE_TEXTS", 1_000)  # about a third of the demo's labelled texts
    settings = Settings(warehouse=spark_copy.url, model_dir=tmp_path / "models", output_dir=tmp_path / "out")
    with driver_collects(1_500) as seen:
        summary = voc_on_spark.run_on_spark(spark_copy, settings)
    fitted = int(summary["training sample"].split()[0].replace(",", ""))
    assert 600 <= fitted <= 1_400 < summary["labelled"] and fitted in [rows for _, rows in seen]
    # Every consultation reviewed on the executors by the model fitted on the sample, and counted.
    written = spark_copy.table(RV.VOC_CONSULTATIONS.name).to_pandas()
    assert len(written) == summary["consultations"] == spark_copy.count(S.CONSULTATIONS.name)
    assert written.topic.notna().all() and written.confidence.between(0, 1).all()
    assert int(written.needs_review.sum()) == summary["needs_review"]
    assert (written.needs_review == (written.confidence < settings.voc_review_threshold)).all()
    daily = spark_copy.table(RV.VOC_TOPIC_DAILY.name).to_pandas()
    assert daily["count"].sum() == len(written)


def test_without_labels_the_topics_discovered_on_spark_are_duckdbs(spark_copy, demo_wh_copy, tmp_path):
    from carsight.config import Settings
    from carsight.voc import pipeline as voc_pipeline
    from carsight.voc.voc_on_spark import run_on_spark

    local = connect(str(demo_wh_copy))
    unlabelled = local.table(S.CONSULTATIONS.name).to_pandas().assign(category=None)
    summaries, topics = [], []
    for wh, run in ((local, voc_pipeline.run), (spark_copy, run_on_spark)):
        wh.upsert(S.CONSULTATIONS, unlabelled)
        folder = tmp_path / type(wh).__name__
        summaries.append(run(wh, Settings(warehouse="unused", model_dir=folder / "models", output_dir=folder)))
        written = wh.table(RV.VOC_CONSULTATIONS.name).to_pandas()
        topics.append(written.set_index("consultation_id").sort_index()[["topic", "needs_review"]])
    local.close()
    assert summaries[0] == summaries[1] and "topics discovered without labels" in summaries[0]["warning"]
    assert topics[1].needs_review.all() and topics[1].topic.nunique() >= 2
    pd.testing.assert_frame_equal(topics[0], topics[1], check_dtype=False)
