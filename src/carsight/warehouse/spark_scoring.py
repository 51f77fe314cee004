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
from collections.abc import Iterator, Sequence

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import types as T

from carsight.customers.features import CATEGORICAL
from carsight.errors import ModelError
from carsight.warehouse.spark import SparkWarehouse

SCORE = "score"


def model_frame(batch: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """A batch of feature rows typed as the model saw them in training (numbers as float64, categories as text).

    The same conversion as :func:`carsight.customers.features.build_features` applies on the driver.
    """
    out = pd.DataFrame(index=batch.index)
    for name in features:
        if name not in batch.columns:
            raise ModelError(f"the model needs feature '{name}', which the feature rows lack")
        values = batch[name]
        out[name] = values.astype("object") if name in CATEGORICAL else pd.to_numeric(values, errors="coerce")
        if name not in CATEGORICAL:
            out[name] = out[name].astype("float64")
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
    shipped = wh.spark.sparkContext.broadcast(pickle.dumps(model))
    wanted, keys = list(features), list(keys)
    schema = T.StructType([frame.schema[k] for k in keys] + [T.StructField(SCORE, T.DoubleType())])

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        fitted = pickle.loads(shipped.value)  # once per task, not per batch
        for batch in batches:
            if not len(batch):
                continue
            proba = np.asarray(fitted.predict_proba(model_frame(batch, wanted)))
            out = batch[keys].copy()
            out[SCORE] = proba[:, 1] if proba.ndim == 2 else proba
            yield out

    return frame.select(*keys, *[c for c in wanted if c not in keys]).mapInPandas(score, schema)
