"""The pipeline: every analytic step that turns warehouse source tables into result tables, in dependency order.

Each step is ``run(wh, settings) -> dict`` in its domain package; the CLI, the scheduler and ``make
demo`` call :func:`run_pipeline`.

A run records where each step stands in the ``pipeline_status`` table and, on a DuckDB file, publishes
a snapshot for readers when it starts and after every step (:mod:`carsight.warehouse.sharing`): the
dashboard and the API keep serving the last published results while a step runs, pick up each
step's tables when it is done, and pages say which results are still being computed.

On a Spark warehouse (``Warehouse.distributed``) a step runs only if it keeps the rows on the
executors and brings at most an aggregate or a bounded sample to the driver; every step does. One
that did not (``Step.not_on_spark``) would say what it lacks (:class:`carsight.errors.NotBuiltForSpark`):
it is recorded as failed with that message and the run goes on with the next step (docs/scale.md,
"What runs where").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from carsight.config import Settings
from carsight.customers import pipeline as customers_pipeline
from carsight.customers import trigger_pipeline, value_pipeline, value_sampled
from carsight.customers.features import SAMPLE_CUSTOMERS
from carsight.errors import InputError, NotBuiltForSpark
from carsight.market import driver_pipeline
from carsight.market import pipeline as market_pipeline
from carsight.voc import pipeline as voc_pipeline
from carsight.warehouse import Warehouse, results_customers, results_market, results_value, results_voc
from carsight.warehouse import schema as S
from carsight.warehouse.results_insights import DRIVER_SEGMENTS, TRIGGER_FEATURES, TRIGGER_RULES
from carsight.warehouse.tables import Table


@dataclass(frozen=True)
class Step:
    """One pipeline step.

    Its name (what ``--step`` takes), what it runs, what it computes, and the result tables it
    writes (pages whose tables are not written yet say they are being computed).
    """

    name: str
    run: Callable[[Warehouse, Settings], dict | None]
    description: str
    tables: tuple[Table, ...]
    # What the step lacks to run on Spark (None: it runs there). ``on_driver``: what a step that runs
    # on Spark brings to the driver (said in its summary there; docs/scale.md).
    not_on_spark: str | None = None
    on_driver: str | None = None


def _customers(wh: Warehouse, settings: Settings) -> dict:
    """The customers step; on Spark, fitted on the driver over a sample, every customer's results from the executors."""
    if wh.distributed:
        # Imported here: it needs pyspark, which only a Spark warehouse does.
        from carsight.customers.customers_on_spark import run_on_spark

        return run_on_spark(wh, settings)
    return customers_pipeline.run(wh, settings)


def _propensity(wh: Warehouse, settings: Settings) -> dict:
    """The propensity step; on Spark, fitted on the driver over a sample and scored on the executors.

    On DuckDB with more than :data:`~carsight.customers.features.SAMPLE_CUSTOMERS` customers, fitted
    over the same sample and scored in batches (:mod:`carsight.customers.value_sampled`).
    """
    if wh.distributed:
        # Imported here: it needs pyspark, which only a Spark warehouse does.
        from carsight.customers.value_on_spark import run_on_spark

        return run_on_spark(wh, settings)
    customers = wh.count(S.CUSTOMERS.name) if wh.has_table(S.CUSTOMERS.name) else 0
    if customers > SAMPLE_CUSTOMERS:
        # More customers than one process holds comfortably: fitted over a sample, scored in batches.
        return value_sampled.run_sampled(wh, settings, value_sampled.InBatches(wh, customers))
    return value_pipeline.run(wh, settings)


def _voc(wh: Warehouse, settings: Settings) -> dict:
    """The voc step; on Spark, every text handled on the executors, the classifier fitted on the driver over a sample."""
    if wh.distributed:
        # Imported here: it needs pyspark, which only a Spark warehouse does.
        from carsight.voc.voc_on_spark import run_on_spark

        return run_on_spark(wh, settings)
    return voc_pipeline.run(wh, settings)


STEPS: tuple[Step, ...] = (
    Step(
        "customers",
        _customers,
        "RFM grades, segments, recommendations",
        results_customers.TABLES,
        on_driver="the segment features (on the as-of day and on the recommender's holdout cutoff), "
        "purchases, leads and customer rows of at most 100,000 customers (a sample by a hash of the id "
        "when there are more) to fit the segmenter and the recommender, the line-up, and aggregates (RFM "
        "group counts, purchase-history levels, segment sizes); every customer's RFM, segment and top 5 "
        "models are computed on the executors",
    ),
    Step(
        "propensity",
        _propensity,
        "Repurchase/response propensity, reasons, CLV",
        results_value.TABLES,
        on_driver="the features, labels and purchases of at most 100,000 customers (a sample by a hash of "
        "the id when there are more) to fit the models, and up to 20,000 of today's rows per target for the "
        "drift check; every customer's scores, reasons and lifetime value are computed on the executors",
    ),
    Step(
        "market",
        market_pipeline.run,
        "Market analytics, backtested forecasts",
        results_market.TABLES,
        on_driver="top-n lists, one row per market × model of the analytics, and one row per series and "
        "month (the forecasting input: each series' statistical models are fitted on the executors, the "
        "choice among them and the pooled models on the driver)",
    ),
    Step(
        "voc",
        _voc,
        "Mask, classify and aggregate consultations",
        results_voc.TABLES,
        on_driver="the masked texts and labels of at most 100,000 labelled consultations (a sample by a hash "
        "of the id when there are more; without enough labels, of any consultations) to fit the topic "
        "classifier, the words the executors analysed that the saved word cache lacked, and aggregates (row "
        "counts, texts per month, month × keyword counts of the keywords tested for rising); every text is "
        "masked, tokenised and classified, and the daily keyword and topic counts aggregated, on the executors",
    ),
    Step(
        "triggers",
        trigger_pipeline.run,
        "Repurchase trigger conditions (association rules)",
        (TRIGGER_RULES, TRIGGER_FEATURES),
        on_driver="the trigger features and repurchase labels at the reference date of at most 100,000 "
        "customers (a sample by a hash of the id when there are more), to mine the rules; today's features "
        "of every customer are computed and written on the executors",
    ),
    Step(
        "drivers",
        driver_pipeline.run,
        "What drove the change in sales and purchases",
        (DRIVER_SEGMENTS,),
        on_driver="one row per change cell (model × market × kind, model × region × channel) and period",
    ),
)


@dataclass
class StepResult:
    """What one step did: ``done`` with its summary and run time."""

    name: str
    status: str
    seconds: float
    summary: dict


def select_steps(names: list[str] | None) -> list[Step]:
    """The steps called ``names`` in pipeline order (all steps for None).

    Raises
    ------
    InputError
        For a name that is no step, listing the known ones.
    """
    if names is None:
        return list(STEPS)
    known = [s.name for s in STEPS]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown step '{unknown[0]}'", expected="one of " + ", ".join(known))
    return [s for s in STEPS if s.name in names]


class _Status:
    """The run's rows of ``pipeline_status``.

    Written when the run starts and after every step and, for a DuckDB file, published with the
    results written so far (a step's tables appear to readers together, when the step is done).
    """

    def __init__(self, wh: Warehouse, steps: list[Step]):
        self.wh = wh
        self.publishes = wh.publishes
        self.rows = pd.DataFrame(
            {
                "run_id": uuid.uuid4().hex[:12],
                "position": range(1, len(steps) + 1),
                "step": [s.name for s in steps],
                "status": S.PENDING,
                "tables": [",".join(t.name for t in s.tables) for s in steps],
                "started_at": pd.NaT,
                "finished_at": pd.NaT,
                "seconds": float("nan"),
                "message": None,
            }
        ).set_index("step", drop=False)

    def start(self, step: Step) -> None:
        self.rows.loc[step.name, ["status", "started_at"]] = [S.RUNNING, pd.Timestamp.now()]
        # Published when the run starts; a later step's start is not worth a copy of the warehouse
        # (readers take the first step not done for the running one).
        self._write(publish=bool((self.rows.status == S.PENDING).sum() == len(self.rows) - 1))

    def end(self, step: Step, seconds: float, error: BaseException | None = None) -> None:
        status, message = (S.DONE, None) if error is None else (S.FAILED, f"{type(error).__name__}: {error}")
        self.rows.loc[step.name, ["status", "finished_at", "seconds", "message"]] = [
            status,
            pd.Timestamp.now(),
            seconds,
            message,
        ]
        self._write()

    def _write(self, publish: bool = True) -> None:
        self.wh.replace(S.PIPELINE_STATUS, self.rows.reset_index(drop=True))
        if publish and self.publishes:
            done = int((self.rows.status == S.DONE).sum())
            running = self.rows.step[self.rows.status == S.RUNNING].tolist()
            detail = f"{done}/{len(self.rows)}" + (f" {running[0]}" if running else "")
            self.wh.publish(writer="pipeline", detail=detail)


def run_pipeline(
    wh: Warehouse,
    settings: Settings,
    steps: list[str] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> list[StepResult]:
    """Run the selected steps (all by default) in pipeline order; a failing step stops the run.

    Parameters
    ----------
    wh : Warehouse
        The warehouse to read source tables from and write result tables to.
    settings : Settings
        The settings every step reads its options from.
    steps : list of str, optional
        Names of the steps to run; None runs all of :data:`STEPS`.
    on_step : callable, optional
        Called with each step before it runs (progress display).

    Returns
    -------
    list of StepResult
        One result per step run, in order; on a Spark warehouse, a step that does not run there yet
        is one with status ``failed`` and the reason as its summary's ``error``.

    Raises
    ------
    InputError
        For a step name that is not in :data:`STEPS`, before anything runs.
    """
    selected = select_steps(steps)
    status = _Status(wh, selected)
    results = []
    for step in selected:
        if on_step:
            on_step(step)
        status.start(step)
        start = time.perf_counter()
        try:
            summary = _run_step(step, wh, settings)
        except NotBuiltForSpark as exc:  # recorded, reported, and the next step runs
            seconds = time.perf_counter() - start
            status.end(step, seconds, exc)
            results.append(StepResult(step.name, S.FAILED, seconds, {"error": str(exc)}))
            continue
        except BaseException as exc:  # recorded for the pages, then raised as it was
            status.end(step, time.perf_counter() - start, exc)
            raise
        seconds = time.perf_counter() - start
        status.end(step, seconds)
        results.append(StepResult(step.name, S.DONE, seconds, summary))
    return results


def _run_step(step: Step, wh: Warehouse, settings: Settings) -> dict:
    """Run one step; on a distributed warehouse a step not built for it says so instead."""
    if wh.distributed and step.not_on_spark:
        raise NotBuiltForSpark(step.name, step.not_on_spark)
    summary = step.run(wh, settings) or {}
    if wh.distributed and step.on_driver:
        summary["on the driver"] = step.on_driver
    return summary
