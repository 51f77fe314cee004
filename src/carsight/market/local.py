"""Per-series statistical models (statsforecast's ETS, Theta, CES, naive, Croston …).

Each is fitted once, rolled forward through the backtest, and refitted on all data for the forecast.

The cost of a forecast is the model search (AutoETS tries up to 30 forms per series). So each
series is searched **once**, on the data before the earliest backtest origin, and the fitted model is
rolled forward through the later origins (statsforecast's ``forward``: the same parameters, the state
updated with the new months; no window sees its own future). The newest window and the forecast
itself refit the series on the data before them, keeping the form that search found (Theta's
variant, CES's season type, ETS's exact form in the window and its error and season types with the
trend searched again for the forecast) and re-estimating the parameters: a few fits, not thirty.
So the newest window is forecast, like the final forecast, by a fit of its own: a choice made on
the earlier windows is judged on a fit it did not see (when all windows shared one fit, the
luckiest fit of a series looked like its best model).

The form is kept only when it was found on at least four seasons of data; shorter series, and
short ones, are searched afresh (cheap, and a longer history may support a form the
earliest window could not). Models without ``forward`` (the naive and Croston-type methods) are
cheap and simply refitted at each origin.

All models of a batch share one pass over the series, split across worker processes when there are
enough series to repay starting them, or across a Spark warehouse's executors (``Batch.map_chunks``).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from carsight.market.candidates import Batch, Candidate, Run, naive_rows

MIN_SERIES_PER_WORKER = 25  # below this, starting worker processes costs more than it saves
# A form is kept for the final fit only when it was chosen on at least this many seasons: on fewer,
# whether there is a season or a trend at all often changes as the series grows (on the 72-month
# public series ETS found no season in the earliest 24 months and a clear one in all 54).
FORM_MIN_SEASONS = 4
_WARM: set[str] = set()


@dataclass(frozen=True, repr=False)
class LocalModel(Candidate):
    """One statsforecast model fitted per series.

    ``build(season_length)`` makes the (unfitted) model; ``fixed_form(fitted, season_length)``, when
    given, makes the model of the form a fitted search found (for the final refit); ``log`` fits on
    ``log1p(y)`` and transforms back (series that were ever negative get no forecast: NaN);
    ``rollable(fitted)``, when given, says whether fitted parameters may be rolled forward to later
    data (unstable ones are refitted at each origin instead); ``exact_form``, when given, is the
    cheaper form the newest backtest window refits (ETS: the exact form, one fit instead of three).
    """

    name: str
    build: Callable[[int], object]
    fixed_form: Callable[[object, int], object] | None = None
    log: bool = False
    rollable: Callable[[object], bool] | None = None
    exact_form: Callable[[object, int], object] | None = None

    @classmethod
    def run_all(cls, candidates, batch: Batch) -> dict[str, Run]:
        """Run all the models in one pass over the batch's series.

        The series go to the batch's ``map_chunks`` when it has one (a Spark warehouse's executors),
        else to worker processes when there are enough series to repay starting them
        (``MIN_SERIES_PER_WORKER`` each), else through this process.
        """
        models = list(candidates)
        reuse_form = batch.plan.cls in ("seasonal", "intermittent")
        jobs = _jobs(batch.n_jobs, len(batch.uids))
        args = (models, batch.plan.h_backtest, batch.horizon, batch.season_length, reuse_form)
        order = list(range(len(batch.uids)))
        if batch.map_chunks is not None:
            # Elsewhere (Spark's executors): the settings and each series' months go there, its
            # backtest and forecasts come back, in the order of the series.
            items = [(y, batch.cutoffs(i)) for i, y in enumerate(batch.ys)]
            results = dict(enumerate(batch.map_chunks(_forecast_chunk, args, items)))
        elif jobs > 1:
            _warm_up(models, batch.season_length)
            # Longest series first, dealt round-robin: chunks of about equal work.
            order.sort(key=lambda i: -len(batch.ys[i]))
            chunks = [order[k :: jobs * 4] for k in range(jobs * 4)]
            chunks = [c for c in chunks if c]
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                parts = pool.map(
                    _forecast_chunk,
                    [args] * len(chunks),
                    [[(batch.ys[i], batch.cutoffs(i)) for i in c] for c in chunks],
                )
                results = dict(zip((i for c in chunks for i in c), (r for p in parts for r in p), strict=True))
        else:
            results = dict(
                zip(order, _forecast_chunk(args, [(y, batch.cutoffs(i)) for i, y in enumerate(batch.ys)]), strict=True)
            )
        runs = {m.name: Run() for m in models}
        for i, uid in enumerate(batch.uids):
            for m, (cv, final, fallbacks) in zip(models, results[i], strict=True):
                runs[m.name].cv[uid] = cv
                runs[m.name].final[uid] = final
                runs[m.name].fallbacks += fallbacks
        return runs

    def run(self, batch: Batch) -> Run:
        """Run this model alone (:meth:`run_all` with one model)."""
        return self.run_all([self], batch)[self.name]

    def forecast_series(
        self, y: np.ndarray, lengths: list[int], h: int, horizon: int, season_length: int, reuse_form: bool
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Backtest forecasts and the final forecast of one series.

        Returns one row of ``h`` months per training length in ``lengths``, the forecast of ``horizon``
        months after ``y``, and how many fits failed and fell back to the naive forecast.
        """
        if self.log and np.min(y) < 0:
            return np.full((len(lengths), h), np.nan), np.full(horizon, np.nan), 0
        z = np.log1p(y) if self.log else np.asarray(y, float)
        fallbacks = 0
        fitted = None
        model = self.build(season_length)
        if callable(getattr(model, "forward", None)):
            try:
                fitted = model.fit(z[: lengths[0]])  # AutoCES returns a Naive model for a constant series
            except Exception:
                fitted = None
        roll = fitted is not None and (self.rollable is None or not hasattr(fitted, "model_") or self.rollable(fitted))
        keep_form = (
            reuse_form
            and lengths[0] >= FORM_MIN_SEASONS * season_length
            and fitted is not None
            and self.fixed_form is not None
            and hasattr(fitted, "model_")
        )

        def refit(n: int, steps: int, exact: bool = False) -> np.ndarray:
            """The final forecast's procedure on the first ``n`` months.

            The kept form refitted (the exact form with ``exact``), or a fresh search.
            """
            if not keep_form:
                model = self.build(season_length)
            elif exact and self.exact_form is not None:
                model = self.exact_form(fitted, season_length)
            else:
                model = self.fixed_form(fitted, season_length)
            return np.asarray(model.forecast(y=z[:n], h=steps)["mean"], float)

        rows = []
        for k, n in enumerate(lengths):
            try:
                row = None
                newest = k == len(lengths) - 1 and k > 0
                if newest:
                    # The newest window is forecast as the final forecast will be (refitted), so the
                    # backtest also judges a fit other than the one every earlier window shares.
                    row = refit(n, h, exact=True)
                elif roll:
                    row = np.asarray(fitted.forward(y=z[:n], h=h)["mean"], float)
                if row is None or not _plausible(row, z[:n]):
                    # Parameters fitted on the earliest window can be unstable on later data (CES's
                    # states then grow without bound): refit on this window instead.
                    row = np.asarray(self.build(season_length).forecast(y=z[:n], h=h)["mean"], float)
                if not _plausible(row, z[:n]):
                    raise FloatingPointError("forecast diverged")
            except Exception:
                row = naive_rows(z, [n], h)[0]
                fallbacks += 1
            rows.append(row)
        try:
            final = refit(len(z), horizon)
            if not _plausible(final, z):
                raise FloatingPointError("forecast diverged")
        except Exception:
            final = np.full(horizon, z[-1])
            fallbacks += 1
        cv = np.vstack(rows)
        if self.log:
            cv, final = np.expm1(cv), np.expm1(final)
        return cv, final, fallbacks


def _plausible(forecast: np.ndarray, history: np.ndarray) -> bool:
    """Whether a forecast is finite and within ten times the history's range of it.

    Anything further is a diverged (unstable) model, not a forecast.
    """
    if not np.isfinite(forecast).all():
        return False
    lo, hi = float(np.min(history)), float(np.max(history))
    span = max(hi - lo, abs(hi), abs(lo), 1e-9)
    return bool(forecast.min() >= lo - 10 * span and forecast.max() <= hi + 10 * span)


def _forecast_chunk(args, series) -> list[list[tuple[np.ndarray, np.ndarray, int]]]:
    models, h, horizon, season_length, reuse_form = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast's notes on short series; carsight warns per series
        return [
            [m.forecast_series(y, lengths, h, horizon, season_length, reuse_form) for m in models]
            for y, lengths in series
        ]


def _jobs(n_jobs: int, n_series: int) -> int:
    cores = os.cpu_count() or 1
    wanted = cores if n_jobs == -1 else max(1, n_jobs)
    return max(1, min(wanted, n_series // MIN_SERIES_PER_WORKER))


def _warm_up(models: list[LocalModel], season_length: int) -> None:
    """Load each model's compiled code in this process before forking.

    Workers then inherit it instead of each loading it again.
    """
    t = np.arange(48)
    y = 100 + 10 * np.sin(2 * np.pi * t / 12) + t
    for m in models:
        if m.name not in _WARM:
            _forecast_chunk((([m]), 3, 3, season_length, True), [(y, [36, 45])])
            _WARM.add(m.name)


# ---------------------------------------------------------------- the statsforecast models
def auto_ets(m: int):
    """AutoETS with the full search of forms."""
    from statsforecast.models import AutoETS

    return AutoETS(season_length=m)


def ets_form(fitted, m: int):
    """The error and season types a fitted AutoETS chose, with the trend searched again.

    The trend is none, additive or damped: 3 fits instead of up to 30. Whether a series trends is what
    most often changes when it grows by the backtest's months.
    """
    from statsforecast.models import AutoETS

    components = fitted.model_["components"]
    return AutoETS(season_length=m, model=f"{components[0]}Z{components[2]}")


def ets_exact_form(fitted, m: int):
    """The exact ETS form a fitted AutoETS chose (trend and damping included): one fit."""
    from statsforecast.models import AutoETS

    components = fitted.model_["components"]
    return AutoETS(season_length=m, model=components[:3], damped=components[3] == "D")


def additive_ets(m: int):
    """Additive-error ETS with an additive season (when m > 1) and any trend: a quarter of the search."""
    from statsforecast.models import AutoETS

    return AutoETS(season_length=m, model="AZA" if m > 1 else "AZN", alias="ETS")


def log_ets(m: int):
    """Additive-error ETS as :func:`additive_ets`, named LogETS (the candidate fits it on ``log1p(y)``)."""
    from statsforecast.models import AutoETS

    return AutoETS(season_length=m, model="AZA" if m > 1 else "AZN", alias="LogETS")


def ses(m: int):
    """Simple exponential smoothing (ETS ANN); no season."""
    from statsforecast.models import AutoETS

    return AutoETS(model="ANN", alias="SES")


def holt(m: int):
    """Holt's linear trend (ETS AAN, not damped); no season."""
    from statsforecast.models import AutoETS

    return AutoETS(model="AAN", damped=False, alias="Holt")


def damped_holt(m: int):
    """Holt's damped trend (ETS AAN, damped); no season."""
    from statsforecast.models import AutoETS

    return AutoETS(model="AAN", damped=True, alias="DampedHolt")


def auto_theta(m: int):
    """AutoTheta, searching the Theta variants."""
    from statsforecast.models import AutoTheta

    return AutoTheta(season_length=m)


def theta_form(fitted, m: int):
    """The Theta variant a fitted AutoTheta chose."""
    from statsforecast.models import AutoTheta

    return AutoTheta(season_length=m, model=fitted.model_["modeltype"])


def auto_ces(m: int):
    """AutoCES, searching the season types."""
    from statsforecast.models import AutoCES

    return AutoCES(season_length=m)


def ces_form(fitted, m: int):
    """The season type a fitted AutoCES chose."""
    from statsforecast.models import AutoCES

    return AutoCES(season_length=m, model=fitted.model_["seasontype"])


def ces_stable(fitted) -> bool:
    """Whether a fitted CES's complex smoothing parameter lies in the stability region.

    The region is that of Svetunkov, Kourentzes & Ord (2022): statsforecast bounds the parameters but
    does not check it, and an unstable CES rolled forward to later data grows without bound.
    """
    par = fitted.model_["par"]
    a0, a1 = float(par["alpha_0"]), float(par["alpha_1"])
    if not np.isfinite(a1):
        return True
    return (
        (a0 - 2.5) ** 2 + a1**2 > 1.25
        and (a0 - 0.5) ** 2 + (a1 - 1) ** 2 > 0.25
        and (a0 - 1.5) ** 2 + (a1 - 0.5) ** 2 < 1.5
    )


def auto_arima(m: int):
    """AutoARIMA."""
    from statsforecast.models import AutoARIMA

    return AutoARIMA(season_length=m)


def seasonal_naive(m: int):
    """The seasonal naive forecast (the same month a season before)."""
    from statsforecast.models import SeasonalNaive

    return SeasonalNaive(season_length=m)


def naive(m: int):
    """The naive forecast (the last value)."""
    from statsforecast.models import Naive

    return Naive()


def croston(m: int):
    """Croston's method with optimised smoothing, for intermittent demand."""
    from statsforecast.models import CrostonOptimized

    return CrostonOptimized()


def tsb(m: int):
    """Teunter-Syntetos-Babai (TSB) for intermittent demand, both smoothing parameters 0.2."""
    from statsforecast.models import TSB

    return TSB(alpha_d=0.2, alpha_p=0.2)


def adida(m: int):
    """ADIDA (aggregate-disaggregate intermittent demand approach)."""
    from statsforecast.models import ADIDA

    return ADIDA()


def imapa(m: int):
    """IMAPA (intermittent multiple aggregation prediction algorithm)."""
    from statsforecast.models import IMAPA

    return IMAPA()
