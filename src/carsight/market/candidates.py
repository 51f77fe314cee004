"""The candidate interface: one small class per forecasting method, as in statsforecast's ``models.py``.

A candidate turns a :class:`Batch` (the series of one backtest plan) into a :class:`Run`: its
forecasts for every backtest window of every series, and its forecast of the whole horizon after the
last month. Candidates of one kind are run together (:meth:`Candidate.run_all`), so the per-series
statistical models share one pass over the series (:class:`carsight.market.local.LocalModel`).

Here: the interface, and the two candidates that learn across series: the season borrowed from a
group (:class:`BorrowedSeason`) and a global LightGBM model (:class:`GlobalLightGBM`). The named
sets of candidates live in :mod:`carsight.market.model_sets`.

Exogenous inputs (issue "event-aware forecasts") enter through :class:`Batch`: a candidate that can
use them reads them there; the others ignore them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.market.borrowed import borrowed_season_forecast
from carsight.market.classes import Plan
from carsight.market.series import DS, ID


@dataclass
class Batch:
    """The series one plan backtests, as arrays, and what candidates need to know about the run."""

    uids: list[str]
    ys: list[np.ndarray]
    ds: list[np.ndarray]  # datetime64 month starts, one per value
    plan: Plan
    horizon: int
    season_length: int
    n_jobs: int = 1
    # Where the per-series statistical fits run: None, this machine's processes (``n_jobs``); or
    # ``map_chunks(function, shared, items)``, which runs ``function(shared, chunk)`` over chunks of
    # ``items`` elsewhere (a Spark warehouse's executors) and returns the results in item order.
    map_chunks: Callable[[Callable, tuple, list], list] | None = None
    # The season a short series borrows: ``season_index(uid, cutoff) -> index or None``.
    season_index: Callable[[str, np.datetime64], np.ndarray | None] | None = None
    # Every seasonal series (long frame), for candidates that learn one model from all of them.
    pool: pd.DataFrame | None = None
    random_state: int = 0

    def cutoffs(self, i: int) -> list[int]:
        """Training lengths of series ``i`` before each backtest origin, earliest first."""
        return self.plan.train_lengths(len(self.ys[i]))


@dataclass
class Run:
    """A candidate's forecasts: per series, its backtest windows and its forecast of the horizon.

    ``cv`` holds one row per backtest window (``h_backtest`` months) and ``final`` the forecast of
    the whole horizon after the last month. ``fallbacks`` counts fits that failed and were replaced
    by the naive forecast.
    """

    cv: dict[str, np.ndarray] = field(default_factory=dict)
    final: dict[str, np.ndarray] = field(default_factory=dict)
    fallbacks: int = 0


class Candidate:
    """A forecasting method the backtest can choose. Subclasses set ``name`` and implement :meth:`run`."""

    name: str

    def run(self, batch: Batch) -> Run:  # pragma: no cover - the interface
        """Forecast every series of ``batch``: its backtest windows and the horizon after its last month."""
        raise NotImplementedError

    @classmethod
    def run_all(cls, candidates: Sequence[Candidate], batch: Batch) -> dict[str, Run]:
        """Run several candidates of this kind on one batch (one by one unless a kind shares work)."""
        return {c.name: c.run(batch) for c in candidates}

    def __repr__(self) -> str:
        """The candidate's name."""
        return self.name


class BorrowedSeason(Candidate):
    """The season of the series' group, for series too short to learn their own.

    See :mod:`carsight.market.borrowed`: deseasonalise with the group's index, smooth the level, put
    the index back. In the backtest the index is rebuilt from the data before each origin only.
    """

    name = "BorrowedSeason"

    def run(self, batch: Batch) -> Run:
        """Forecast each series with its group's season index (``batch.season_index``), rebuilt at each origin.

        Raises
        ------
        ValueError
            If the batch has no ``season_index``.
        """
        if batch.season_index is None:
            raise ValueError("BorrowedSeason needs batch.season_index")
        run = Run()
        h = batch.plan.h_backtest
        for i, uid in enumerate(batch.uids):
            y, ds = batch.ys[i], batch.ds[i]
            months = pd.DatetimeIndex(ds).month.to_numpy()
            rows = []
            for n in batch.cutoffs(i):
                index = batch.season_index(uid, ds[n - 1])
                rows.append(borrowed_season_forecast(y[:n], months[:n], h, index))
            run.cv[uid] = np.vstack(rows)
            run.final[uid] = borrowed_season_forecast(y, months, batch.horizon, batch.season_index(uid, ds[-1]))
        return run


class GlobalLightGBM(Candidate):
    """One LightGBM model (mlforecast) learnt from every seasonal series.

    Features: lags 1, 2, 3, 6 and the season length (12), rolling means of 3 months and of the season
    length, and the calendar month, on differenced, per-series standardised targets, so series of 10 and 10,000 units
    a month share one model. Backtested with mlforecast's own cross-validation on the same windows as
    the other candidates.
    """

    name = "LightGBM"

    def run(self, batch: Batch) -> Run:
        """Fit on ``batch.pool`` and forecast every series of the batch.

        A backtest window mlforecast did not produce for a series (one that ends before the others)
        gets the naive forecast and is counted in ``fallbacks``.

        Raises
        ------
        ValueError
            If the batch has no (or an empty) ``pool``.
        """
        import warnings

        if batch.pool is None or batch.pool.empty:
            raise ValueError("LightGBM needs batch.pool (the seasonal series)")
        plan = batch.plan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = self._model(batch).cross_validation(
                batch.pool, n_windows=plan.n_windows, h=plan.h_backtest, step_size=plan.step
            )
            final = self._model(batch).fit(batch.pool).predict(batch.horizon)
        cv = cv.reset_index() if ID not in cv.columns else cv
        final = final.reset_index() if ID not in final.columns else final
        run = Run()
        forecasts = {
            (uid, np.datetime64(cutoff, "ns")): g[self.name].to_numpy(float)
            for (uid, cutoff), g in cv.sort_values([ID, "cutoff", DS]).groupby([ID, "cutoff"], sort=False)
        }
        fc_by_uid = {uid: g[self.name].to_numpy(float) for uid, g in final.sort_values([ID, DS]).groupby(ID)}
        for i, uid in enumerate(batch.uids):
            y, ds = batch.ys[i], batch.ds[i]
            rows = []
            for n in batch.cutoffs(i):
                # mlforecast aligns windows on the last month of all series: a series that ends
                # earlier has no window at its own origins and gets the naive forecast there.
                row = forecasts.get((uid, np.datetime64(ds[n - 1], "ns")))
                if row is None or len(row) != plan.h_backtest:
                    row = np.full(plan.h_backtest, y[n - 1])
                    run.fallbacks += 1
                rows.append(row)
            run.cv[uid] = np.vstack(rows)
            run.final[uid] = fc_by_uid.get(uid, np.full(batch.horizon, y[-1]))
        return run

    def _model(self, batch: Batch):
        import lightgbm as lgb
        from mlforecast import MLForecast
        from mlforecast.lag_transforms import RollingMean
        from mlforecast.target_transforms import Differences, LocalStandardScaler

        jobs = (os.cpu_count() or 1) if batch.n_jobs == -1 else batch.n_jobs
        model = lgb.LGBMRegressor(
            n_estimators=200,
            learning_rate=0.07,
            num_leaves=15,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=batch.random_state,
            n_jobs=max(1, jobs),
            verbose=-1,
        )
        m = batch.season_length
        return MLForecast(
            models={self.name: model},
            freq="MS",
            lags=[1, 2, 3, 6, m],
            lag_transforms={1: [RollingMean(window_size=3), RollingMean(window_size=m)]},
            date_features=["month"],
            target_transforms=[Differences([1]), LocalStandardScaler()],
        )


def naive_rows(y: np.ndarray, lengths: list[int], h: int) -> np.ndarray:
    """The naive forecast (last value) after each training length: the fallback of every candidate."""
    return np.vstack([np.full(h, y[n - 1] if n > 0 else 0.0) for n in lengths])


__all__ = ["Batch", "BorrowedSeason", "Candidate", "GlobalLightGBM", "Run", "naive_rows"]
