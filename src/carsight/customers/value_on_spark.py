"""The "propensity" pipeline step on a Spark warehouse.

The models of :mod:`value_pipeline`, fitted on the driver over a bounded sample of customers; every
customer scored, explained and valued on the executors. What comes to the driver (docs/scale.md): the point-in-time features and labels of at most
:data:`carsight.customers.features.SAMPLE_CUSTOMERS` customers at each training cutoff, their purchases (for lifetime value),
and at most :data:`DRIFT_ROWS` of today's rows per target (for the drift check). With more customers
than that, the sample is drawn by a hash of the customer id; with fewer, it is every customer, so a
small warehouse gets exactly the models, scores and values of the DuckDB step. Today's features,
the scores with their reasons and every customer's lifetime value are computed and written by the
executors (:func:`carsight.warehouse.spark_scoring.rows_on_executors` and
:func:`~carsight.warehouse.spark_scoring.groups_on_executors`); deciles are ranked in Spark.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce

import ibis.expr.types as ir
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import Window
from pyspark.sql import functions as SF
from pyspark.sql import types as ST
from threadpoolctl import threadpool_limits

from carsight.apart import Apart, stop_all
from carsight.config import Settings
from carsight.customers import features as F
from carsight.customers import targets as T
from carsight.customers import value_pipeline as V
from carsight.customers.clv_select import fit_customer_value
from carsight.customers.propensity import PropensityModel
from carsight.errors import DataTooThinError
from carsight.warehouse import results_value as R
from carsight.warehouse import schema as S
from carsight.warehouse.spark import SparkWarehouse, spark_schema
from carsight.warehouse.spark_scoring import groups_on_executors, model_frame, rows_on_executors

# Today's rows per target that the drift check compares with the training rows (it samples 5,000).
DRIFT_ROWS = 20_000


def run_on_spark(wh: SparkWarehouse, settings: Settings) -> dict:
    """The propensity step on Spark: what :func:`carsight.customers.value_pipeline.run` writes."""
    with threadpool_limits(1):
        return _run(wh, settings)


def _run(wh: SparkWarehouse, settings: Settings) -> dict:
    last = T.last_event_date(wh)
    first = V.first_event_date(wh)
    if last is None or first is None:
        return {"skipped": "no purchases or events in the warehouse"}
    as_of = last + dt.timedelta(days=1)
    customers = wh.count(S.CUSTOMERS.name)
    sample = F.customer_sample(customers, F.SAMPLE_CUSTOMERS)
    summary: dict = {"as_of": str(as_of)}
    if sample is not None:
        summary["training sample"] = f"about {F.SAMPLE_CUSTOMERS:,} of {customers:,} customers (by a hash of the id)"
    cache = V.FeatureCache(wh, sample)
    plans = [V.plan_cutoffs(as_of, first, spec) for spec in V.TARGETS]
    log_all = V.clv_transactions(wh)
    sampled_log = log_all if sample is None else log_all.filter(sample(log_all[F.ID]))
    transactions = sampled_log.to_pandas()
    # As on DuckDB: lifetime value and each target but the last fitted in processes of their own.
    clv_apart = None
    if not transactions.empty:
        clv_apart = Apart(fit_customer_value, transactions, as_of - dt.timedelta(days=1), V.CLV_HORIZON_DAYS)
    fitting: dict[str, Apart] = {}
    results: dict[str, dict] = {}
    training: dict[str, pd.DataFrame] = {}
    try:
        cache.get(sorted({c for plan in plans for c in [*plan["train"], plan["valid"], plan["test"]]}))
        for spec in V.TARGETS:
            try:
                sets = V.labelled_sets(wh, spec, as_of, first, cache)
            except DataTooThinError as exc:
                summary[spec.name] = f"skipped: {exc}"
                continue
            training[spec.name] = sets["train"]
            if spec is V.TARGETS[-1]:
                results[spec.name] = V.fit_target(spec, sets)
            else:
                fitting[spec.name] = Apart(V.fit_target, spec, sets)
        results.update({name: process.result() for name, process in fitting.items()})
    except BaseException:
        stop_all([clv_apart, *fitting.values()])
        raise
    clv = V.clv_outcome(clv_apart)

    choices: dict[str, tuple[str, str]] = {}
    with wh.cached(F.model_rows_expr(wh, as_of)) as now:  # today's features, computed once
        scores = []
        for spec in V.TARGETS:
            if spec.name in results:
                rows = _population(wh, now, spec, as_of)
                result = results[spec.name]
                choices[spec.name] = _drift_choice(result["model"], result["features"], rows)
                scores.append(scores_on_executors(wh, rows, result, spec, as_of, *choices[spec.name]))
        if scores:
            written = wh.replace(R.PROPENSITY_SCORES, reduce(SparkFrame.unionByName, scores))
        else:
            written = wh.replace(R.PROPENSITY_SCORES, pd.DataFrame(columns=R.PROPENSITY_SCORES.column_names))
    counts = _count_by_target(wh) if written else {}
    scored = {name: V.Scored(counts.get(name, 0), choice[0]) for name, choice in choices.items()}
    tables = V.store_models(settings, as_of, results, scored, training, summary)
    if clv is not None:
        valued = groups_on_executors(
            wh, log_all, F.ID, _clv_rows, (clv, as_of), spark_schema(R.CUSTOMER_CLV), rows_per_group=200_000
        )
        customers_valued = wh.replace(R.CUSTOMER_CLV, valued)
        tables[R.CLV_BACKTEST.name] = [V.clv_backtest_rows(clv, as_of)]
        summary["clv"] = V.clv_summary(clv, customers_valued)
    else:
        wh.replace(R.CUSTOMER_CLV, pd.DataFrame(columns=R.CUSTOMER_CLV.column_names))
    V.write_tables(wh, tables, [t for t in R.TABLES if t not in (R.PROPENSITY_SCORES, R.CUSTOMER_CLV)])
    return summary


def _population(wh: SparkWarehouse, now: ir.Table, spec: V.TargetSpec, as_of: dt.date) -> ir.Table:
    """Today's feature rows of the customers a target is about (as :func:`value_pipeline._scoring_population`)."""
    if spec.name == "response":
        return now
    about = T.target_expr(wh, spec.name, as_of, spec.horizon_days).select(F.ID)
    return now.semi_join(about, F.ID)


def _drift_choice(model: PropensityModel, cols: list[str], rows: ir.Table) -> tuple[str, str]:
    """The candidate that scores these rows and the drift status, from at most :data:`DRIFT_ROWS` of them."""
    count = int(rows.count().to_pyarrow().as_py())
    sample = F.customer_sample(count, DRIFT_ROWS)
    checked = rows if sample is None else rows.filter(sample(rows[F.ID]))
    frame = F.typed_features(checked.to_pandas())
    choice = model.choose_model(frame[cols])
    return choice.model, choice.status


def _score_batch(shared: tuple, batch: pd.DataFrame) -> pd.DataFrame:
    model, cols, spec, as_of, used, drift = shared
    frame = model_frame(batch, cols)
    frame[F.ID] = batch[F.ID].to_numpy()
    return V.scored_rows(model, frame, cols, spec, as_of, used, drift)


def scores_on_executors(
    wh: SparkWarehouse, rows: ir.Table, result: dict, spec: V.TargetSpec, as_of: dt.date, used: str, drift: str
) -> SparkFrame:
    """One target's rows of ``propensity_scores``, computed on the executors.

    Deciles are ranked in Spark exactly as :func:`carsight.customers.deciles.decile_ranks` ranks them
    (by the ranking score, ties in customer order).
    """
    table = spark_schema(R.PROPENSITY_SCORES)
    fields = [f for f in table.fields if f.name != "decile"] + [ST.StructField("ranking_score", ST.DoubleType())]
    cols = result["features"]
    shared = (result["model"], cols, spec, as_of, used, drift)
    scored = rows_on_executors(wh, rows.select(F.ID, *cols), _score_batch, shared, ST.StructType(fields))
    ranked = Window.orderBy(SF.col("ranking_score").desc(), SF.col(F.ID).asc())
    total = SF.count(SF.lit(1)).over(Window.partitionBy())
    decile = SF.floor((SF.row_number().over(ranked) - 1) * 10 / total) + 1
    return scored.withColumn("decile", decile.cast("long")).drop("ranking_score")


def _count_by_target(wh: SparkWarehouse) -> dict[str, int]:
    table = wh.table(R.PROPENSITY_SCORES.name)
    counts = table.group_by("target").aggregate(n=table.count()).to_pandas()
    return dict(zip(counts["target"], counts["n"].astype(int), strict=True))


def _clv_rows(shared: tuple, transactions: pd.DataFrame) -> pd.DataFrame:
    models, as_of = shared
    table = models.predict(transactions).assign(as_of=as_of, horizon_days=V.CLV_HORIZON_DAYS)
    return table.reindex(columns=R.CUSTOMER_CLV.column_names)
