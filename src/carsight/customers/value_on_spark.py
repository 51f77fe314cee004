"""The "propensity" step on a Spark warehouse: :mod:`value_sampled`'s step, every customer scored and valued on the executors.

The models are fitted on the driver over a bounded sample of customers (:mod:`value_sampled`);
today's features are kept by the executors, which score, explain and value every customer
(:func:`carsight.warehouse.spark_scoring.rows_on_executors` and
:func:`~carsight.warehouse.spark_scoring.groups_on_executors`) and write the results; deciles are
ranked in Spark.
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

from carsight.config import Settings
from carsight.customers import features as F
from carsight.customers import value_pipeline as V
from carsight.customers.clv_select import CustomerValueModels
from carsight.customers.value_sampled import RANKING_SCORE, Scoring, run_sampled, score_batch, value_batch
from carsight.warehouse import results_value as R
from carsight.warehouse.spark import SparkWarehouse, spark_schema
from carsight.warehouse.spark_scoring import groups_on_executors, rows_on_executors


def run_on_spark(wh: SparkWarehouse, settings: Settings) -> dict:
    """The propensity step on Spark: what :func:`carsight.customers.value_pipeline.run` writes."""
    return run_sampled(wh, settings, OnExecutors(wh))


class OnExecutors(Scoring):
    """Scoring and valuing on Spark's executors; the driver sees counts."""

    wh: SparkWarehouse

    def __init__(self, wh: SparkWarehouse):
        super().__init__(wh)
        self.scores: list[SparkFrame] = []

    def add_scores(self, rows: ir.Table, result: dict, spec: V.TargetSpec, as_of: dt.date, used: str, drift: str):
        """One target's scored rows, as a Spark DataFrame written with the others by :meth:`write_scores`."""
        self.scores.append(scores_on_executors(self.wh, rows, result, spec, as_of, used, drift))

    def write_scores(self) -> int:
        """Replace ``propensity_scores`` with every target's rows, written by the executors."""
        if not self.scores:
            return self.wh.replace(R.PROPENSITY_SCORES, pd.DataFrame(columns=R.PROPENSITY_SCORES.column_names))
        return self.wh.replace(R.PROPENSITY_SCORES, reduce(SparkFrame.unionByName, self.scores))

    def write_values(self, transactions: ir.Table, models: CustomerValueModels, as_of: dt.date) -> int:
        """Value every customer on the executors, each group of customers with its whole purchase history."""
        valued = groups_on_executors(
            self.wh,
            transactions,
            F.ID,
            value_batch,
            (models, as_of),
            spark_schema(R.CUSTOMER_CLV),
            rows_per_group=200_000,
        )
        return self.wh.replace(R.CUSTOMER_CLV, valued)


def scores_on_executors(
    wh: SparkWarehouse, rows: ir.Table, result: dict, spec: V.TargetSpec, as_of: dt.date, used: str, drift: str
) -> SparkFrame:
    """One target's rows of ``propensity_scores``, computed on the executors.

    Deciles are ranked in Spark exactly as :func:`carsight.customers.deciles.decile_ranks` ranks them
    (by the ranking score, ties in customer order).
    """
    table = spark_schema(R.PROPENSITY_SCORES)
    fields = [f for f in table.fields if f.name != "decile"] + [ST.StructField(RANKING_SCORE, ST.DoubleType())]
    cols = result["features"]
    shared = (result["model"], cols, spec, as_of, used, drift)
    scored = rows_on_executors(wh, rows.select(F.ID, *cols), score_batch, shared, ST.StructType(fields))
    ranked = Window.orderBy(SF.col(RANKING_SCORE).desc(), SF.col(F.ID).asc())
    total = SF.count(SF.lit(1)).over(Window.partitionBy())
    decile = SF.floor((SF.row_number().over(ranked) - 1) * 10 / total) + 1
    return scored.withColumn("decile", decile.cast("long")).drop(RANKING_SCORE)
