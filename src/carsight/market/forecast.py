"""The forecasting engine for monthly series.

Candidates are backtested on rolling origins, a selection scheme is chosen by that backtest, and
conformal 80/95% intervals are calibrated on its errors.

The pieces: series classes and backtest plans (:mod:`.classes`), candidates behind one small
interface (:mod:`.candidates`, :mod:`.local`, :mod:`.model_sets`), the selection scheme
(:mod:`.selection`) and the intervals (:mod:`.intervals`). :class:`Forecaster` runs them in order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from itertools import groupby

import numpy as np
import pandas as pd

from carsight.errors import DataTooThinError, InputError
from carsight.market.backtest import naive_scale
from carsight.market.borrowed import group_totals, season_index
from carsight.market.candidates import Batch, Run
from carsight.market.classes import BACKTESTED, BASELINE, INTERMITTENT_ZERO_SHARE, Plan, plan_series
from carsight.market.event_forecast import EventAdjustment, apply_shift, widen
from carsight.market.events import month_number
from carsight.market.intervals import ConformalIntervals
from carsight.market.local import LocalModel
from carsight.market.model_sets import CANDIDATES, class_candidates, resolve
from carsight.market.selection import SELECT, ClassChoice, choose, combo_name
from carsight.market.series import DS, ID, Y, check_long, regularise

log = logging.getLogger(__name__)


class Forecaster:
    """Backtest candidates per series, choose how to forecast, and forecast with conformal intervals.

    Parameters
    ----------
    horizon : int
        Months to forecast.
    levels : tuple of int
        Interval levels in percent.
    n_windows : int
        Rolling-origin backtest windows (≥ 3 recommended; the scheme choice needs at least 2).
    season_length : int
        12 for monthly data.
    models : str or tuple of str
        A name in :data:`carsight.market.model_sets.MODEL_SETS` or a list of candidate names.
    select : str
        ``"auto"`` (default) lets the backtest choose the scheme per class; ``"combination"``,
        ``"pooled"`` or ``"series"`` force one (:mod:`carsight.market.selection`).
    combine_top : int
        How many of the class's best candidates the pooled scheme averages.
    fill : str
        How to fill missing months: ``"zero"`` (sales) or ``"interpolate"`` (levels).
    nonnegative : str
        ``"auto"`` clips forecasts and bounds at 0 for series that were never negative.
    n_jobs : int
        Worker processes for the per-series models and threads for LightGBM (-1: all cores).
    random_state : int
        Seed of the global LightGBM model (``models="full"``).
    min_pool : int
        Interval quantiles use the newest backtest windows that give each forecast step at least
        this many errors (and borrow from neighbouring steps below it).
    map_chunks : callable, optional
        Where the per-series statistical models are fitted: None, this machine's processes
        (``n_jobs``); or ``map_chunks(function, shared, items)``, which runs ``function(shared, chunk)``
        over chunks of ``items`` elsewhere and returns the results in item order, such as
        :meth:`carsight.warehouse.spark.SparkWarehouse.map_chunks` (Spark's executors). The
        forecasts are the same either way.
    """

    def __init__(
        self,
        horizon: int = 18,
        levels: tuple[int, ...] = (80, 95),
        n_windows: int = 3,
        season_length: int = 12,
        models: str | tuple[str, ...] = "standard",
        select: str = "auto",
        combine_top: int = 2,
        fill: str = "zero",
        nonnegative: str = "auto",
        n_jobs: int = 1,
        random_state: int = 0,
        min_pool: int = 30,
        map_chunks: Callable[[Callable, tuple, list], list] | None = None,
    ):
        self.horizon = horizon
        self.levels = levels
        self.n_windows = n_windows
        self.season_length = season_length
        self.models = models
        self.select = select
        self.combine_top = combine_top
        self.fill = fill
        self.nonnegative = nonnegative
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.min_pool = min_pool
        self.map_chunks = map_chunks

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        df: pd.DataFrame,
        progress=None,
        season_groups: dict[str, str | None] | None = None,
        events: pd.DataFrame | None = None,
        keys: pd.DataFrame | None = None,
    ) -> Forecaster:
        """Backtest, choose and forecast every series of ``df`` (long ``unique_id, ds, y``).

        Parameters
        ----------
        df : DataFrame
            Long frame ``unique_id, ds, y`` of monthly series.
        progress : callable, optional
            ``progress(done, total, what)`` for a progress bar.
        season_groups : dict, optional
            Series → the group whose season a short series borrows (its market, say); series not in
            it, or with a group of no seasonal series, borrow the season of all seasonal series.
        events : DataFrame, optional
            Declared events (``name, start, end, kind`` and scope columns; see
            :mod:`carsight.market.events`): their effects are learnt from past occurrences, taken
            out of the history, and put back on the forecast of the months they cover.
        keys : DataFrame, optional
            ``unique_id`` and the id parts the events' scope columns match (``market``, ``model``,
            ``brand``; None for an aggregate over one), as :func:`carsight.market.hierarchy.aggregate`
            returns in its ``meta``.

        Returns
        -------
        Forecaster
            ``self``, fitted.
        """
        self._check_params()
        model_set = resolve(self.models)
        data, infos = regularise(check_long(df), fill=self.fill, season_length=self.season_length)
        if data.empty:
            raise DataTooThinError("no series with data to forecast")
        self.series_info_ = infos
        self.plans_ = {
            uid: plan_series(info, self.horizon, self.n_windows, self.season_length) for uid, info in infos.items()
        }
        self.data_ = data
        self._arrays = {uid: (g[DS].to_numpy(), g[Y].to_numpy(float)) for uid, g in data.groupby(ID, sort=False)}
        # The candidates see the history with the declared events' effects taken out (the actuals
        # of the backtest stay the real ones); without events both are the same arrays.
        self.events_ = None
        self._fit_arrays = self._arrays
        if events is not None and len(events):
            self.events_ = EventAdjustment(events, keys, self._arrays, self.horizon)
            self.events_.learn(self._cutoff_months())
            self._fit_arrays = {u: (ds, self.events_.adjusted(u)) for u, (ds, _) in self._arrays.items()}
        self.season_groups_ = {str(k): v for k, v in (season_groups or {}).items()}
        self._totals = None
        self._index_cache: dict = {}
        n_seasonal = sum(p.cls == "seasonal" for p in self.plans_.values())
        self.class_sets_ = class_candidates(model_set, n_seasonal)
        self.candidates_ = {cls: s.seasonal for cls, s in self.class_sets_.items()}

        groups: dict[Plan, list[str]] = {}
        for uid, plan in self.plans_.items():
            groups.setdefault(plan, []).append(uid)
        backtest_groups = sorted(
            (p for p in groups if p.cls in BACKTESTED), key=lambda p: (p.cls, -p.h_backtest, -p.step)
        )
        total, done = len(backtest_groups) + 2, 0
        cvs: dict[str, list[pd.DataFrame]] = {}
        self._finals: dict[tuple[str, str], np.ndarray] = {}
        self.fallbacks_: dict[str, int] = {}
        for plan in backtest_groups:
            cvs.setdefault(plan.cls, []).append(self._backtest(plan, groups[plan]))
            done += 1
            if progress:
                progress(done, total, f"backtest {plan.cls} h={plan.h_backtest}")
        self.choices_: dict[str, ClassChoice] = {}
        for cls, frames in cvs.items():
            cv = pd.concat(frames, ignore_index=True)
            sets = self.class_sets_[cls]
            self.choices_[cls] = choose(
                cv,
                list(sets.seasonal),
                list(sets.combination),
                BASELINE[cls],
                "rmse_scaled" if cls == "intermittent" else "mase",
                self.select,
                self.combine_top,
            )
            cvs[cls] = cv
        self._collect(cvs)
        floors = {uid: 0.05 * naive_scale(y, self.season_length) for uid, (_, y) in self._arrays.items()}
        self.intervals_ = ConformalIntervals(self.levels, self.min_pool).fit(self.residuals_, floors)
        self.coverage_ = self.intervals_.coverage_
        done += 1
        if progress:
            progress(done, total, "choose and calibrate")
        self.forecast_ = self._forecast()
        del self._finals
        done += 1
        if progress:
            progress(done, total, "forecast")
        return self

    def _check_params(self) -> None:
        if self.select not in SELECT:
            raise InputError(f"unknown selection '{self.select}'", column="select", expected=", ".join(SELECT))
        if self.combine_top < 1:
            raise InputError("combine_top must be 1 or more", column="combine_top", expected="1, 2 or 3")
        if not isinstance(self.horizon, int) or self.horizon < 1:
            raise InputError(
                f"horizon {self.horizon!r} is not a positive whole number",
                column="horizon",
                expected="1 or more months",
            )
        if self.n_windows < 1:
            raise InputError(
                "need at least one backtest window", column="backtest-windows", expected="1 or more (3 recommended)"
            )
        for level in self.levels:
            if not 0 < level < 100:
                raise InputError(f"level {level} is not a percentage", column="levels", expected="e.g. 80,95")

    # ------------------------------------------------------------------ backtest
    def _backtest(self, plan: Plan, uids: list[str]) -> pd.DataFrame:
        """Run every candidate of the plan's class on its series.

        Returns the backtest rows (one per series, window and month, a column per candidate) and keeps
        the final forecasts.
        """
        batch = Batch(
            uids=uids,
            ys=[self._fit_arrays[u][1] for u in uids],
            ds=[self._fit_arrays[u][0] for u in uids],
            plan=plan,
            horizon=self.horizon,
            season_length=self.season_length,
            n_jobs=self.n_jobs,
            map_chunks=self.map_chunks,
            season_index=self._season_index,
            pool=self._seasonal_frame() if "LightGBM" in self.candidates_[plan.cls] else None,
            random_state=self.random_state,
        )
        candidates = [CANDIDATES[n] for n in self.candidates_[plan.cls]]
        runs: dict[str, Run] = {}
        # Candidates of one kind run together: the per-series models share one pass over the series.
        for kind, group in groupby(sorted(candidates, key=lambda c: type(c).__name__), key=type):
            runs.update(kind.run_all(list(group), batch))
        for name, run in runs.items():
            self.fallbacks_[name] = self.fallbacks_.get(name, 0) + run.fallbacks
            for uid, values in run.final.items():
                self._finals[uid, name] = values
        h = plan.h_backtest
        columns: dict[str, list] = {k: [] for k in (ID, "window", "cutoff", DS, "h", Y, "scale")}
        for i, uid in enumerate(uids):
            ds, y = self._arrays[uid]  # the real values: the actuals and the MASE scale
            lengths = batch.cutoffs(i)
            idx = np.concatenate([np.arange(n, n + h) for n in lengths])
            columns[ID].append(np.full(len(idx), uid, dtype=object))
            columns["window"].append(np.repeat(np.arange(1, len(lengths) + 1), h))
            columns["cutoff"].append(np.repeat(ds[np.array(lengths) - 1], h))
            columns[DS].append(ds[idx])
            columns["h"].append(np.tile(np.arange(1, h + 1), len(lengths)))
            columns[Y].append(y[idx])
            columns["scale"].append(np.repeat([naive_scale(y[:n], self.season_length) for n in lengths], h))
        frame = pd.DataFrame({k: np.concatenate(v) for k, v in columns.items()})
        frame["weight"] = 1.0
        for name, run in runs.items():
            frame[name] = np.concatenate([run.cv[uid].ravel() for uid in uids])
        if self.events_ is not None:
            self._put_events_back(frame, uids, [batch.cutoffs(i) for i in range(len(uids))], h, list(runs))
        return frame.assign(cls=plan.cls)

    def _cutoff_months(self) -> set[int]:
        """Month numbers of every backtest origin of every series.

        The events' effects are learnt as known at each.
        """
        out = set()
        for uid, plan in self.plans_.items():
            if plan.cls in BACKTESTED:
                ds, y = self._arrays[uid]
                months = month_number(ds)
                out |= {int(months[n - 1]) for n in plan.train_lengths(len(y)) if n > 0}
        return out

    def _put_events_back(self, frame: pd.DataFrame, uids, lengths, h: int, models: list[str]) -> None:
        """Put back on each window's forecasts the effects of the events in its months.

        The effects are those known at the window's origin; months of a declared shock get weight 0
        (the coming months need not repeat them).
        """
        shift = np.zeros(len(frame))
        weight = np.ones(len(frame))
        at = 0
        for uid, ns in zip(uids, lengths, strict=True):
            months = month_number(self._arrays[uid][0])
            for n in ns:
                target = months[n - 1] + np.arange(1, h + 1)
                shift[at : at + h] = self.events_.shift(uid, int(months[n - 1]), target)[0]
                weight[at : at + h] = np.where(self.events_.shock_months(uid, target), 0.0, 1.0)
                at += h
        for name in models:
            frame[name] = apply_shift(frame[name].to_numpy(float), shift)
        frame["weight"] = weight

    def _season_index(self, uid: str, cutoff) -> np.ndarray | None:
        """The seasonal index ``uid`` borrows, from its group's seasonal series up to ``cutoff``."""
        if self._totals is None:
            seasonal = [u for u, p in self.plans_.items() if p.cls == "seasonal"]
            self._totals = group_totals(self._fit_frame(), self.season_groups_, seasonal, ID, DS, Y)
        group = self.season_groups_.get(uid)
        for key in dict.fromkeys((group, None)):  # its group first, then all seasonal series
            if key not in self._totals:
                continue
            if (key, cutoff) not in self._index_cache:
                ds, y = self._totals[key]
                keep = ds <= np.datetime64(cutoff)
                self._index_cache[key, cutoff] = season_index(
                    y[keep], pd.DatetimeIndex(ds[keep]).month.to_numpy(), self.season_length
                )
            if self._index_cache[key, cutoff] is not None:
                return self._index_cache[key, cutoff]
        return None

    def _seasonal_frame(self) -> pd.DataFrame:
        uids = [u for u, p in self.plans_.items() if p.cls == "seasonal"]
        data = self._fit_frame()
        return data[data[ID].isin(uids)]

    def _fit_frame(self) -> pd.DataFrame:
        """The long frame the candidates learn from: the data with the events' effects taken out."""
        if self.events_ is None:
            return self.data_
        return self.data_.assign(**{Y: np.concatenate([self._fit_arrays[u][1] for u in self._arrays])})

    # ------------------------------------------------------------------ choice tables
    def _collect(self, cvs: dict[str, pd.DataFrame]) -> None:
        """Per series: the choice row, the backtest scores and the residuals of its chosen forecast."""
        rows, residuals = [], []
        for cls, cv in cvs.items():
            choice = self.choices_[cls]
            residuals.append(
                cv[[ID, "cls", "cutoff", "window", DS, "h", Y, "weight"]]
                .assign(yhat=choice.yhat)
                .reset_index(drop=True)
            )
        scores = [c.scores for c in self.choices_.values()]
        mean = (
            pd.concat(scores, ignore_index=True).groupby([ID, "model_name"])["mase"].mean()
            if scores
            else pd.Series(dtype=float)
        )
        for uid, plan in self.plans_.items():
            info = self.series_info_[uid]
            if plan.cls not in BACKTESTED:
                chosen = (
                    "Zero"
                    if plan.cls == "zero"
                    else (
                        "CrostonOptimized"
                        if info.zero_share >= INTERMITTENT_ZERO_SHARE and not info.stopped
                        else "Naive"
                    )
                )
                if plan.cls == "none":
                    info.warn("no_backtest", n=info.n)
                rows.append(self._choice_row(uid, plan, "", [chosen], math.nan, math.nan))
                continue
            if plan.cls == "short":
                info.warn("short", n=info.n)
            elif plan.cls == "intermittent":
                info.warn("intermittent", share=round(100 * info.zero_share))
            if plan.h_backtest < self.horizon:
                info.warn("short_backtest", h=plan.h_backtest, n=info.n)
            choice = self.choices_[plan.cls]
            members = choice.members[uid]
            name = combo_name(members)
            rows.append(
                self._choice_row(
                    uid,
                    plan,
                    choice.scheme,
                    members,
                    float(mean.get((uid, name), math.nan)),
                    float(mean.get((uid, BASELINE[plan.cls]), math.nan)),
                )
            )
        self.choice_ = pd.DataFrame(rows)
        columns = [ID, "cls", "cutoff", "window", DS, "h", Y, "weight", "yhat"]
        self.residuals_ = pd.concat(residuals, ignore_index=True) if residuals else pd.DataFrame(columns=columns)
        cols = [ID, "model_name", "window", "cutoff", "mae", "mape", "smape", "mase"]
        self.backtest_ = pd.concat(scores, ignore_index=True)[cols] if scores else pd.DataFrame(columns=cols)
        self.selection_ = (
            pd.concat([c.report.assign(cls=cls) for cls, c in self.choices_.items()], ignore_index=True)
            if self.choices_
            else pd.DataFrame(columns=["cls", "scheme", "metric", "n_series", "score", "smape", "chosen"])
        )

    def _choice_row(self, uid, plan, scheme, members, mase, mase_base) -> dict:
        return {
            ID: uid,
            "cls": plan.cls,
            "model_name": combo_name(list(members)),
            "members": list(members),
            "selection": scheme,
            "mase": mase,
            "mase_baseline": mase_base,
            "baseline": BASELINE.get(plan.cls, "Naive"),
            "h_backtest": plan.h_backtest,
            "n_months": self.series_info_[uid].n,
        }

    # ------------------------------------------------------------------ forecasting
    def _forecast(self) -> pd.DataFrame:
        H = self.horizon
        uids, starts, names, means, nonneg = [], [], [], [], []
        bounds = {(side, lv): [] for lv in self.levels for side in ("lo", "hi")}
        for row in self.choice_.itertuples(index=False):
            uid = getattr(row, ID)
            ds, y = self._arrays[uid]
            yhat = np.mean([self._final(uid, m, self._fit_arrays[uid][1]) for m in row.members], axis=0)
            shift_sd = np.zeros(H)
            if self.events_ is not None:
                last = int(month_number(ds[-1:])[0])
                shift, shift_sd = self.events_.shift(uid, self.events_.end, last + np.arange(1, H + 1))
                yhat = apply_shift(yhat, shift)
            uids.append(uid)
            starts.append(ds[-1])
            names.append(row.model_name)
            means.append(yhat)
            nonneg.append(self.nonnegative == "auto" and bool((y >= 0).all()))
            for level in self.levels:
                width = widen(self.intervals_.width(uid, row.cls, level, y, H), yhat, shift_sd, level)
                bounds["lo", level].append(yhat - width)
                bounds["hi", level].append(yhat + width)
        first = pd.DatetimeIndex(starts) + pd.offsets.MonthBegin(1)
        months = (first.year.to_numpy() * 12 + first.month.to_numpy() - 1)[:, None] + np.arange(H)
        out = pd.DataFrame(
            {
                ID: np.repeat(uids, H),
                DS: pd.to_datetime({"year": (months // 12).ravel(), "month": (months % 12 + 1).ravel(), "day": 1}),
                "model_name": np.repeat(names, H),
                "yhat": np.concatenate(means),
            }
        )
        clip = np.repeat(nonneg, H)
        out["yhat"] = np.where(clip, np.maximum(out["yhat"], 0), out["yhat"])
        for level in self.levels:
            for side in ("lo", "hi"):
                values = np.concatenate(bounds[side, level])
                out[f"yhat_{side}_{level}"] = np.where(clip, np.maximum(values, 0), values)
        return out

    def _final(self, uid: str, member: str, y: np.ndarray) -> np.ndarray:
        """A member's forecast of the whole horizon.

        From the backtest pass, or, for series too short to backtest, the naive (or Croston) forecast.
        """
        if (uid, member) in self._finals:
            return self._finals[uid, member]
        if member == "Zero":
            return np.zeros(self.horizon)
        model = CANDIDATES[member]
        if not isinstance(model, LocalModel):
            raise ValueError(f"{member} has no forecast for {uid}")
        return model.forecast_series(y, [len(y)], 1, self.horizon, self.season_length, False)[1]

    # ------------------------------------------------------------------ results
    def predict(self, h: int | None = None) -> pd.DataFrame:
        """The forecasts made by :meth:`fit`, the first ``h`` months (all when ``None``).

        Returns
        -------
        DataFrame
            ``unique_id, ds, model_name, yhat, yhat_lo_80, yhat_hi_80, …``

        Raises
        ------
        InputError
            When not fitted, or when ``h`` is longer than the fitted horizon (refit with a longer one).
        """
        if not hasattr(self, "forecast_"):
            raise InputError("the forecaster has not been fitted", expected="call fit(df) first")
        if h is None or h == self.horizon:
            return self.forecast_.copy()
        if not isinstance(h, int | np.integer) or h < 1 or h > self.horizon:
            raise InputError(
                f"cannot predict {h} months: fitted for {self.horizon}",
                column="horizon",
                expected=f"1 to {self.horizon} months, or fit again with horizon={h}",
            )
        return self.forecast_.groupby(ID, sort=False).head(h).reset_index(drop=True)

    def choice(self, lang: str = "en") -> pd.DataFrame:
        """Per series: class, selection scheme, chosen model and how it did in the backtest.

        Also its backtest MASE, the baseline's, the interval coverage and the warnings in ``lang``.
        """
        out = self.choice_.drop(columns=["members"]).copy()
        out["warning"] = ["; ".join(self.series_info_[u].messages(lang)) for u in out[ID]]
        cov = self.coverage_.drop(columns="window").groupby(ID).mean() if len(self.coverage_) else None
        for level in self.levels:
            col = f"coverage_{level}"
            out[col] = out[ID].map(cov[col]) if cov is not None and col in cov else math.nan
        return out

    def backtest(self) -> pd.DataFrame:
        """Per series, candidate and window: mae, mape, smape, mase; coverage for the chosen model."""
        chosen = dict(zip(self.choice_[ID], self.choice_["model_name"], strict=True))
        bt = self.backtest_.copy()
        for level in self.levels:
            col = f"coverage_{level}"
            if len(self.coverage_) and col in self.coverage_:
                cov = self.coverage_.set_index([ID, "window"])[col]
                key = pd.MultiIndex.from_arrays([bt[ID], bt["window"]])
                vals = cov.reindex(key).to_numpy()
                bt[col] = np.where(bt["model_name"].to_numpy() == bt[ID].map(chosen).to_numpy(), vals, np.nan)
            else:
                bt[col] = np.nan
        return bt

    def events(self) -> pd.DataFrame:
        """Per declared event: its learnt or applied effect, and the series it covers.

        The learnt effect for a past occurrence, the effect applied to the forecast for a coming one, in
        percent with a 95% interval; empty without events (see :mod:`carsight.market.event_effects`).
        """
        if self.events_ is None:
            return pd.DataFrame()
        return self.events_.table()

    def selection(self) -> pd.DataFrame:
        """Per class and scheme: the out-of-sample backtest score and which scheme was chosen.

        The score is MASE, or scaled RMSE for intermittent series; also sMAPE and the difference to the
        combination in percent (see :mod:`carsight.market.selection`).
        """
        return self.selection_.copy()
