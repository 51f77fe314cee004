"""The "propensity" step on a warehouse bigger than memory: models fitted on a sample, every customer scored in batches.

With more than :data:`carsight.customers.features.SAMPLE_CUSTOMERS` customers on DuckDB, and always
on Spark, the models of :mod:`value_pipeline` are fitted over the point-in-time features and labels
of a sample of customers drawn by a hash of the id (every customer when there are fewer, so a small
Spark warehouse gets exactly the DuckDB step's models), and lifetime value over their purchases.
Today's features of every customer, with a column per target saying whether it is about them, are
computed once by the warehouse (:meth:`carsight.warehouse.Warehouse.cached`) and scored where
:class:`Scoring` says: on DuckDB by :class:`InBatches`, in this process, one batch of at most
:data:`BATCH_CUSTOMERS` customers in memory at a time; on Spark by the executors
(:mod:`carsight.customers.value_on_spark`). Deciles are ranked by the warehouse, over every customer.

What comes to Python at once (docs/scale.md): the training sample, at most :data:`DRIFT_ROWS` of
today's rows per target (for the drift check), and one batch.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from abc import ABC, abstractmethod
from contextlib import ExitStack
from typing import Self

import ibis
import ibis.expr.types as ir
import pandas as pd
from threadpoolctl import threadpool_limits

from carsight.apart import Apart, stop_all
from carsight.config import Settings
from carsight.customers import features as F
from carsight.customers import targets as T
from carsight.customers import value_pipeline as V
from carsight.customers.clv_select import CustomerValueModels, fit_customer_value
from carsight.customers.propensity import PropensityModel
from carsight.errors import DataTooThinError
from carsight.warehouse import Warehouse
from carsight.warehouse import results_value as R
from carsight.warehouse import schema as S

# Today's rows per target that the drift check compares with the training rows (it samples 5,000).
DRIFT_ROWS = 20_000
# Customers scored (or valued) per batch on DuckDB: about 100 MB of features and 150 MB of scored
# rows with their reasons in pandas, while LightGBM and SHAP each take a few seconds per batch.
BATCH_CUSTOMERS = 200_000
# DuckDB's memory while a big warehouse is fitted and scored in batches: past it, today's kept rows
# and the scored rows spill to DuckDB's temporary folder. Without it DuckDB takes up to 80% of the
# machine (19 GB of 24 for 10M customers, bench/scale.py), beside the batch in pandas and the models.
DUCKDB_MEMORY = "4GB"
# The column of today's rows saying whether a target is about the customer (see _today).
ABOUT = "_about_{}"
# What a scored row holds in place of its decile until every row is scored (see value_pipeline.scored_rows).
RANKING_SCORE = "ranking_score"


class Scoring(ABC):
    """Where every customer is scored and valued once the models are fitted (on DuckDB or Spark).

    Used as a context manager: what :meth:`today` and the scoring keep in the warehouse is dropped
    when the block ends.
    """

    def __init__(self, wh: Warehouse):
        self.wh = wh
        self.kept = ExitStack()

    def __enter__(self) -> Self:
        """The scoring itself; what it keeps is dropped when the block ends."""
        return self

    def __exit__(self, *exc) -> None:
        """Drop what the warehouse kept for the scoring."""
        self.kept.close()

    def today(self, expr: ir.Table) -> ir.Table:
        """Today's rows, computed once and kept by the warehouse while the block runs."""
        return self.kept.enter_context(self.wh.cached(expr))

    @abstractmethod
    def add_scores(self, rows: ir.Table, result: dict, spec: V.TargetSpec, as_of: dt.date, used: str, drift: str):
        """Score ``rows`` (one target's customers) with ``result["model"]``'s candidate ``used``."""

    @abstractmethod
    def write_scores(self) -> int:
        """Replace ``propensity_scores`` with every scored row, deciles ranked per target; the rows written."""

    @abstractmethod
    def write_values(self, transactions: ir.Table, models: CustomerValueModels, as_of: dt.date) -> int:
        """Replace ``customer_clv`` with the value of every customer in ``transactions``; the customers valued."""


def run_sampled(wh: Warehouse, settings: Settings, scoring: Scoring) -> dict:
    """The propensity step: what :func:`carsight.customers.value_pipeline.run` writes, scored by ``scoring``."""
    with threadpool_limits(1), scoring:
        return _run(wh, settings, scoring)


def _run(wh: Warehouse, settings: Settings, scoring: Scoring) -> dict:
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
    now = scoring.today(_today(wh, as_of)) if results else None  # no model, no features to keep
    for spec in V.TARGETS:
        if spec.name in results:
            rows = now.filter(now[ABOUT.format(spec.name)])
            result = results[spec.name]
            choices[spec.name] = _drift_choice(result["model"], result["features"], rows)
            scoring.add_scores(rows, result, spec, as_of, *choices[spec.name])
    counts = _count_by_target(wh) if scoring.write_scores() else {}
    scored = {name: V.Scored(counts.get(name, 0), choice[0]) for name, choice in choices.items()}
    tables = V.store_models(settings, as_of, results, scored, training, summary)
    if clv is not None:
        summary["clv"] = V.clv_summary(clv, scoring.write_values(log_all, clv, as_of))
        tables[R.CLV_BACKTEST.name] = [V.clv_backtest_rows(clv, as_of)]
    else:
        wh.replace(R.CUSTOMER_CLV, pd.DataFrame(columns=R.CUSTOMER_CLV.column_names))
    V.write_tables(wh, tables, [t for t in R.TABLES if t not in (R.PROPENSITY_SCORES, R.CUSTOMER_CLV)])
    return summary


def _today(wh: Warehouse, as_of: dt.date) -> ir.Table:
    """Today's features of every customer and, per target, whether it is about them (:func:`value_pipeline.population_expr`)."""
    rows = F.model_rows_expr(wh, as_of)
    for spec in V.TARGETS:
        flag = ABOUT.format(spec.name)
        about = V.population_expr(wh, spec, as_of)
        if about is None:
            rows = rows.mutate(**{flag: ibis.literal(True)})
            continue
        # A left join, not an IN subquery: Spark takes those in filters only.
        about = about.distinct().mutate(**{flag: ibis.literal(True)})
        joined = rows.left_join(about, F.ID)
        rows = joined.select(*[joined[c] for c in rows.columns], **{flag: joined[flag].fill_null(False)})
    return rows


def _drift_choice(model: PropensityModel, cols: list[str], rows: ir.Table) -> tuple[str, str]:
    """The candidate that scores these rows and the drift status, from at most :data:`DRIFT_ROWS` of them."""
    count = int(rows.count().to_pyarrow().as_py())
    sample = F.customer_sample(count, DRIFT_ROWS)
    checked = rows if sample is None else rows.filter(sample(rows[F.ID]))
    frame = F.typed_features(checked.select(F.ID, F.CUTOFF, *cols).to_pandas())
    choice = model.choose_model(frame[cols])
    return choice.model, choice.status


def score_batch(shared: tuple, batch: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``propensity_scores`` for a batch of today's rows, with ``ranking_score`` in place of the decile.

    ``shared`` is (model, feature columns, target, as_of, candidate used, drift status).
    """
    model, cols, spec, as_of, used, drift = shared
    frame = F.model_frame(batch, cols)
    frame[F.ID] = batch[F.ID].to_numpy()
    return V.scored_rows(model, frame, cols, spec, as_of, used, drift)


def value_batch(shared: tuple, transactions: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``customer_clv`` for every customer whose whole purchase history ``transactions`` holds."""
    models, as_of = shared
    table = models.predict(transactions).assign(as_of=as_of, horizon_days=V.CLV_HORIZON_DAYS)
    return table.reindex(columns=R.CUSTOMER_CLV.column_names)


def _count_by_target(wh: Warehouse) -> dict[str, int]:
    table = wh.table(R.PROPENSITY_SCORES.name)
    counts = table.group_by("target").aggregate(n=table.count()).to_pandas()
    return dict(zip(counts["target"], counts["n"].astype(int), strict=True))


class InBatches(Scoring):
    """Scoring and valuing on DuckDB in this process, one batch of customers at a time.

    A customer's batch is a hash of the id, so each batch holds whole purchase histories (for
    lifetime value). The scored rows go to a temporary table as each batch is done; deciles are then
    ranked by DuckDB over all of them (by the ranking score, ties in customer order: as
    :func:`carsight.customers.deciles.decile_ranks` ranks one frame).
    """

    PART = "_batch"

    def __init__(self, wh: Warehouse, customers: int, *, batch_customers: int | None = None):
        super().__init__(wh)
        self.batches = max(1, -(-customers // (batch_customers or BATCH_CUSTOMERS)))
        self.scores = None

    def __enter__(self) -> Self:
        """DuckDB held to :data:`DUCKDB_MEMORY` until the block ends."""
        self.kept.enter_context(self.wh.memory_budget(DUCKDB_MEMORY))
        return self

    def _batched(self, expr: ir.Table) -> ir.Table:
        return self.kept.enter_context(self.wh.cached(expr.mutate(**{self.PART: self._part(expr[F.ID])})))

    def _part(self, customer: ir.StringColumn) -> ir.IntegerValue:
        return (customer.hash() % self.batches).abs()

    def today(self, expr: ir.Table) -> ir.Table:
        """Today's rows kept by DuckDB, each with its batch number."""
        return self._batched(expr)

    def add_scores(self, rows: ir.Table, result: dict, spec: V.TargetSpec, as_of: dt.date, used: str, drift: str):
        """Score ``rows`` batch by batch into the stage of scored rows."""
        if self.scores is None:
            self.scores = self.kept.enter_context(self.wh.stage(R.PROPENSITY_SCORES, extra={RANKING_SCORE: "float64"}))
        cols = result["features"]
        # One process scores every batch, so LightGBM predicts and explains (TreeSHAP: most of the
        # time) on every core; the fitted model is left as it is.
        model = copy.copy(result["model"]).set_params(n_jobs=os.cpu_count() or 1)
        shared = (model, cols, spec, as_of, used, drift)
        for batch in range(self.batches):
            part = rows.filter(rows[self.PART] == batch).select(F.ID, *cols).to_pandas()
            self.scores.append(score_batch(shared, part).assign(decile=0))

    def write_scores(self) -> int:
        """Rank the staged rows into deciles per target and replace ``propensity_scores`` with them."""
        if self.scores is None:
            return self.wh.replace(R.PROPENSITY_SCORES, pd.DataFrame(columns=R.PROPENSITY_SCORES.column_names))
        staged = self.wh.con.table(self.scores.name)
        ranked = ibis.window(group_by="target", order_by=[staged[RANKING_SCORE].desc(), staged[F.ID]])
        size = staged[F.ID].count().over(ibis.window(group_by="target"))
        decile = (ibis.row_number().over(ranked) * 10 / size).floor().cast("int64") + 1
        return self.wh.replace(R.PROPENSITY_SCORES, staged.mutate(decile=decile).drop(RANKING_SCORE))

    def write_values(self, transactions: ir.Table, models: CustomerValueModels, as_of: dt.date) -> int:
        """Value every customer batch by batch (each batch holds whole purchase histories)."""
        log = self._batched(transactions)
        with self.wh.stage(R.CUSTOMER_CLV) as valued:
            for batch in range(self.batches):
                part = log.filter(log[self.PART] == batch).drop(self.PART).order_by([F.ID, "date", "amount"])
                valued.append(value_batch((models, as_of), part.to_pandas()))
            return self.wh.replace(R.CUSTOMER_CLV, self.wh.con.table(valued.name))
