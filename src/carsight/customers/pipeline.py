"""The "customers" pipeline step.

RFM grades, customer-type segments and vehicle recommendations computed over the warehouse, stored
in the result tables of ``warehouse/results_customers.py``, with the segmenter and recommender saved
under ``settings.model_dir``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pandas as pd
from threadpoolctl import threadpool_limits

from carsight.apart import Apart
from carsight.config import Settings
from carsight.customers.recommend import VehicleRecommender, customers_to_recommend
from carsight.customers.recommend_data import RecData
from carsight.customers.recommend_eval import evaluate_recommenders, holdout_cutoff
from carsight.customers.rfm import GradeCutoffs, rfm_table
from carsight.errors import DataTooThinError, ModelError
from carsight.warehouse import Warehouse
from carsight.warehouse import results_customers as R
from carsight.warehouse import schema as S

if TYPE_CHECKING:
    from carsight.customers.segments import CustomerSegmenter

log = logging.getLogger(__name__)

SEGMENTER_DIR = "segmenter"
RECOMMENDER_DIR = "recommender"


def default_as_of(wh: Warehouse) -> dt.date:
    """The day after the last purchase in the warehouse (so the latest purchase counts)."""
    last = wh.table(S.PURCHASES.name).purchase_date.max().to_pyarrow().as_py()
    if last is None:
        raise DataTooThinError("there are no purchases in the warehouse")
    return pd.Timestamp(last).date() + dt.timedelta(days=1)


def step_as_of(wh: Warehouse, settings: Settings, as_of: dt.date | None = None) -> dt.date:
    """The customers step's as-of day.

    The one given, else ``settings.customers.as_of``, else :func:`default_as_of`.
    """
    return as_of or _option(settings, "as_of", None) or default_as_of(wh)


def _option(settings: Settings, name: str, default):
    """A customers-step option from ``settings.customers`` (None means the built-in default)."""
    value = getattr(settings.customers, name)
    return default if value is None else value


def _previous_segmenter(path: Path):
    from carsight.registry import load_model

    if not (path / "meta.json").is_file():
        return None
    try:
        model, _ = load_model(path, kind="segmenter")
    except ModelError as exc:  # an unreadable old model only costs id stability
        log.warning("previous segmenter at %s ignored: %s", path, exc)
        return None
    return model


def write_rfm(wh: Warehouse, settings: Settings, as_of: dt.date) -> dict:
    """RFM grades of every customer, computed and written by the warehouse (on Spark: the executors).

    Returns the customers graded and their count per group (the only rows that come back).
    """
    cutoffs = GradeCutoffs(**_option(settings, "grade_cutoffs", {}))
    rfm = rfm_table(
        wh.table(S.PURCHASES.name), as_of, monetary=_option(settings, "monetary", "total"), cutoffs=cutoffs
    ).mutate(as_of=as_of)
    written = wh.replace(R.CUSTOMER_RFM, rfm)
    stored = wh.table(R.CUSTOMER_RFM.name)
    groups = stored.group_by("group").aggregate(n=stored.count()).to_pandas()
    return {
        "rfm_customers": written,
        "rfm_groups": {str(g): int(n) for g, n in zip(groups["group"], groups["n"], strict=True)},
    }


class CustomersHere:
    """Every customer, in this process: whom the DuckDB step learns from and how it writes their results.

    The step's models learn from :meth:`rec_data` and :meth:`segment_frame`, and every customer's
    segment and recommendations are written by :meth:`write_segments` and
    :meth:`write_recommendations`. On a Spark warehouse
    (:class:`carsight.customers.customers_on_spark.SampledOnSpark`) the models learn from a sample
    and the executors write every customer's results.
    """

    def __init__(self, wh: Warehouse):
        self.wh = wh

    def rec_data(self) -> RecData:
        """What the recommender learns from."""
        return RecData.from_warehouse(self.wh)

    def segment_tables(self) -> tuple[ir.Table | None, ir.Table, ir.Table | None]:
        """The customers, purchases and line-up the segment features are computed from (None: empty)."""
        wh = self.wh
        customers = wh.table(S.CUSTOMERS.name) if wh.count(S.CUSTOMERS.name) else None
        vehicles = wh.table(S.VEHICLES.name) if wh.count(S.VEHICLES.name) else None
        return customers, wh.table(S.PURCHASES.name), vehicles

    def segment_frame(self, as_of: dt.date) -> pd.DataFrame:
        """The segment features on ``as_of`` that the segmenter learns from."""
        from carsight.customers.segments_features import segment_frame

        return segment_frame(*self.segment_tables(), as_of=as_of)

    def write_segments(self, segmenter: CustomerSegmenter, frame: pd.DataFrame, as_of: dt.date) -> pd.Series:
        """Write every customer's segment and the segment profiles; returns the segment of each customer of ``frame``."""
        assignments = segmenter.assignments(frame)
        self.wh.replace(R.CUSTOMER_SEGMENTS, assignments)
        self.wh.replace(R.SEGMENT_PROFILES, segmenter.profiles_)
        return assignments.set_index("customer_id")["segment_id"]

    def write_recommendations(
        self, recommender: VehicleRecommender, data: RecData, as_of: dt.date, pool: ThreadPoolExecutor
    ) -> int:
        """Write every customer's top 5 models; returns the rows written.

        ``pool``: the one thread where this process runs LightGBM (see :func:`_run`).
        """
        return self.wh.replace(R.RECOMMENDATIONS, recommend_everyone(recommender, data, as_of, pool))


# From this many customers, their recommendations are computed in two processes (below, a process
# start costs more than it saves), and the share of them the other process takes: it starts about two
# seconds late, while this process's pool thread may first finish the held-out evaluation.
SPLIT_FROM_CUSTOMERS = 10_000
OTHER_PROCESS_SHARE = 0.55


def recommend_everyone(
    recommender: VehicleRecommender,
    data: RecData,
    as_of: dt.date,
    pool: ThreadPoolExecutor,
    *,
    split_from: int = SPLIT_FROM_CUSTOMERS,
) -> pd.DataFrame:
    """Every customer's top 5 models: the rows of ``recommender.recommend(data, as_of=as_of, k=5)``.

    From ``split_from`` customers, part of them are recommended to in a process of their own
    (:class:`carsight.apart.Apart`) while ``pool``'s thread does the rest, each part with the
    population of all customers (:meth:`VehicleRecommender.population`), so the rows are those of one
    call, in its order: scoring every customer is single-threaded work that otherwise leaves a core idle.
    """
    ids = customers_to_recommend(data)
    if len(ids) < split_from:
        return pool.submit(recommender.recommend, data, as_of=as_of, k=5).result()
    population = recommender.population(data, as_of)
    first = ids[: int(len(ids) * OTHER_PROCESS_SHARE)]
    rest = ids[len(first) :]
    other = Apart(recommender.recommend, data, customer_ids=first, as_of=as_of, k=5, population=population)
    try:
        here = pool.submit(
            recommender.recommend, data, customer_ids=rest, as_of=as_of, k=5, population=population
        ).result()
    except BaseException:
        other.stop()
        raise
    return pd.concat([other.result(), here], ignore_index=True)


def run(
    wh: Warehouse,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    k_range: tuple[int, int] | None = None,
    customers: CustomersHere | None = None,
) -> dict:
    """Run the customers step: RFM, segments and recommendations, stored and saved; returns a summary.

    ``customers``: whom the models learn from and how every customer's results are written
    (default: :class:`CustomersHere`, every customer in this process).
    """
    # One BLAS/OpenMP thread: the evaluation runs beside the final fit, and on a shared machine extra
    # threads spin for a core instead of computing.
    with threadpool_limits(1):
        return _run(wh, settings, as_of=as_of, k_range=k_range, customers=customers or CustomersHere(wh))


def _run(
    wh: Warehouse,
    settings: Settings,
    *,
    as_of: dt.date | None,
    k_range: tuple[int, int] | None,
    customers: CustomersHere,
) -> dict:
    as_of = step_as_of(wh, settings, as_of)
    k_range = k_range or tuple(_option(settings, "k_range", (2, 10)))
    # Only what was known on as_of: a back-dated run must not learn from purchases after it.
    data = customers.rec_data().before(as_of)
    # The recommender's two rankers (the held-out evaluation's, on the purchases before the holdout
    # cutoff, and the final one, on all of them) need no segments and no warehouse: segments are not
    # a feature, only words in the reasons. So both start first and fit while this thread computes
    # RFM and the segments: the final one in a process of its own (carsight.apart), the evaluation's
    # in a worker thread, where the evaluation and the recommendations then run too. LightGBM must
    # never run in two threads of one process at once (concurrent native training is not
    # thread-safe; two fits side by side in threads crashed a test run), so every LightGBM call of
    # this process runs in that one worker, one after another.
    final = Apart(VehicleRecommender().fit, data)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            evaluation: tuple[dt.date, Future] | DataTooThinError
            try:
                cutoff = holdout_cutoff(data.purchases)
                evaluation = (cutoff, pool.submit(VehicleRecommender().fit, data, cutoff=cutoff))
            except DataTooThinError as exc:
                evaluation = exc
            return _compute(wh, settings, as_of, k_range, data, pool, evaluation, final, customers)
    except BaseException:
        final.stop()
        raise


def _compute(
    wh: Warehouse,
    settings: Settings,
    as_of: dt.date,
    k_range: tuple[int, ...],
    data: RecData,
    pool: ThreadPoolExecutor,
    evaluation: tuple[dt.date, Future] | DataTooThinError,
    final: Apart,
    customers: CustomersHere,
) -> dict:
    """RFM, segments and recommendations, stored and saved.

    ``evaluation`` is the holdout cutoff and the recommender fitting before it in ``pool``, or why
    there is no evaluation; ``final`` is the recommender fitting on every purchase in another process.
    """
    from carsight.customers.segments import CustomerSegmenter
    from carsight.registry import save_model

    summary: dict = {"as_of": str(as_of)}

    # 1. RFM, in the warehouse
    summary.update(write_rfm(wh, settings, as_of))

    # 2. Segments (ids kept from the previous model when there is one)
    frame = customers.segment_frame(as_of)
    model_root = Path(settings.model_dir)
    previous = _previous_segmenter(model_root / SEGMENTER_DIR)
    vehicles = customers.segment_tables()[2]
    vehicles_frame = vehicles.to_pandas() if vehicles is not None else None
    segmenter = CustomerSegmenter(k_range=k_range).fit(frame, reference=previous, vehicles=vehicles_frame)
    segments = customers.write_segments(segmenter, frame, as_of)
    wh.replace(R.SEGMENT_K_CURVE, segmenter.k_curve_)
    chosen = segmenter.k_curve_[segmenter.k_curve_["chosen"]].iloc[0]
    seg_metrics = {"k": int(segmenter.k_), "silhouette": float(chosen["silhouette"]), "customers": int(len(frame))}
    save_model(
        model_root / SEGMENTER_DIR,
        segmenter,
        kind="segmenter",
        params=segmenter.get_params(),
        metrics=seg_metrics,
        features=list(segmenter.feature_names_in_),
        data=frame.reset_index(),
        extra={"as_of": str(as_of), "k_curve": segmenter.k_curve_.to_dict(orient="records")},
    )
    summary.update(segments=int(segmenter.k_), silhouette=round(seg_metrics["silhouette"], 3))

    # 3. Recommendations: evaluated on held-out latest purchases, then refitted on everything
    data = replace(data, segments=segments)

    def evaluate(cutoff: dt.date, fitted: Future, past: pd.DataFrame) -> pd.DataFrame:
        # No warehouse access here: it runs beside the final fit. The per-segment baseline uses
        # segments fitted on data before the cutoff only.
        past_seg = CustomerSegmenter(k_range=(segmenter.k_, segmenter.k_)).fit(past)
        eval_data = replace(data, segments=pd.Series(past_seg.predict(past), index=past.index))
        return evaluate_recommenders(eval_data, cutoff=cutoff, fitted=fitted.result())[0]

    thin = evaluation if isinstance(evaluation, DataTooThinError) else None
    if thin is None:
        cutoff, fitted = evaluation
        past = customers.segment_frame(cutoff)
        scored = pool.submit(evaluate, cutoff, fitted, past)
    recommender = final.result()
    written = customers.write_recommendations(recommender, data, as_of, pool)
    if thin is None:
        try:
            table = scored.result()
        except DataTooThinError as exc:
            thin = exc
    eval_rows = [] if thin else table.to_dict(orient="records")
    if thin is None:
        wh.replace(R.RECOMMENDATION_EVAL, table)
        summary["recommendation_hit_at_3"] = {r["method"]: round(r["hit_at_3"], 3) for r in eval_rows}
    else:
        wh.replace(R.RECOMMENDATION_EVAL, pd.DataFrame(columns=R.RECOMMENDATION_EVAL.column_names))
        summary["recommendation_eval"] = f"skipped: {thin}"
    summary["recommendations"] = written
    save_model(
        model_root / RECOMMENDER_DIR,
        recommender,
        kind="recommender",
        params=recommender.get_params(),
        metrics={"holdout": eval_rows, "train_events": int(recommender.n_train_events_)},
        features=list(recommender.ranker_.feature_name_) if recommender.ranker_ is not None else [],
        extra={
            "as_of": str(as_of),
            "note": recommender.note_,
            "reason_order": json.dumps(getattr(recommender, "reason_order_", ())),
        },
    )
    return summary
