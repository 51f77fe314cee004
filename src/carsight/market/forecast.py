"""The forecasting engine for monthly series: candidate models scored by a rolling-origin backtest,
combined, with conformal 80/95% intervals calibrated on the backtest errors.

Every series is first put in a class by what it can support: ``seasonal`` (two seasons of training
data in the earliest backtest window), ``short`` (non-seasonal models only), ``intermittent`` (≥ 30%
zero months lately: Croston-type methods), ``none`` (too short to backtest: naive forecast) and
``zero`` (nothing sold). Each class has its own candidates, always including its naive baseline.

How the backtest turns into a forecast (``select``): by default (``"pooled"``) candidates are ranked by
their mean backtest error over all series of the class, and every series gets the mean of the
``combine_top`` best of those that beat the class's naive baseline (the baseline itself when none
does). One series' three windows are too few to choose among close candidates: on the demo sales,
choosing per series scored 0.91 × seasonal naive on later held-out months, the pooled top-2 mean
0.84. ``"series"`` chooses per series instead (the best candidate, or the mean of its own top few
when that backtests better), which suits a file of a handful of unrelated series. Intermittent
series are always chosen per series: one collection mixes kinds that pooling would blur (a model
being phased out, a small market's occasional sale).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carsight.errors import DataTooThinError, InputError
from carsight.market.backtest import HorizonQuantiles, cutoff_scales, naive_scale, window_scores
from carsight.market.borrowed import borrowed_season_forecast, group_totals, season_index
from carsight.market.series import DS, ID, SeriesInfo, Y, check_long, regularise

log = logging.getLogger(__name__)

# Candidate sets. "standard" keeps the 1,000-series backtest inside the speed goal; AutoARIMA and CES
# are in "full" because they cost 3–10× more time for little gain on monthly sales (docs/market.md).
# "ETS" searches additive-error, additive-season ETS models with any trend (none, additive, damped);
# "AutoETS" searches the whole ETS family, about 4× slower.
MODEL_SETS: dict[str, tuple[str, ...]] = {
    "fast": ("SeasonalNaive", "ETS", "AutoTheta"),
    "standard": ("SeasonalNaive", "ETS", "AutoTheta", "LightGBM"),
    "full": ("SeasonalNaive", "AutoETS", "LogETS", "AutoTheta", "AutoARIMA", "CES", "LightGBM"),
}
# With few seasonal series (a file of a handful of totals) "standard" also tries these: AutoARIMA
# (about 10x the cost of ETS) and ETS on log1p(y) (a multiplicative season, a variance that grows with
# the level). On the public benchmark series they took the held-out MASE from 0.94 to 0.80; with
# hundreds of series their cost would break the speed goal, so larger runs use "full" for them.
SMALL_EXTRA = ("LogETS", "AutoARIMA")
# Less than two seasons: a trend there is mostly a launch ramp, and it can only be backtested a few
# months ahead, so nothing that extrapolates a trend (drift, Theta, trended ETS) is offered: on demo
# launches a trended AutoETS was 1.25 × seasonal naive 18 months out. "BorrowedSeason" takes the
# season of the series' group instead (carsight.market.borrowed).
SHORT_MODELS = ("Naive", "SeasonalNaive", "BorrowedSeason")
INTERMITTENT_MODELS = ("SeasonalNaive", "CrostonOptimized", "TSB", "ADIDA", "IMAPA")
BASELINE = {"seasonal": "SeasonalNaive", "short": "Naive", "intermittent": "SeasonalNaive"}
INTERMITTENT_ZERO_SHARE = 0.3
# z-multipliers of the mean absolute error (≈ 1.25 σ for normal errors) when no backtest is possible.
_FALLBACK_Z = {80: 1.2816 * 1.2533, 95: 1.96 * 1.2533}


@dataclass(frozen=True)
class Plan:
    cls: str  # seasonal | short | intermittent | none | zero
    h_backtest: int
    step: int


def plan_series(info: SeriesInfo, horizon: int, n_windows: int, season_length: int) -> Plan:
    """How a series of this length can be backtested: the largest backtest horizon (≤ ``horizon``)
    and step that leave enough training data in the earliest window for its class."""
    n, m = info.n, season_length
    if info.zero_share >= 1.0 and any(k == "all_zero" for k, _ in info.warnings):
        return Plan("zero", 0, 0)
    intermittent = info.zero_share >= INTERMITTENT_ZERO_SHARE and n >= 6
    default_step = max(1, min(6, horizon // 3))
    tries = sorted({h for h in (horizon, 12, 6, 3, 1) if h <= horizon}, reverse=True)

    def fit(min_train: int, min_h: int) -> tuple[int, int] | None:
        for h in tries:
            if h < min_h:
                break
            for step in sorted({min(default_step, h), min(3, h), 1}, reverse=True):
                if n - h - (n_windows - 1) * step >= min_train:
                    return h, step
        return None

    if intermittent:
        found = fit(12, 1)
        return Plan("intermittent", *found) if found else Plan("none", 0, 0)
    found = fit(2 * m, min(3, horizon)) if m > 1 else None
    if found:
        return Plan("seasonal", *found)
    found = fit(6, 1)
    return Plan("short", *found) if found else Plan("none", 0, 0)


def _stats_model(name: str, cls: str, m: int):
    from statsforecast import models as sm

    seasonal = m if cls == "seasonal" else 1
    if name == "SeasonalNaive":
        return sm.SeasonalNaive(season_length=m)
    if name == "Naive":
        return sm.Naive()
    if name == "RWD":
        return sm.RandomWalkWithDrift()
    if name == "AutoETS":
        return sm.AutoETS(season_length=seasonal)
    if name == "ETS":
        return sm.AutoETS(season_length=seasonal, model="AZA" if seasonal > 1 else "AZN", alias="ETS")
    if name == "LogETS":
        # Fitted on log1p(y): an additive season on the log scale is a multiplicative one on y.
        return sm.AutoETS(season_length=seasonal, model="AZA" if seasonal > 1 else "AZN", alias="LogETS")
    if name == "AutoTheta":
        return sm.AutoTheta(season_length=seasonal)
    if name == "AutoARIMA":
        return sm.AutoARIMA(season_length=seasonal)
    if name == "CES":
        return sm.AutoCES(season_length=seasonal, alias="CES")
    if name == "CrostonOptimized":
        return sm.CrostonOptimized()
    if name == "TSB":
        return sm.TSB(alpha_d=0.2, alpha_p=0.2)
    if name == "ADIDA":
        return sm.ADIDA()
    if name == "IMAPA":
        return sm.IMAPA()
    raise InputError(f"unknown model '{name}'", column="models", expected=", ".join(sorted(_ALL_NAMES)))


_LOCAL = ("LightGBM", "BorrowedSeason")  # candidates carsight computes itself, not one statsforecast model
SELECT = ("pooled", "series")
_ALL_NAMES = {n for names in MODEL_SETS.values() for n in names} | set(SHORT_MODELS) | set(INTERMITTENT_MODELS)


class Forecaster:
    """Backtest candidates per series, choose, and forecast with conformal intervals.

    Parameters
    ----------
    horizon: months to forecast.
    levels: interval levels in percent.
    n_windows: rolling-origin backtest windows (≥ 3 recommended).
    season_length: 12 for monthly data.
    models: a name in :data:`MODEL_SETS` or a list of candidate names for seasonal series.
    select: ``"pooled"`` ranks candidates over all series of a class; ``"series"`` per series.
    combine: forecast with the mean of the ``combine_top`` best candidates (pooled: always; series:
        when that mean backtests better than the series' best single candidate).
    fill: how to fill missing months: ``"zero"`` (sales) or ``"interpolate"``.
    nonnegative: ``"auto"`` clips forecasts and bounds at 0 for series that were never negative.
    min_series_global: a LightGBM global model is only a candidate with at least this many seasonal series.
    small_max: with ``models="standard"`` and at most this many seasonal series, :data:`SMALL_EXTRA`
        are candidates too (affordable there; 0 turns this off).
    n_jobs: worker processes for statsforecast and threads for LightGBM (-1: all cores).
    min_pool: interval quantiles use the newest backtest windows that give each forecast step at
        least this many errors (and borrow from neighbouring steps below it).
    """

    def __init__(
        self,
        horizon: int = 18,
        levels: tuple[int, ...] = (80, 95),
        n_windows: int = 3,
        season_length: int = 12,
        models: str | tuple[str, ...] = "standard",
        select: str = "pooled",
        combine: bool = True,
        combine_top: int = 2,
        fill: str = "zero",
        nonnegative: str = "auto",
        min_series_global: int = 20,
        small_max: int = 50,
        n_jobs: int = 1,
        random_state: int = 0,
        min_pool: int = 30,
    ):
        self.horizon = horizon
        self.levels = levels
        self.n_windows = n_windows
        self.season_length = season_length
        self.models = models
        self.select = select
        self.combine = combine
        self.combine_top = combine_top
        self.fill = fill
        self.nonnegative = nonnegative
        self.min_series_global = min_series_global
        self.small_max = small_max
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.min_pool = min_pool

    # ------------------------------------------------------------------ fitting
    def fit(self, df: pd.DataFrame, progress=None, season_groups: dict[str, str | None] | None = None) -> Forecaster:
        """Backtest, choose and forecast every series of ``df`` (long ``unique_id, ds, y``).

        ``progress`` is an optional ``callable(done, total, what)`` for a progress bar.
        ``season_groups`` maps a series to the group whose season a short series borrows (its
        market, say); series not in it, or with a group of no seasonal series, borrow the season of
        all seasonal series together.
        """
        self._check_params()
        data = check_long(df)
        data, infos = regularise(data, fill=self.fill, season_length=self.season_length)
        if data.empty:
            raise DataTooThinError("no series with data to forecast")
        self.series_info_ = infos
        self.plans_ = {
            uid: plan_series(info, self.horizon, self.n_windows, self.season_length) for uid, info in infos.items()
        }
        self.data_ = data
        self.season_groups_ = {str(k): v for k, v in (season_groups or {}).items()}
        self._totals = None
        self._index_cache: dict = {}
        candidates = self._seasonal_candidates()
        n_seasonal = sum(p.cls == "seasonal" for p in self.plans_.values())
        if self.models == "standard" and 0 < n_seasonal <= self.small_max:
            candidates = (*candidates, *SMALL_EXTRA)
        self.use_global_ = "LightGBM" in candidates and n_seasonal >= self.min_series_global
        if "LightGBM" in candidates and not self.use_global_:
            candidates = tuple(c for c in candidates if c != "LightGBM")
        self.candidates_ = {"seasonal": candidates, "short": SHORT_MODELS, "intermittent": INTERMITTENT_MODELS}

        self._ml_cv: dict[tuple[int, int], pd.DataFrame] = {}
        self._combo_members: dict[str, list[str]] = {}
        groups: dict[Plan, list[str]] = {}
        for uid, plan in self.plans_.items():
            groups.setdefault(plan, []).append(uid)
        backtest_groups = [p for p in groups if p.cls in self.candidates_]
        total = len(backtest_groups) + 2
        done = 0
        parts = []
        for plan in sorted(backtest_groups, key=lambda p: (p.cls, -p.h_backtest, -p.step)):
            uids = groups[plan]
            sub = data[data[ID].isin(uids)]
            cv = self._cross_validate(sub, plan)
            models = [c for c in self.candidates_[plan.cls] if c in cv.columns]
            scales = cutoff_scales(sub, cv, self.season_length)
            cv["cls"] = plan.cls
            parts.append((plan.cls, cv, window_scores(cv, models, scales), scales, models))
            done += 1
            if progress:
                progress(done, total, f"backtest {plan.cls} h={plan.h_backtest}")
        self.ranking_ = self._rank(parts)
        cvs, scores = [], []
        for cls, cv, sc, scales, models in parts:
            cv, sc = self._add_combo(cv, sc, scales, cls, models)
            cvs.append(cv)
            scores.append(sc)
        cv_all = pd.concat(cvs, ignore_index=True) if cvs else pd.DataFrame(columns=[ID, DS, "cutoff", Y, "cls"])
        score_all = (
            pd.concat(scores, ignore_index=True)
            if scores
            else pd.DataFrame(
                columns=[ID, "cutoff", "model_name", "mae", "rmse", "mape", "smape", "mase", "rmse_scaled"]
            )
        )
        self._choose(cv_all, score_all)
        self._calibrate()
        done += 1
        if progress:
            progress(done, total, "choose and calibrate")
        self._final_forecast()
        del self._ml_cv
        done += 1
        if progress:
            progress(done, total, "forecast")
        return self

    def _check_params(self) -> None:
        if self.select not in SELECT:
            raise InputError(f"unknown selection '{self.select}'", column="select", expected=" or ".join(SELECT))
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

    def _seasonal_candidates(self) -> tuple[str, ...]:
        names = MODEL_SETS.get(self.models) if isinstance(self.models, str) else tuple(self.models)
        if names is None:
            raise InputError(f"unknown model set '{self.models}'", column="models", expected=", ".join(MODEL_SETS))
        unknown = [n for n in names if n not in _ALL_NAMES]
        if unknown:
            raise InputError(
                f"unknown model(s) {', '.join(unknown)}", column="models", expected=", ".join(sorted(_ALL_NAMES))
            )
        if "SeasonalNaive" not in names:
            names = ("SeasonalNaive", *names)  # the baseline every choice is measured against
        return tuple(names)

    def _jobs(self, n_series: int) -> int:
        # Process start-up costs more than it saves on small groups.
        if n_series < 50:
            return 1
        return os.cpu_count() or 1 if self.n_jobs == -1 else self.n_jobs

    def _cross_validate(self, sub: pd.DataFrame, plan: Plan) -> pd.DataFrame:
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        names = [c for c in self.candidates_[plan.cls] if c not in _LOCAL]
        objs = [_stats_model(n, plan.cls, self.season_length) for n in names]
        # refit=False fits once on the earliest window and only updates the state after; later windows
        # still see no future data, at a third of the cost. Models without that path are refitted.
        n_series = sub[ID].nunique()
        cv = None
        for log_scale in (False, True):
            data = _log_frame(sub) if log_scale else sub
            if data.empty:
                continue
            for refit in (False, True):
                batch = [
                    o for o, n in zip(objs, names, strict=True) if _has_forward(o) != refit and _is_log(n) == log_scale
                ]
                if not batch:
                    continue
                sf = StatsForecast(models=batch, freq="MS", n_jobs=self._jobs(n_series), fallback_model=Naive())
                with _quiet():
                    part = _flat(
                        sf.cross_validation(
                            h=plan.h_backtest, df=data, n_windows=self.n_windows, step_size=plan.step, refit=refit
                        )
                    )
                if log_scale:
                    cols = [str(o) for o in batch]
                    part[cols] = np.expm1(part[cols])
                    part = part.drop(columns=Y)
                    # Series with negative values have no log model: NaN scores rank it last for them.
                    cv = cv.merge(part, on=[ID, DS, "cutoff"], how="left")
                else:
                    cv = part if cv is None else cv.merge(part.drop(columns=Y), on=[ID, DS, "cutoff"], how="left")
        if plan.cls == "seasonal" and self.use_global_:
            # The global model learns from every seasonal series, also those in other backtest groups.
            key = (plan.h_backtest, plan.step)
            if key not in self._ml_cv:
                with _quiet():
                    ml = self._ml(len(sub)).cross_validation(
                        self._seasonal_frame(), n_windows=self.n_windows, h=plan.h_backtest, step_size=plan.step
                    )
                self._ml_cv[key] = _flat(ml)[[ID, DS, "cutoff", "LightGBM"]]
            ml = self._ml_cv[key]
            cv = cv.merge(ml, on=[ID, DS, "cutoff"], how="left")
            cv["LightGBM"] = cv["LightGBM"].fillna(cv["SeasonalNaive"])
        if "BorrowedSeason" in self.candidates_[plan.cls]:
            cv["BorrowedSeason"] = self._borrowed_cv(sub, cv)
        return cv

    # ------------------------------------------------------------------ borrowed season
    def _season_index(self, uid: str, cutoff) -> np.ndarray | None:
        """The seasonal index ``uid`` borrows, from its group's seasonal series up to ``cutoff``."""
        if self._totals is None:
            seasonal = [u for u, p in self.plans_.items() if p.cls == "seasonal"]
            self._totals = group_totals(self.data_, self.season_groups_, seasonal, ID, DS, Y)
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

    def _borrowed(self, uid: str, hist: pd.DataFrame, h: int) -> np.ndarray:
        cutoff = hist[DS].iloc[-1]
        months = hist[DS].dt.month.to_numpy()
        return borrowed_season_forecast(hist[Y].to_numpy(float), months, h, self._season_index(uid, cutoff))

    def _borrowed_cv(self, sub: pd.DataFrame, cv: pd.DataFrame) -> np.ndarray:
        out = np.full(len(cv), np.nan)
        by_uid = dict(tuple(sub.groupby(ID, sort=False)))
        for (uid, cutoff), rows in cv.groupby([ID, "cutoff"], sort=False).indices.items():
            hist = by_uid[uid]
            hist = hist[hist[DS] <= cutoff]
            rows = rows[np.argsort(cv[DS].to_numpy()[rows], kind="stable")]
            out[rows] = self._borrowed(uid, hist, len(rows))
        return out

    def _seasonal_frame(self) -> pd.DataFrame:
        uids = [u for u, p in self.plans_.items() if p.cls == "seasonal"]
        return self.data_[self.data_[ID].isin(uids)]

    def _ml(self, n_rows: int):
        import lightgbm as lgb
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean
        from mlforecast.target_transforms import Differences, LocalStandardScaler

        model = lgb.LGBMRegressor(
            n_estimators=200,
            learning_rate=0.07,
            num_leaves=15,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.random_state,
            n_jobs=max(1, os.cpu_count() or 1) if self.n_jobs == -1 else self.n_jobs,
            verbose=-1,
        )
        m = self.season_length
        # Differencing lets trees follow a trend they could not extrapolate; the scaler puts series of
        # 10 and 10,000 units a month on one footing so one model can learn from all of them.
        return MLForecast(
            models={"LightGBM": model},
            freq="MS",
            lags=[1, 2, 3, 6, m],
            lag_transforms={1: [RollingMean(window_size=3), RollingMean(window_size=m)]},
            date_features=["month"],
            target_transforms=[Differences([1]), LocalStandardScaler()],
        )

    # ------------------------------------------------------------------ choosing
    def _choose(self, cv: pd.DataFrame, scores: pd.DataFrame) -> None:
        rows, backtest, residuals = [], [], []
        cv_by_uid = dict(tuple(cv.groupby(ID, sort=False))) if len(cv) else {}
        score_by_uid = dict(tuple(scores.groupby(ID, sort=False))) if len(scores) else {}
        for uid, plan in self.plans_.items():
            info = self.series_info_[uid]
            if plan.cls not in self.candidates_:
                chosen = (
                    "Zero"
                    if plan.cls == "zero"
                    else ("CrostonOptimized" if info.zero_share >= INTERMITTENT_ZERO_SHARE else "Naive")
                )
                if plan.cls == "none":
                    info.warn("no_backtest", n=info.n)
                rows.append(self._choice_row(uid, plan, chosen, [chosen], math.nan, math.nan))
                continue
            if plan.cls == "short":
                info.warn("short", n=info.n)
            elif plan.cls == "intermittent":
                info.warn("intermittent", share=round(100 * info.zero_share))
            if plan.h_backtest < self.horizon:
                info.warn("short_backtest", h=plan.h_backtest, n=info.n)
            g, s = cv_by_uid[uid], score_by_uid[uid].copy()
            if self._pooled(plan.cls):
                members = self._combo_members[uid]
                chosen = "Combo" if len(members) > 1 else members[0]
            else:
                mean = s.groupby("model_name")[_metric(plan.cls)].mean().sort_values(kind="stable")
                chosen = str(mean.index[0])
                members = self._combo_members[uid] if chosen == "Combo" else [chosen]
            if chosen == "Combo":
                chosen = _combo_name(members)
            s["model_name"] = s["model_name"].replace({"Combo": _combo_name(self._combo_members.get(uid, []))})
            baseline = BASELINE[plan.cls]
            yhat = g[members].mean(axis=1).to_numpy(float)
            cutoffs = sorted(g["cutoff"].unique())
            residuals.append(
                pd.DataFrame(
                    {
                        ID: uid,
                        "cls": plan.cls,
                        "cutoff": g["cutoff"].to_numpy(),
                        "window": g["cutoff"].map({c: i + 1 for i, c in enumerate(cutoffs)}).to_numpy(),
                        DS: g[DS].to_numpy(),
                        "h": g.groupby("cutoff").cumcount().to_numpy() + 1,
                        Y: g[Y].to_numpy(float),
                        "yhat": yhat,
                    }
                )
            )
            s["window"] = s["cutoff"].map({c: i + 1 for i, c in enumerate(cutoffs)})
            backtest.append(s)
            by_model = s.groupby("model_name")["mase"].mean()  # MASE is what the tables report
            rows.append(
                self._choice_row(
                    uid, plan, chosen, members, float(by_model[chosen]), float(by_model.get(baseline, math.nan))
                )
            )
        self.choice_ = pd.DataFrame(rows)
        self.residuals_ = (
            pd.concat(residuals, ignore_index=True)
            if residuals
            else pd.DataFrame(columns=[ID, "cls", "cutoff", "window", DS, "h", Y, "yhat"])
        )
        cols = [ID, "model_name", "window", "cutoff", "mae", "mape", "smape", "mase"]
        self.backtest_ = pd.concat(backtest, ignore_index=True)[cols] if backtest else pd.DataFrame(columns=cols)

    def _pooled(self, cls: str) -> bool:
        return self.select == "pooled" and cls != "intermittent"

    def _rank(self, parts) -> dict[str, list[str]]:
        """Per pooled class, the candidates that beat its baseline, best first, by their mean backtest
        error over its series (each series' windows averaged first, so a long series does not count
        more); just the baseline when none beats it."""
        ranking: dict[str, list[str]] = {}
        for cls in dict.fromkeys(p[0] for p in parts):
            if not self._pooled(cls):
                continue
            sc = pd.concat([p[2] for p in parts if p[0] == cls], ignore_index=True)
            mean = _series_means(sc, cls).mean().sort_values(kind="stable")
            base = mean.get(BASELINE[cls], math.inf)
            better = [str(n) for n, v in mean.items() if v < base]
            ranking[cls] = better or [BASELINE[cls]]
        return ranking

    def _add_combo(self, cv, scores, scales, cls, models):
        """Set each series' members (pooled: the class's best available candidates; series: its own
        best) and add their mean as the candidate "Combo"."""
        if not self._pooled(cls) and (not self.combine or len(models) < 3):
            return cv, scores
        table = _series_means(scores, cls)
        k = self.combine_top if self.combine else 1
        combo = np.full(len(cv), np.nan)
        for uid, rows in cv.groupby(ID, sort=False).indices.items():
            scored = table.loc[uid].dropna()
            if self._pooled(cls):
                top = [n for n in self.ranking_[cls] if n in scored.index][:k] or [str(scored.idxmin())]
            else:
                top = [str(n) for n in scored.sort_values(kind="stable").index[:k]]
            self._combo_members[uid] = top
            if len(top) < 2:
                continue
            combo[rows] = cv[top].to_numpy(float)[rows].mean(axis=1)
        if np.isnan(combo).all():
            return cv, scores
        cv = cv.assign(Combo=combo)
        extra = window_scores(cv[cv["Combo"].notna()], ["Combo"], scales)
        return cv, pd.concat([scores, extra], ignore_index=True)

    def _choice_row(self, uid, plan, chosen, members, mase, mase_base) -> dict:
        return {
            ID: uid,
            "cls": plan.cls,
            "model_name": chosen,
            "members": list(members),
            "mase": mase,
            "mase_baseline": mase_base,
            "baseline": BASELINE.get(plan.cls, "Naive"),
            "h_backtest": plan.h_backtest,
            "n_months": self.series_info_[uid].n,
        }

    # ------------------------------------------------------------------ intervals
    def _calibrate(self) -> None:
        """Per class, conformal quantiles of |error| / (the series' own backtest MAE), per step.

        Normalising by each series' own backtest error makes one pool serve series of any size and
        difficulty; pooling across series gives the 95% quantile enough errors to be stable. Only the
        newest windows that give each step ``min_pool`` errors are pooled (:func:`_newest_windows`).
        The reported coverage is honest: each window is covered by quantiles and scales learnt from
        the other windows only.
        """
        r = self.residuals_
        self.quantiles_: dict[str, HorizonQuantiles] = {}
        self.error_scale_: dict[str, float] = {}
        coverage = []
        if r.empty:
            self.coverage_ = pd.DataFrame(columns=[ID, "window", *[f"coverage_{lv}" for lv in self.levels]])
            return
        r = r.assign(abs_err=(r[Y] - r["yhat"]).abs())
        floor = {uid: 0.05 * naive_scale(g[Y].to_numpy(), self.season_length) for uid, g in self.data_.groupby(ID)}
        mae = r.groupby(ID)["abs_err"].mean()
        self.error_scale_ = {uid: max(float(v), floor[uid], 1e-9) for uid, v in mae.items()}
        for cls, g in r.groupby("cls"):
            scale = g[ID].map(self.error_scale_).to_numpy()
            recent = _newest_windows(g, self.min_pool)
            self.quantiles_[cls] = HorizonQuantiles(self.levels, self.min_pool).fit(
                g["h"].to_numpy()[recent], (g["abs_err"].to_numpy() / scale)[recent]
            )
            windows = sorted(g["window"].unique())
            for w in windows:
                train, test = g[g["window"] != w], g[g["window"] == w]
                if train.empty:
                    continue
                loo_mae = train.groupby(ID)["abs_err"].mean()
                loo_scale = {u: max(float(loo_mae.get(u, np.nan)), floor[u], 1e-9) for u in g[ID].unique()}
                tr_scale = train[ID].map(loo_scale).to_numpy()
                recent = _newest_windows(train, self.min_pool)
                hq = HorizonQuantiles(self.levels, self.min_pool).fit(
                    train["h"].to_numpy()[recent], (train["abs_err"].to_numpy() / tr_scale)[recent]
                )
                te_scale = test[ID].map(loo_scale).to_numpy()
                out = {ID: test[ID].to_numpy(), "window": w}
                for level in self.levels:
                    q = hq.quantile(level, int(test["h"].max()))[test["h"].to_numpy() - 1]
                    out[f"coverage_{level}"] = (test["abs_err"].to_numpy() <= q * te_scale).astype(float)
                coverage.append(pd.DataFrame(out))
        cov = pd.concat(coverage, ignore_index=True) if coverage else pd.DataFrame(columns=[ID, "window"])
        self.coverage_ = cov.groupby([ID, "window"], as_index=False).mean() if len(cov) else cov

    # ------------------------------------------------------------------ forecasting
    def _final_forecast(self) -> None:
        from statsforecast import StatsForecast
        from statsforecast.models import Naive

        H = self.horizon
        needed: dict[tuple[str, str], list[str]] = {}
        for row in self.choice_.itertuples(index=False):
            cls = row.cls if row.cls in self.candidates_ else "short"
            for member in row.members:
                if member != "Zero":
                    needed.setdefault((cls, member), []).append(getattr(row, ID))
        preds: dict[tuple[str, str], np.ndarray] = {}
        ml_models = {k: v for k, v in needed.items() if k[1] == "LightGBM"}
        for (cls, name), uids in needed.items():
            if name == "LightGBM":
                continue
            if name == "BorrowedSeason":
                for uid, hist in self.data_[self.data_[ID].isin(uids)].groupby(ID, sort=False):
                    preds[(uid, name)] = self._borrowed(uid, hist, H)
                continue
            sub = self.data_[self.data_[ID].isin(uids)]
            if _is_log(name):
                sub = _log_frame(sub)
                if sub.empty:
                    continue
            sf = StatsForecast(
                models=[_stats_model(name, cls, self.season_length)],
                freq="MS",
                n_jobs=self._jobs(len(uids)),
                fallback_model=Naive(),
            )
            with _quiet():
                fc = _flat(sf.forecast(h=H, df=sub))
            col = [c for c in fc.columns if c not in (ID, DS)][0]
            if _is_log(name):
                fc[col] = np.expm1(fc[col])
            for uid, g in fc.groupby(ID, sort=False):
                preds[(uid, name)] = g[col].to_numpy(float)
        if ml_models:
            ml = self._ml(len(self.data_))
            with _quiet():
                ml.fit(self._seasonal_frame())
            fc = _flat(ml.predict(H))
            for uid, g in fc.groupby(ID, sort=False):
                preds[(uid, "LightGBM")] = g["LightGBM"].to_numpy(float)

        parts = []
        steps = np.arange(1, H + 1)
        for row in self.choice_.itertuples(index=False):
            uid = getattr(row, ID)
            hist = self.data_[self.data_[ID] == uid]
            last = hist[DS].max()
            ds = pd.date_range(last + pd.offsets.MonthBegin(1), periods=H, freq="MS")
            yhat = np.zeros(H) if row.model_name == "Zero" else np.mean([preds[uid, m] for m in row.members], axis=0)
            out = {ID: uid, DS: ds, "model_name": row.model_name, "yhat": yhat}
            y = hist[Y].to_numpy(float)
            for level in self.levels:
                width = self._width(uid, row.cls, level, y, steps)
                out[f"yhat_lo_{level}"] = yhat - width
                out[f"yhat_hi_{level}"] = yhat + width
            frame = pd.DataFrame(out)
            if self.nonnegative == "auto" and (y >= 0).all():
                num = frame.columns.drop([ID, DS, "model_name"])
                frame[num] = frame[num].clip(lower=0)
            parts.append(frame)
        self.forecast_ = pd.concat(parts, ignore_index=True)

    def _width(self, uid: str, cls: str, level: int, y: np.ndarray, steps: np.ndarray) -> np.ndarray:
        if cls == "zero":
            return np.zeros(len(steps))
        if uid in self.error_scale_ and cls in self.quantiles_:
            return self.quantiles_[cls].quantile(level, len(steps)) * self.error_scale_[uid]
        # No backtest for this series: random-walk-like errors that grow with √h, on its own scale.
        scale = naive_scale(y, 1) if len(y) > 1 else abs(float(y[-1])) or 1.0
        return _FALLBACK_Z[level] * scale * np.sqrt(steps) if level in _FALLBACK_Z else scale * np.sqrt(steps)

    def predict(self, h: int | None = None) -> pd.DataFrame:
        """The forecasts made by :meth:`fit` (first ``h`` months): unique_id, ds, model_name, yhat, yhat_lo_80, …"""
        if not hasattr(self, "forecast_"):
            raise InputError("the forecaster has not been fitted", expected="call fit(df) first")
        if h is None or h >= self.horizon:
            return self.forecast_.copy()
        return self.forecast_.groupby(ID, sort=False).head(h).reset_index(drop=True)

    def choice(self, lang: str = "en") -> pd.DataFrame:
        """Per series: class, chosen model, its backtest MASE, the baseline's, and the warnings in ``lang``."""
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


def _newest_windows(residuals: pd.DataFrame, min_pool: int) -> np.ndarray:
    """Mask of the errors of the newest backtest windows that together give every forecast step at
    least ``min_pool`` errors (all windows when even they do not).

    Forecast errors are not exchangeable over time: a window just after a shock (a chip shortage)
    has errors the months ahead may not repeat, and the newest windows say most about them. This is
    the sliding calibration window of conformal prediction for time series, sized by the data: with
    hundreds of series the newest window alone suffices, a file of five series uses all of them.
    """
    window = residuals["window"].to_numpy()
    h = residuals["h"].to_numpy()
    steps = np.unique(h)
    for newest in sorted(np.unique(window), reverse=True):
        mask = window >= newest
        counts = np.bincount(h[mask], minlength=steps.max() + 1)[steps]
        if counts.min() >= min_pool:
            return mask
    return np.ones(len(window), dtype=bool)


def _series_means(scores: pd.DataFrame, cls: str) -> pd.DataFrame:
    """Series × candidate: the class's selection metric averaged over the backtest windows."""
    return scores.groupby([ID, "model_name"])[_metric(cls)].mean().unstack()


def _metric(cls: str) -> str:
    # MAE rewards forecasting 0 for scattered demand; squared error keeps intermittent forecasts unbiased.
    return "rmse_scaled" if cls == "intermittent" else "mase"


def _is_log(name: str) -> bool:
    return name.startswith("Log")


def _log_frame(sub: pd.DataFrame) -> pd.DataFrame:
    """The series that were never negative, on the log1p scale (variance grows with the level in sales)."""
    ok = sub.groupby(ID)[Y].transform("min") >= 0
    out = sub[ok].copy()
    out[Y] = np.log1p(out[Y])
    return out


def _has_forward(model) -> bool:
    # Only the models that can update a fitted state on new data have ``forward``.
    return callable(getattr(model, "forward", None))


def _combo_name(members: list[str]) -> str:
    return "Combo(" + "+".join(members) + ")"


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index() if ID not in frame.columns else frame.reset_index(drop=True)


class _quiet:
    """Silence statsforecast's warnings about short series; carsight reports them per series instead."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore")
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
