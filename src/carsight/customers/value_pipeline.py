"""The "propensity" pipeline step: propensity per target, then lifetime value.

It trains repurchase, campaign-response and churn propensity on time-ordered cutoffs, tests on the
latest complete window, scores every customer as of the day after the last event, and computes
lifetime value; results go to the tables in ``warehouse/results_value.py`` and the models to
``settings.model_dir / "propensity_<target>"``.

The split, per target with horizon H: training rows from cutoffs c_valid − H, c_valid − 2H, …; early
stopping and calibration on c_valid = c_test − H; the holdout at c_test = as_of − H, the latest cutoff
whose outcome window is complete. Labels of one split never overlap the features of a later one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import ibis.expr.types as ir
import pandas as pd
from threadpoolctl import threadpool_limits

from carsight.apart import Apart, stop_all
from carsight.config import Settings
from carsight.customers import deciles as D
from carsight.customers import features as F
from carsight.customers import targets as T
from carsight.customers.clv_select import CLVResult, CustomerValueModels, customer_value
from carsight.customers.propensity import PropensityModel
from carsight.errors import DataTooThinError
from carsight.warehouse import Warehouse
from carsight.warehouse import results_value as R
from carsight.warehouse import schema as S

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetSpec:
    """One outcome the step learns: its name (one of ``targets.TARGETS``), horizon and training cutoffs.

    ``horizon_days`` is the outcome window after each cutoff; ``train_cutoffs`` the number of training
    cutoffs :func:`plan_cutoffs` plans (fewer when the history is short).
    """

    name: str
    horizon_days: int
    train_cutoffs: int = 3


# Horizons: a car repurchase is a rare, slow event (months); campaign responses come within weeks.
TARGETS = (
    TargetSpec("repurchase", 180),
    TargetSpec("response", 90, train_cutoffs=4),
    TargetSpec("churn", 180),
)
CLV_HORIZON_DAYS = 365
# Profit of one responder and cost of one contact, in KRW, for the default "best grade" (the CLI takes
# its own): a dealer's gross margin on a car, and a DM/call contact.
DEFAULT_MARGIN = 1_500_000.0
DEFAULT_CONTACT_COST = 20_000.0
PDP_FEATURES = 5
# Global importance is a mean |SHAP| per feature: on 5,000 holdout rows its standard error is
# 1/√5000 ≈ 1.4% of the spread of that feature's contributions, while TreeSHAP over every holdout
# row (tens of thousands) cost more than the fit itself.
IMPORTANCE_ROWS = 5_000


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def plan_cutoffs(as_of: dt.date, first_event: dt.date, spec: TargetSpec) -> dict:
    """Cutoffs for train / validation / test, each on the first of a month.

    The first of a month suits monthly reporting, and lets targets share feature cutoffs. Each cutoff
    is at least one horizon before the next, so label windows never reach into a later split's
    features. Training cutoffs need one horizon of history.
    """
    h = dt.timedelta(days=spec.horizon_days)
    test = _month_start(as_of - h)
    valid = _month_start(test - h)
    train = []
    for _ in range(spec.train_cutoffs):
        train.append(_month_start((train[-1] if train else valid) - h))
    train = [c for c in train if c - h >= first_event]
    return {"train": train, "valid": valid, "test": test}


def first_event_date(wh: Warehouse) -> dt.date | None:
    """The date of the first purchase in the warehouse; None when there is none."""
    pur = wh.table(S.PURCHASES.name)
    return pur.purchase_date.min().to_pyarrow().as_py()


class FeatureCache:
    """Features per cutoff, computed once and shared by all targets.

    With ``sample`` (a condition on the customer id), only the customers it holds for, in the features
    and in the labels.
    """

    def __init__(self, wh: Warehouse, sample: Callable[[ir.Column], ir.BooleanValue] | None = None):
        self.wh = wh
        self.sample = sample
        self.frames: dict[dt.date, pd.DataFrame] = {}

    def get(self, cutoffs: list[dt.date]) -> pd.DataFrame:
        """The features at ``cutoffs``, stacked in that order; those not cached yet are built in one query."""
        missing = [c for c in cutoffs if c not in self.frames]
        if missing:
            # All missing cutoffs in one warehouse query.
            built = F.build_features(self.wh, missing, sample=self.sample)
            for c, frame in built.groupby(F.CUTOFF, sort=False):
                self.frames[pd.Timestamp(c).date()] = frame
            for c in missing:
                self.frames.setdefault(c, built.iloc[0:0])
        return pd.concat([self.frames[c] for c in cutoffs], ignore_index=True)


def _labelled(cache: FeatureCache, wh: Warehouse, spec: TargetSpec, cutoffs: list[dt.date]) -> pd.DataFrame:
    if not cutoffs:
        return pd.DataFrame()
    labels = T.build_labels(wh, spec.name, cutoffs, spec.horizon_days, sample=cache.sample)
    feats = cache.get(cutoffs)
    return feats.merge(labels, on=[F.ID, F.CUTOFF], how="inner")


def labelled_sets(
    wh: Warehouse, spec: TargetSpec, as_of: dt.date, first_event: dt.date, cache: FeatureCache
) -> dict[str, pd.DataFrame | dict]:
    """The labelled train, validation and holdout rows of one target (all the warehouse reads it needs).

    Raises
    ------
    DataTooThinError
        When the history is too short for the windows, or one of them has no labelled customer.
    """
    plan = plan_cutoffs(as_of, first_event, spec)
    if not plan["train"]:
        raise DataTooThinError(
            f"{spec.name}: history too short for a {spec.horizon_days}-day horizon with separate train/validation/test windows"
        )
    train = _labelled(cache, wh, spec, plan["train"])
    valid = _labelled(cache, wh, spec, [plan["valid"]])
    test = _labelled(cache, wh, spec, [plan["test"]])
    if train.empty or valid.empty or test.empty:
        raise DataTooThinError(f"{spec.name}: no labelled customers in one of the train/validation/test windows")
    return {"plan": plan, "train": train, "valid": valid, "test": test}


def fit_target(spec: TargetSpec, sets: dict, *, random_state: int = 0) -> dict:
    """Train, evaluate and explain one target on its :func:`labelled_sets`; return the model and its tables.

    No warehouse access, so targets can be fitted side by side.
    """
    plan, train, valid, test = sets["plan"], sets["train"], sets["valid"], sets["test"]
    cols = F.feature_columns(train.drop(columns=["label"]))
    model = PropensityModel(descriptions=F.descriptions(cols), random_state=random_state)
    model.fit(train[cols], train.label, eval_set=(valid[cols], valid.label))
    evaluation = model.evaluate(test[cols], test.label, margin=DEFAULT_MARGIN, contact_cost=DEFAULT_CONTACT_COST)
    explained = test[cols] if len(test) <= IMPORTANCE_ROWS else test[cols].sample(IMPORTANCE_ROWS, random_state=0)
    importance = model.importance(explained)
    top = [f for f in importance.feature.head(PDP_FEATURES)]
    pdp = model.partial_dependence(test[cols], top)
    split = (
        f"train cutoffs {', '.join(str(c) for c in plan['train'])}; validation {plan['valid']}; "
        f"holdout {plan['test']} (outcomes in the next {spec.horizon_days} days)"
    )
    return {
        "model": model,
        "features": cols,
        "evaluation": evaluation,
        "importance": importance,
        "pdp": pdp,
        "split": split,
        "plan": plan,
        "n_test": len(test),
    }


def train_target(
    wh: Warehouse,
    spec: TargetSpec,
    as_of: dt.date,
    first_event: dt.date,
    cache: FeatureCache,
    *,
    random_state: int = 0,
) -> dict:
    """Train, evaluate and explain one target. Returns the model and its tables."""
    return fit_target(spec, labelled_sets(wh, spec, as_of, first_event, cache), random_state=random_state)


def _fit_and_score(
    spec: TargetSpec, sets: dict, now: pd.DataFrame, population: pd.Series | None, as_of: dt.date
) -> tuple[dict, pd.DataFrame]:
    result = fit_target(spec, sets)
    return result, _score_rows(result["model"], now, result["features"], spec, as_of, population)


def _score_rows(
    model: PropensityModel,
    frame: pd.DataFrame,
    cols: list[str],
    spec: TargetSpec,
    as_of: dt.date,
    population: pd.Series | None,
) -> pd.DataFrame:
    if population is not None:
        frame = frame[frame[F.ID].isin(population)]
    frame = frame.reset_index(drop=True)
    # The same drift check as `carsight propensity score`: the drift model (challenger) answers when
    # today's customers have moved materially from the training rows.
    choice = model.choose_model(frame[cols])
    out = scored_rows(model, frame, cols, spec, as_of, choice.model, choice.status)
    out.insert(out.columns.get_loc("grade"), "decile", D.decile_ranks(out.pop("ranking_score")))
    return out


def scored_rows(
    model: PropensityModel,
    frame: pd.DataFrame,
    cols: list[str],
    spec: TargetSpec,
    as_of: dt.date,
    used: str,
    drift: str,
) -> pd.DataFrame:
    """The rows of ``propensity_scores`` for ``frame``'s customers by the candidate ``used``.

    ``ranking_score`` stands in place of the decile: every value here is the row's own, so batches can
    be scored apart (on Spark's executors) and ranked into deciles afterwards.
    """
    scored = model.scores(frame[cols], model=used)
    out = pd.DataFrame(
        {
            "customer_id": frame[F.ID].to_numpy(),
            "target": spec.name,
            "as_of": pd.Timestamp(as_of).date(),
            "horizon_days": spec.horizon_days,
            "score": scored["score"].to_numpy(),
            "ranking_score": scored["ranking_score"].to_numpy(),
            "grade": scored["grade"].to_numpy(),
        }
    )
    reasons = model.reasons(frame[cols], langs=("ko", "en"), model=used)
    for column in reasons.columns:
        out[column] = reasons[column].to_numpy()
    out["model_used"] = used
    out["drift"] = drift
    return out


def population_expr(wh: Warehouse, spec: TargetSpec, as_of: dt.date) -> ir.Table | None:
    """Who a target is about at as_of: their ids, or None for everyone.

    Repurchase = customers who bought before; churn = customers active in the last year; response =
    everyone (anyone may be contacted next).
    """
    if spec.name == "response":
        return None
    return T.target_expr(wh, spec.name, as_of, spec.horizon_days).select(F.ID)


def _scoring_population(wh: Warehouse, spec: TargetSpec, as_of: dt.date) -> pd.Series | None:
    about = population_expr(wh, spec, as_of)
    return None if about is None else about.to_pandas()[F.ID]


def _metrics_rows(spec: TargetSpec, result: dict) -> pd.DataFrame:
    ev = result["evaluation"]
    frame = ev.metrics.rename(columns={"n": "n_test"}).copy()
    frame["target"] = spec.name
    frame["best_grade"] = ev.best_grade
    frame["split"] = result["split"]
    frame["note"] = "; ".join(ev.notes) or None
    return frame


def _decile_rows(spec: TargetSpec, ev) -> pd.DataFrame:
    rows = []
    for name, table in ((ev.metrics.model.iloc[0], ev.deciles), ("logistic_baseline", ev.baseline_deciles)):
        t = table.copy()
        t["target"], t["model"] = spec.name, name
        t["profit"] = D.profit_table(t, margin=DEFAULT_MARGIN, contact_cost=DEFAULT_CONTACT_COST).profit.to_numpy()
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def _describe(feature: str, lang: str) -> str | None:
    from carsight.i18n import t

    key = f"value.feature.{feature}"
    text = t(key, lang, value="N")
    return None if text == key else text


def run(wh: Warehouse, settings: Settings) -> dict:
    """Pipeline step: propensity for every target, then CLV. Returns a short summary."""
    # One BLAS/OpenMP thread: the models here are small, and on a shared machine extra threads spin
    # for a core instead of computing.
    with threadpool_limits(1):
        return _run(wh, settings)


def _run(wh: Warehouse, settings: Settings) -> dict:
    last = T.last_event_date(wh)
    first = first_event_date(wh)
    if last is None or first is None:
        return {"skipped": "no purchases or events in the warehouse"}
    as_of = last + dt.timedelta(days=1)
    cache = FeatureCache(wh)
    plans = [plan_cutoffs(as_of, first, spec) for spec in TARGETS]
    summary: dict = {"as_of": str(as_of)}
    # Lifetime value (BG/NBD, the hurdle model's LightGBM, their backtest) is computed in a process of
    # its own (carsight.apart) as soon as its purchases are read; so is each target but the last, as
    # soon as its rows are read, while this process reads the next one's. The last target is fitted
    # here, after the last read. Processes, not threads: LightGBM must never train in two threads
    # of one process at once (concurrent native training is not thread-safe; two fits side by side in
    # threads crashed a test run with a segmentation fault). Each fit has its own seeds, so the
    # results are those of the fits run one after another.
    transactions = clv_transactions(wh).to_pandas()
    clv_apart = None
    if not transactions.empty:
        clv_apart = Apart(customer_value, transactions, as_of - dt.timedelta(days=1), CLV_HORIZON_DAYS)
    fitting: dict[str, Apart] = {}
    outcomes: dict[str, tuple[dict, pd.DataFrame]] = {}
    training: dict[str, pd.DataFrame] = {}
    try:
        cache.get(sorted({as_of} | {c for plan in plans for c in [*plan["train"], plan["valid"], plan["test"]]}))
        now = cache.get([as_of])
        for spec in TARGETS:
            try:
                sets = labelled_sets(wh, spec, as_of, first, cache)
                population = _scoring_population(wh, spec, as_of)
            except DataTooThinError as exc:
                summary[spec.name] = f"skipped: {exc}"
                continue
            training[spec.name] = sets["train"]
            if spec is TARGETS[-1]:
                outcomes[spec.name] = _fit_and_score(spec, sets, now, population, as_of)
            else:
                fitting[spec.name] = Apart(_fit_and_score, spec, sets, now, population, as_of)
        outcomes.update({name: process.result() for name, process in fitting.items()})
    except BaseException:
        stop_all([clv_apart, *fitting.values()])
        raise
    clv = clv_outcome(clv_apart)
    results = {name: result for name, (result, _) in outcomes.items()}
    scored = {
        name: Scored(len(rows), str(rows.model_used.iloc[0]) if len(rows) else None)
        for name, (_, rows) in outcomes.items()
    }
    tables = store_models(settings, as_of, results, scored, training, summary)
    tables[R.PROPENSITY_SCORES.name] = [outcomes[spec.name][1] for spec in TARGETS if spec.name in outcomes]
    if clv is not None:
        tables[R.CUSTOMER_CLV.name] = [clv.table.assign(as_of=as_of, horizon_days=CLV_HORIZON_DAYS)]
        tables[R.CLV_BACKTEST.name] = [clv_backtest_rows(clv, as_of)]
        summary["clv"] = clv_summary(clv, len(clv.table))
    write_tables(wh, tables, R.TABLES)
    return summary


def write_tables(wh: Warehouse, tables: dict[str, list[pd.DataFrame]], which) -> None:
    """Each result table of ``which`` replaced by its rows in ``tables`` (empty when it has none)."""
    for table in which:
        parts = tables[table.name]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=table.column_names)
        wh.replace(table, frame.reindex(columns=table.column_names))


@dataclass(frozen=True)
class Scored:
    """How one target's customers were scored: how many, and by which candidate."""

    customers: int
    model_used: str | None


def store_models(
    settings: Settings,
    as_of: dt.date,
    results: dict[str, dict],
    scored: dict[str, Scored],
    training: dict[str, pd.DataFrame],
    summary: dict,
) -> dict[str, list[pd.DataFrame]]:
    """Save each fitted target's model and return its evaluation tables as rows per result table.

    The evaluation tables are metrics, deciles, calibration, importance and partial dependence; a line
    per target is added to ``summary``. The scores and lifetime value are the caller's: on Spark they
    never come to this process.
    """
    from carsight.registry import save_model

    tables: dict[str, list[pd.DataFrame]] = {t.name: [] for t in R.TABLES}
    for spec in TARGETS:
        if spec.name not in results:
            continue
        result = results[spec.name]
        model, cols, ev = result["model"], result["features"], result["evaluation"]
        tables[R.PROPENSITY_METRICS.name].append(_metrics_rows(spec, result))
        tables[R.PROPENSITY_DECILES.name].append(_decile_rows(spec, ev))
        calib = ev.calibration.copy()
        calib["target"] = spec.name
        tables[R.PROPENSITY_CALIBRATION.name].append(calib)
        imp = result["importance"].copy()
        imp["target"] = spec.name
        imp["description_ko"] = [_describe(f, "ko") for f in imp.feature]
        imp["description_en"] = [_describe(f, "en") for f in imp.feature]
        tables[R.PROPENSITY_IMPORTANCE.name].append(imp)
        pdp = result["pdp"].copy()
        pdp["target"] = spec.name
        pdp["value_num"] = pd.to_numeric(pdp["value"], errors="coerce")
        pdp["value"] = pdp["value"].astype(str)
        tables[R.PROPENSITY_PDP.name].append(pdp)
        metrics = ev.metrics.set_index("model")
        first_row = metrics.iloc[0]
        save_model(
            settings.model_dir / f"propensity_{spec.name}",
            model,
            kind="propensity",
            params={**model.get_params(), "descriptions": None, "target": spec.name, "horizon_days": spec.horizon_days},
            metrics={
                "holdout": ev.metrics.to_dict(orient="records"),
                "best_grade": ev.best_grade,
                "split": result["split"],
            },
            features=cols,
            data=training[spec.name][cols],
            extra={
                "as_of": str(as_of),
                "calibration": model.calibration_methods_,
                "champion": model.champion_,
                "drift_model": model.drift_model_,
                "late_slice": model.validation_.to_dict(orient="records"),
                "scored_with": scored[spec.name].model_used,
                "notes": ev.notes,
            },
        )
        summary[spec.name] = (
            f"AUROC {first_row.auroc:.3f} vs logistic {metrics.loc['logistic_baseline', 'auroc']:.3f}, "
            f"top-decile lift {ev.deciles.lift.iloc[0]:.2f}, ECE {first_row.ece:.3f}, "
            f"{scored[spec.name].customers} scored"
        )
    return tables


def clv_backtest_rows(clv: CLVResult | CustomerValueModels, as_of: dt.date) -> pd.DataFrame:
    """The rows of ``clv_backtest`` for one run."""
    return clv.backtest.assign(description=clv.backtest_description, as_of=as_of)


def clv_summary(clv: CLVResult | CustomerValueModels, customers: int) -> str:
    """The step summary's line on lifetime value."""
    return f"{customers} customers, horizon {CLV_HORIZON_DAYS} days; " + ", ".join(
        f"{c} from {m}" for c, m in clv.chosen.items()
    )


def clv_transactions(wh: Warehouse) -> ir.Table:
    """The transaction log CLV learns from: every purchase with a positive amount.

    Columns ``customer_id``, ``date``, ``amount``, in a fixed order (the fits do not depend on the
    order; this keeps them the same on every backend even if one did).
    """
    pur = wh.table(S.PURCHASES.name)
    bought = pur.filter(pur.amount > 0).select(F.ID, date=pur.purchase_date, amount=pur.amount)
    return bought.order_by([F.ID, "date", "amount"])


def clv_outcome(computing: Apart | None):
    """What ``computing`` gave once it is done; None without purchases or when the history is too thin.

    ``computing`` is the lifetime value of the purchases before as_of, calibration end = the day
    before, inclusive: :func:`customer_value` here, :func:`fit_customer_value` on Spark. A history too
    thin is logged.
    """
    if computing is None:
        return None
    try:
        return computing.result()
    except DataTooThinError as exc:
        log.warning("CLV skipped: %s", exc)
        return None
