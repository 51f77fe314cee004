"""The "customers" pipeline step on a Spark warehouse.

The step of :mod:`carsight.customers.pipeline` (RFM, segments, recommendations), with its models
fitted on the driver over a bounded sample of customers and every customer's results computed by
the executors. RFM is an expression the executors compute and write, as on DuckDB.

What comes to the driver (docs/scale.md): the segment features on the as-of day and on the
recommender's holdout cutoff, and the purchases, leads and customer rows, of at most
:data:`carsight.customers.features.SAMPLE_CUSTOMERS` customers (a sample drawn by a hash of the
customer id when there are more; below that every customer, so a small warehouse gets exactly the
DuckDB step's models and results), the line-up, and aggregates (RFM group counts, the levels of each
purchase-history block, segment sizes).

On the executors: every customer's segment features (:func:`segment_frame_expr`, the expression
DuckDB collects) and segment (:func:`~carsight.warehouse.spark_scoring.rows_on_executors`, the
fitted segmenter broadcast), and every customer's top 5 models
(:func:`~carsight.warehouse.spark_scoring.groups_on_executors`: each group holds every purchase,
lead, profile and segment row of its customers; the fitted recommender and what a customer's
recommendations read from all customers, :class:`~carsight.customers.recommend.Population`,
broadcast). That population (popularity per month and segment shares) is the sample's, the
purchases the recommender learned from: with a sample, popularity is estimated from it as in
training.

With a sample, the segment profiles' sizes, shares and values count every customer (an aggregate of
the assignments the executors wrote); the saved segmenter keeps those of the customers it was fitted
on.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import functions as SF
from pyspark.sql import types as ST

from carsight.config import Settings
from carsight.customers import features as F
from carsight.customers import pipeline as customers_pipeline
from carsight.customers.recommend import VehicleRecommender
from carsight.customers.recommend_data import CUSTOMER_COLUMNS, LEAD_COLUMNS, PURCHASE_COLUMNS, RecData
from carsight.customers.segments import CustomerSegmenter
from carsight.customers.segments_features import finish_segment_frame, segment_frame_expr
from carsight.warehouse import results_customers as R
from carsight.warehouse import schema as S
from carsight.warehouse.spark import SparkWarehouse, spark_schema
from carsight.warehouse.spark_scoring import groups_on_executors, rows_on_executors

# The per-customer rows a customer's recommendations read, one source table each, told apart by PART
# in one frame (groups_on_executors groups one frame).
PART = "part"
_SOURCES = {
    "purchase": (S.PURCHASES, PURCHASE_COLUMNS),
    "customer": (S.CUSTOMERS, CUSTOMER_COLUMNS),
    "lead": (S.LEADS, LEAD_COLUMNS),
    "segment": (R.CUSTOMER_SEGMENTS, ("customer_id", "segment_id")),
}
MONETARY = "monetary_total"


def run_on_spark(wh: SparkWarehouse, settings: Settings) -> dict:
    """The customers step on Spark: what :func:`carsight.customers.pipeline.run` writes."""
    purchases = wh.table(S.PURCHASES.name)
    buyers = int(purchases.customer_id.nunique().to_pyarrow().as_py())
    # Without a customers table the segments are the buyers': the sample bounds whichever is larger.
    count = max(wh.count(S.CUSTOMERS.name), buyers)
    sample = F.customer_sample(count, F.SAMPLE_CUSTOMERS)
    summary = customers_pipeline.run(wh, settings, customers=SampledOnSpark(wh, sample))
    if sample is not None:
        summary["training sample"] = f"about {F.SAMPLE_CUSTOMERS:,} of {count:,} customers (by a hash of the id)"
    return summary


class SampledOnSpark(customers_pipeline.CustomersHere):
    """The models learn from a sample of customers; the executors write every customer's results.

    ``sample``: a condition on the customer id (:func:`carsight.customers.features.customer_sample`),
    None for every customer.
    """

    def __init__(self, wh: SparkWarehouse, sample):
        super().__init__(wh)
        self.sample = sample
        self._segment_rows: dict[dt.date, ir.Table] = {}

    def rec_data(self) -> RecData:
        """The sampled customers' purchases, leads and profiles, and the line-up."""
        return RecData.from_warehouse(self.wh, sample=self.sample)

    def segment_rows(self, as_of: dt.date) -> ir.Table:
        """Every customer's segment features on ``as_of``, as an expression (its levels computed once)."""
        if as_of not in self._segment_rows:
            self._segment_rows[as_of] = segment_frame_expr(*self.segment_tables(), as_of=as_of)
        return self._segment_rows[as_of]

    def segment_frame(self, as_of: dt.date) -> pd.DataFrame:
        """The sampled customers' segment features on ``as_of``, computed by the warehouse."""
        rows = self.segment_rows(as_of)
        if self.sample is not None:
            rows = rows.filter(self.sample(rows.customer_id))
        return finish_segment_frame(rows.to_pandas())

    def write_segments(self, segmenter: CustomerSegmenter, frame: pd.DataFrame, as_of: dt.date) -> pd.Series:
        """Every customer's segment, assigned and written by the executors; the profiles, counting them all.

        Returns the segment of each sampled customer (``frame``'s), for the recommender.
        """
        schema = ST.StructType([*spark_schema(R.CUSTOMER_SEGMENTS).fields, ST.StructField(MONETARY, ST.DoubleType())])
        assigned = rows_on_executors(self.wh, self.segment_rows(as_of), _assign_batch, segmenter, schema)
        assigned = assigned.persist()  # written, then counted per segment: assigned once
        try:
            self.wh.replace(R.CUSTOMER_SEGMENTS, assigned)
            profiles = segmenter.profiles_ if self.sample is None else _profiles_of_all(segmenter.profiles_, assigned)
        finally:
            assigned.unpersist()
        self.wh.replace(R.SEGMENT_PROFILES, profiles)
        return segmenter.assignments(frame).set_index("customer_id")["segment_id"]

    def write_recommendations(
        self, recommender: VehicleRecommender, data: RecData, as_of: dt.date, pool: ThreadPoolExecutor
    ) -> int:
        """Every customer's top 5 models, computed and written by the executors.

        ``data``: the sampled customers' (with their segments), over which the shared population is
        computed here; LightGBM runs in the executors' processes, so ``pool`` is not needed.
        """
        population = recommender.population(data, as_of)
        present = {part: self._has_rows(table) for part, (table, _) in _SOURCES.items()}
        shared = (recommender, population, as_of, present)
        recs = groups_on_executors(
            self.wh,
            self._customer_rows(present),
            "customer_id",
            _recommend_group,
            shared,
            spark_schema(R.RECOMMENDATIONS),
            rows_per_group=200_000,
        )
        return self.wh.replace(R.RECOMMENDATIONS, recs)

    def _has_rows(self, table: S.Table) -> bool:
        return self.wh.has_table(table.name) and self.wh.count(table.name) > 0

    def _customer_rows(self, present: dict[str, bool]) -> ir.Table:
        """Every purchase, profile, lead and segment row, each with its customer id and its :data:`PART`."""
        types = {}
        for table, columns in _SOURCES.values():
            types.update({c.name: c.dtype for c in table.columns if c.name in columns and c.name not in types})
        parts = []
        for part, (table, columns) in _SOURCES.items():
            if not present[part]:
                continue
            t = self.wh.table(table.name)
            t = t.filter(t.customer_id.notnull())
            values = {
                name: t[name].cast(dtype) if name in columns and name in t.columns else ibis.null(dtype)
                for name, dtype in types.items()
            }
            parts.append(t.select(**{PART: ibis.literal(part)}, **values))
        return ibis.union(*parts)


def _assign_batch(segmenter: CustomerSegmenter, rows: pd.DataFrame) -> pd.DataFrame:
    """Segment assignments of a batch of :func:`segment_frame_expr` rows, with each customer's spend."""
    frame = finish_segment_frame(rows)
    out = segmenter.assignments(frame)
    out[MONETARY] = frame[MONETARY].to_numpy(dtype=float) if MONETARY in frame.columns else np.nan
    return out


def _profiles_of_all(profiles: pd.DataFrame, assigned: SparkFrame) -> pd.DataFrame:
    """The fit's segment profiles with size, share and value counted over every assigned customer."""
    counts = (
        assigned.groupBy("segment_id")
        .agg(SF.count(SF.lit(1)).alias("size"), SF.sum(MONETARY).alias("value_total"))
        .toPandas()
        .set_index("segment_id")
        .reindex(profiles["segment_id"])
    )
    out = profiles.copy()
    size = counts["size"].fillna(0).to_numpy(dtype="int64")
    out["size"] = size
    out["share"] = size / max(int(size.sum()), 1)
    if out["value"].notna().any():  # the fit had spend (purchases): the same measures over everyone
        total = counts["value_total"].fillna(0.0).to_numpy(dtype=float)
        out["value_total"] = total
        out["value"] = np.divide(total, size, out=np.full(len(size), np.nan), where=size > 0)
    return out


def _recommend_group(shared: tuple, rows: pd.DataFrame) -> pd.DataFrame:
    """The top 5 of every customer in one group, from their own rows and the shared population."""
    recommender, population, as_of, present = shared
    frames = {}
    for part, (_, columns) in _SOURCES.items():
        picked = rows.loc[rows[PART] == part, list(columns)] if present[part] else None
        frames[part] = picked.reset_index(drop=True) if picked is not None else None
    segments = frames["segment"]
    data = RecData(
        purchases=frames["purchase"],
        customers=frames["customer"],
        leads=frames["lead"],
        segments=None
        if segments is None
        else pd.Series(segments["segment_id"].to_numpy(dtype="int64"), index=segments["customer_id"]),
    ).before(as_of)
    return recommender.recommend(data, as_of=as_of, k=5, population=population)
