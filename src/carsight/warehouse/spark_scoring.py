"""Scoring every customer on Spark's executors with a model fitted on the driver.

The model (any estimator with ``predict_proba`` over a feature frame: the propensity model, a
scikit-learn pipeline) is fitted on the driver over a sample, as on DuckDB. Scoring is the part that
grows with the customer base, so it runs where the rows are: the features stay a Spark DataFrame
(an Ibis expression compiled by Spark, never collected), the pickled model is broadcast once to each
executor, and ``mapInPandas`` scores each partition's Arrow batches there. Only the scores are
written, by the executors; the driver sees a row count.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from carsight.customers.features import model_frame
from carsight.warehouse.spark import SparkWarehouse

SCORE = "score"


def rows_on_executors(
    wh: SparkWarehouse,
    rows: ir.Table | SparkFrame,
    function: Callable[[Any, pd.DataFrame], pd.DataFrame],
    shared: Any,
    schema: T.StructType,
) -> SparkFrame:
    """``function(shared, batch)`` over every batch of ``rows``, on the executors.

    ``shared`` (a fitted model and what goes with it) is pickled once on the driver and broadcast:
    each task unpickles it once, not once per batch. ``function`` returns the batch's output rows,
    with the columns of ``schema``; it sees each row once, in batches of any size, so its output for
    a row must not depend on the other rows (what does, such as deciles, is computed afterwards in
    Spark). Returns the output unevaluated: write it with :meth:`SparkWarehouse.replace` or join it.
    """
    frame = rows if isinstance(rows, SparkFrame) else wh.frame_of(rows)
    shipped = wh.spark.sparkContext.broadcast(pickle.dumps(shared))

    def apply(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        unpacked = pickle.loads(shipped.value)  # once per task, not per batch
        for batch in batches:
            if len(batch):
                yield function(unpacked, batch)

    return frame.mapInPandas(apply, schema)


def groups_on_executors(
    wh: SparkWarehouse,
    rows: ir.Table | SparkFrame,
    key: str,
    function: Callable[[Any, pd.DataFrame], pd.DataFrame],
    shared: Any,
    schema: T.StructType,
    *,
    rows_per_group: int = 500_000,
) -> SparkFrame:
    """``function(shared, group)`` on the executors, each group holding every row of its keys.

    The groups hold about ``rows_per_group`` rows each, and every row of each ``key`` they hold (all
    purchases of a set of customers). For work per key that needs all of the key's rows together, such as lifetime value from a
    customer's whole purchase history. As :func:`rows_on_executors`, ``shared`` is broadcast once.
    """
    frame = rows if isinstance(rows, SparkFrame) else wh.frame_of(rows)
    total = frame.count()  # one aggregate: how many groups
    groups = max(wh.spark.sparkContext.defaultParallelism, -(-total // rows_per_group))
    shipped = wh.spark.sparkContext.broadcast(pickle.dumps(shared))
    bucket = "_carsight_group"

    def apply(group: pd.DataFrame) -> pd.DataFrame:
        return function(pickle.loads(shipped.value), group.drop(columns=[bucket]).reset_index(drop=True))

    keyed = frame.withColumn(bucket, F.pmod(F.hash(F.col(key)), F.lit(groups)))
    return keyed.groupBy(bucket).applyInPandas(apply, schema)


def _probabilities(shared: tuple, batch: pd.DataFrame) -> pd.DataFrame:
    model, features, keys = shared
    proba = np.asarray(model.predict_proba(model_frame(batch, features)))
    out = batch[keys].copy()
    out[SCORE] = proba[:, 1] if proba.ndim == 2 else proba
    return out


def score_on_executors(
    wh: SparkWarehouse,
    rows: ir.Table | SparkFrame,
    model,
    features: Sequence[str],
    *,
    keys: Sequence[str] = ("customer_id",),
) -> SparkFrame:
    """The probability of the positive class for every row, computed on the executors.

    Parameters
    ----------
    wh
        The Spark warehouse the rows come from.
    rows
        Feature rows: an Ibis expression over ``wh`` (such as
        :func:`carsight.customers.features.feature_expr`) or a Spark DataFrame.
    model
        A fitted estimator with ``predict_proba(frame)``; pickled and broadcast to the executors.
    features
        The model's input columns, in the order it was fitted with.
    keys
        Columns that identify a row, kept beside the score.

    Returns
    -------
    pyspark.sql.DataFrame
        ``keys`` and ``score``, unevaluated: write it with :meth:`SparkWarehouse.replace` or join it.
    """
    frame = rows if isinstance(rows, SparkFrame) else wh.frame_of(rows)
    wanted, keys = list(features), list(keys)
    schema = T.StructType([frame.schema[k] for k in keys] + [T.StructField(SCORE, T.DoubleType())])
    selected = frame.select(*keys, *[c for c in wanted if c not in keys])
    return rows_on_executors(wh, selected, _probabilities, (model, wanted, keys), schema)
