"""What the API serves, loaded once.

The pipeline's result tables as in-memory dictionaries keyed by customer (so a lookup is a dict
access, not a query) and the fitted models. They are read from the newest published results
(:func:`carsight.warehouse.open_reader`), never from the file a pipeline run or a load is writing,
so the API neither waits for a writer nor blocks one. When a writer publishes (a pipeline step
finished, a load completed) the next request after ``check_every`` seconds starts a reload in the
background, and the new snapshot replaces the old one in one assignment; requests meanwhile are
answered from the old one. Every answer says when its results were published
(``X-Carsight-Results-As-Of``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from carsight.access.scope import Scope
from carsight.config import Settings
from carsight.errors import CarsightError, ModelError, NotFoundError
from carsight.monitor.alerts import read_alerts
from carsight.warehouse import Warehouse, open_reader, reading_stamp
from carsight.warehouse import schema as S
from carsight.warehouse.reading import stamp_of
from carsight.warehouse.results_customers import CUSTOMER_RFM, CUSTOMER_SEGMENTS, RECOMMENDATIONS, SEGMENT_PROFILES
from carsight.warehouse.results_insights import DRIVER_DIMENSIONS, DRIVER_SEGMENTS, TRIGGER_RULES
from carsight.warehouse.results_market import FORECAST_CHOICE, FORECASTS
from carsight.warehouse.results_value import CUSTOMER_CLV, PROPENSITY_SCORES
from carsight.warehouse.tables import Table

log = logging.getLogger("carsight.api")


def _frame(wh: Warehouse, table: Table) -> pd.DataFrame | None:
    """The whole result table, or None while the pipeline has not filled it."""
    if not wh.has_table(table.name):
        return None
    frame = wh.table(table.name).to_pandas()
    return frame if len(frame) else None


def _none(value):
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _date(value):
    value = _none(value)
    if value is None:
        return None
    return pd.Timestamp(value).date()


@dataclass
class Snapshot:
    """One consistent load of everything the API serves."""

    loaded_at: dt.datetime | None = None
    stamp: str = ""
    # When the results were published (the warehouse snapshot's time); None before anything was.
    results_as_of: dt.datetime | None = None
    customer_ids: set[str] = field(default_factory=set)
    # The dealer that looks after each customer (customers.dealer_code); absent: no dealer.
    dealer_of: dict[str, str] = field(default_factory=dict)
    rfm: dict[str, dict] = field(default_factory=dict)
    segment: dict[str, int] = field(default_factory=dict)
    profiles: dict[int, dict[str, str]] = field(default_factory=dict)
    propensity: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    clv: dict[str, dict] = field(default_factory=dict)
    recommendations: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    forecasts: dict[str, dict] = field(default_factory=dict)
    triggers: dict | None = None
    drivers: dict[tuple[str, str], dict] = field(default_factory=dict)
    alerts: list[dict] = field(default_factory=list)  # monitoring alerts, open and closed
    segmenter: Any = None
    recommender: Any = None
    rec_data: Any = None
    voc_model: Any = None
    tokenizer: Any = None
    problems: list[str] = field(default_factory=list)

    # ---- lookups ---------------------------------------------------------------------------
    def customer(self, customer_id: str, lang: str) -> dict:
        """Everything about one customer, in ``lang``."""
        if customer_id not in self.customer_ids:
            raise NotFoundError(f"customer {customer_id} is not in the warehouse")
        seg = self.segment.get(customer_id)
        return {
            "customer_id": customer_id,
            "segment": None if seg is None else {"segment_id": seg, "profile": self.profiles.get(seg, {}).get(lang)},
            "rfm": self.rfm.get(customer_id),
            "propensity": [
                {**{k: v for k, v in p.items() if not k.startswith("reasons_")}, "reasons": p[f"reasons_{lang}"]}
                for p in self.propensity.get(customer_id, ())
            ],
            "clv": self.clv.get(customer_id),
            "recommendations": [
                {"rank": r["rank"], "model": r["model"], "score": r["score"], "reason": r[f"reason_{lang}"]}
                for r in self.recommendations.get(customer_id, ())
            ],
        }

    def visible(self, customer_id: str, scope: Scope) -> bool:
        """Whether the customer exists and is in ``scope`` (a dealer user: one of its dealers' customers).

        A customer with no dealer is visible only to the roles that cover every dealer.
        """
        if customer_id not in self.customer_ids:
            return False
        return scope.sees_dealer(self.dealer_of.get(customer_id))

    @property
    def available(self) -> dict[str, bool]:
        """Which parts of the API have data or a model behind them."""
        return {
            "customers": bool(self.customer_ids),
            "segments": bool(self.segment),
            "rfm": bool(self.rfm),
            "propensity": bool(self.propensity),
            "clv": bool(self.clv),
            "recommendations": bool(self.recommendations),
            "forecasts": bool(self.forecasts),
            "triggers": self.triggers is not None,
            "drivers": bool(self.drivers),
            "segmenter": self.segmenter is not None,
            "recommender": self.recommender is not None and self.rec_data is not None,
            "voc_classifier": self.voc_model is not None,
        }

    def need(self, attribute: str, what: str):
        """The attribute, or a ModelError saying to run the pipeline when it is missing."""
        value = getattr(self, attribute)
        if value is None:
            raise ModelError(
                f"{what} is not available: run `carsight pipeline run`, then restart or wait for the reload"
            )
        return value


def warehouse_stamp(location: str) -> str:
    """Changes whenever the warehouse publishes new results (see :func:`carsight.warehouse.reading_stamp`)."""
    return reading_stamp(location)


def load_snapshot(settings: Settings) -> Snapshot:
    """Read every result table and model the API serves. Missing pieces become ``problems``, not errors."""
    # Timezone-aware: RFC 3339 date-times (the documented format) need an offset.
    snap = Snapshot(loaded_at=dt.datetime.now().astimezone().replace(microsecond=0))
    try:
        wh = open_reader(settings.warehouse)
    except CarsightError as exc:
        snap.stamp = warehouse_stamp(settings.warehouse)
        snap.problems.append(str(exc))
        return snap
    try:
        snap.stamp = stamp_of(wh, settings.warehouse)
        if wh.publication is not None:
            snap.results_as_of = wh.publication.time
        else:
            snap.problems.append("no results published yet: read the warehouse itself")
        _load_tables(wh, snap)
        _load_models(wh, settings, snap)
    finally:
        wh.close()
    return snap


def _load_tables(wh: Warehouse, snap: Snapshot) -> None:
    if wh.has_table(S.CUSTOMERS.name):
        customers = wh.table(S.CUSTOMERS.name)
        snap.customer_ids = set(customers.customer_id.to_pandas().astype(str))
        # A warehouse made before dealers existed has no dealer_code: its customers belong to no dealer.
        if "dealer_code" in customers.columns:
            owned = customers.filter(customers.dealer_code.notnull())
            frame = owned.select("customer_id", "dealer_code").to_pandas()
            snap.dealer_of = dict(zip(frame.customer_id.astype(str), frame.dealer_code.astype(str), strict=True))
    rfm = _frame(wh, CUSTOMER_RFM)
    if rfm is not None:
        for r in rfm.itertuples(index=False):
            snap.rfm[r.customer_id] = {
                "score": float(r.rfm_score),
                "grade": r.grade,
                "group": r.group,
                "named_segment": _none(r.named_segment),
                "recency_days": int(r.recency_days),
                "frequency": int(r.frequency),
                "monetary_total": float(r.monetary_total),
                "as_of": _date(r.as_of),
            }
    seg = _frame(wh, CUSTOMER_SEGMENTS)
    if seg is not None:
        snap.segment = dict(zip(seg.customer_id.astype(str), seg.segment_id.astype(int), strict=True))
    prof = _frame(wh, SEGMENT_PROFILES)
    if prof is not None:
        snap.profiles = {int(r.segment_id): {"ko": r.profile_ko, "en": r.profile_en} for r in prof.itertuples()}
    reco = _frame(wh, RECOMMENDATIONS)
    if reco is not None:
        for r in reco.sort_values(["customer_id", "rank"]).itertuples(index=False):
            snap.recommendations[r.customer_id].append(
                {
                    "rank": int(r.rank),
                    "model": r.model,
                    "score": float(r.score),
                    "reason_ko": r.reason_ko,
                    "reason_en": r.reason_en,
                }
            )
    scores = _frame(wh, PROPENSITY_SCORES)
    if scores is not None:
        for r in scores.sort_values(["customer_id", "target"]).itertuples(index=False):
            snap.propensity[r.customer_id].append(
                {
                    "target": r.target,
                    "score": float(r.score),
                    "grade": int(r.grade),
                    "decile": int(r.decile),
                    "horizon_days": int(r.horizon_days),
                    "as_of": _date(r.as_of),
                    "reasons_ko": [x for x in (r.reason1_ko, r.reason2_ko, r.reason3_ko) if _none(x)],
                    "reasons_en": [x for x in (r.reason1_en, r.reason2_en, r.reason3_en) if _none(x)],
                }
            )
    clv = _frame(wh, CUSTOMER_CLV)
    if clv is not None:
        for r in clv.itertuples(index=False):
            snap.clv[r.customer_id] = {
                "horizon_days": int(r.horizon_days),
                "expected_value": _none(r.expected_value),
                "expected_purchases": float(r.expected_purchases),
                "p_alive": float(r.p_alive),
                "as_of": _date(r.as_of),
            }
    _load_forecasts(wh, snap)
    _load_insights(wh, snap)
    snap.alerts = read_alerts(wh, status=None).to_dict(orient="records")
    # Customers who only exist in result tables (a warehouse loaded from several sources) count too.
    snap.customer_ids |= set(snap.rfm) | set(snap.segment)


def _load_forecasts(wh: Warehouse, snap: Snapshot) -> None:
    """The market area's reconciled forecasts with the chosen method's backtest beside the baseline."""
    frame = _frame(wh, FORECASTS)
    if frame is None:
        return
    choice = _frame(wh, FORECAST_CHOICE)
    backtest: dict[str, dict] = {}
    if choice is not None:
        keep = (
            "series_class",
            "mase",
            "mase_snaive",
            "baseline",
            "h_backtest",
            "n_months",
            "coverage_80",
            "coverage_95",
            "warning",
        )
        for row in choice.to_dict(orient="records"):
            backtest[str(row["unique_id"])] = {k: _none(row.get(k)) for k in keep if k in row}
    for series_id, rows in frame.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=False):
        first = rows.iloc[0]
        snap.forecasts[str(series_id)] = {
            "series_id": str(series_id),
            "level": _none(first.get("level")),
            "model": _none(first.get("model_name")),
            "points": [
                {
                    "ds": _date(r.ds),
                    "mean": float(r.yhat),
                    "lo_80": _none(r.yhat_lo_80),
                    "hi_80": _none(r.yhat_hi_80),
                    "lo_95": _none(r.yhat_lo_95),
                    "hi_95": _none(r.yhat_hi_95),
                }
                for r in rows.itertuples(index=False)
            ],
            "backtest": backtest.get(str(series_id), {}),
        }


def _load_insights(wh: Warehouse, snap: Snapshot) -> None:
    """Trigger rules and driver segments (the insights steps), shaped as the routes answer."""
    rules = _frame(wh, TRIGGER_RULES)
    if rules is not None:
        rules = rules.sort_values("rank")
        first = rules.iloc[0]
        keep = ("rank", "conditions", "coverage", "support", "confidence", "lift", "customers", "responders")
        snap.triggers = {
            "target": first.target,
            "reference_date": _date(first.reference_date),
            "horizon_days": int(first.horizon_days),
            "base_rate": float(first.base_rate),
            "population": int(first.population),
            "margin": _none(first.margin),
            "contact_cost": _none(first.contact_cost),
            "rules": [
                {
                    **{k: row[k] for k in keep},
                    "profit_efficiency": _none(row["profit_efficiency"]),
                    "representative": bool(row["representative"]),
                }
                for row in rules.to_dict(orient="records")
            ],
        }
    segments = _frame(wh, DRIVER_SEGMENTS)
    if segments is None:
        return
    for (analysis, comparison), rows in segments.sort_values("rank").groupby(["analysis", "comparison"]):
        first = rows.iloc[0]
        change = float(first.current_total) - float(first.base_total)
        snap.drivers[(str(analysis), str(comparison))] = {
            "analysis": analysis,
            "comparison": comparison,
            **{k: _date(first[k]) for k in ("base_start", "base_end", "current_start", "current_end")},
            "base_total": float(first.base_total),
            "current_total": float(first.current_total),
            "other_change": change - float(rows["change"].sum()),
            "segments": [
                {
                    "rank": int(r["rank"]),
                    "segment": r["segment"],
                    "dimensions": {d: str(r[d]) for d in DRIVER_DIMENSIONS if _none(r[d]) is not None},
                    **{k: float(r[k]) for k in ("base", "current", "change")},
                    **{k: _none(r[k]) for k in ("share_of_change", "volume", "mix", "rate")},
                }
                for r in rows.to_dict(orient="records")
            ],
        }


def _load_models(wh: Warehouse, settings: Settings, snap: Snapshot) -> None:
    from carsight.registry import load_model

    root = Path(settings.model_dir)
    for attribute, directory in (
        ("segmenter", "segmenter"),
        ("recommender", "recommender"),
        ("voc_model", "voc_topic"),
    ):
        if not (root / directory / "meta.json").is_file():
            snap.problems.append(f"no {directory} model under {root}")
            continue
        try:
            estimator, _meta = load_model(root / directory)
        except (CarsightError, OSError, ValueError, ImportError, AttributeError) as exc:
            snap.problems.append(f"{directory} model could not be loaded: {exc}")
            continue
        setattr(snap, attribute, estimator)
    if snap.recommender is not None:
        try:
            from carsight.customers.recommend_data import RecData

            segments = pd.Series(snap.segment, dtype="Int64") if snap.segment else None
            snap.rec_data = RecData.from_warehouse(wh, segments=segments)
        except CarsightError as exc:
            snap.problems.append(f"recommender data: {exc}")
    if snap.voc_model is not None:
        try:
            from carsight.voc.tokenise import Tokenizer

            snap.tokenizer = Tokenizer(getattr(snap.voc_model, "terms", ()))
        except Exception as exc:  # keywords are a nicety; classification still works
            snap.problems.append(f"keyword tokenizer: {exc}")


class Store:
    """Holds the current snapshot and swaps in a fresh one when the warehouse changed."""

    def __init__(self, settings: Settings, check_every: float = 30.0):
        self.settings = settings
        self.check_every = check_every
        self.snapshot = Snapshot()
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reloading = False

    def load(self) -> Snapshot:
        """Load a snapshot now, logging what is missing."""
        self.snapshot = load_snapshot(self.settings)
        self._checked = time.monotonic()
        for problem in self.snapshot.problems:
            log.warning("carsight api: %s", problem)
        return self.snapshot

    def current(self) -> Snapshot:
        """The current snapshot; starts a background reload when the warehouse changed."""
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            # Also retry when the last load found nothing (e.g. a pipeline held the file then).
            if warehouse_stamp(self.settings.warehouse) != self.snapshot.stamp or not self.snapshot.customer_ids:
                self._reload_in_background()
        return self.snapshot

    def _reload_in_background(self) -> None:
        with self._lock:
            if self._reloading:
                return
            self._reloading = True

        def work() -> None:
            try:
                fresh = load_snapshot(self.settings)
                if fresh.customer_ids or not self.snapshot.customer_ids:
                    self.snapshot = fresh  # one attribute assignment: readers see old or new, never half
            except Exception:  # keep serving the old snapshot; the next check tries again
                log.exception("carsight api: reload failed")
            finally:
                self._reloading = False

        threading.Thread(target=work, name="carsight-api-reload", daemon=True).start()
