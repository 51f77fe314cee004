"""Series classes and their backtest plans: what a series of a given length and sparsity can support.

Every series is put in a class by what it can support: ``seasonal`` (two seasons of training data in
the earliest backtest window), ``short`` (less than that: 12–36 months of a new launch, say),
``intermittent`` (≥ 30% zero months lately: Croston-type methods), ``stopped`` (no sales for its
longest run of months ever, at least six: a discontinued model, forecast 0), ``none`` (too short to
backtest: naive forecast) and ``zero`` (nothing sold). Each class has its own candidates, always
including its naive baseline (:mod:`carsight.market.candidates`).

Why ``stopped`` is a class of its own: on a series that stopped selling every candidate's backtest
error is near 0, so the selection cannot tell the naive 0 from a model that puts the old season or a
demand rate back (ETS with a season forecast a discontinued model's March peak; Croston keeps a
rate): on the demo's discontinued models those gave sMAPE 91 where the naive 0 gives 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from carsight.market.series import SeriesInfo

INTERMITTENT_ZERO_SHARE = 0.3
BASELINE = {"seasonal": "SeasonalNaive", "short": "Naive", "intermittent": "SeasonalNaive", "stopped": "Naive"}
BACKTESTED = tuple(BASELINE)
# Training months the earliest window of a short series keeps: enough for a level and a trend.
SHORT_MIN_TRAIN = 6
INTERMITTENT_MIN_TRAIN = 12


@dataclass(frozen=True)
class Plan:
    """How one series is backtested.

    Its class, the backtest horizon, the step between origins and the number of windows (origins).
    """

    cls: str  # seasonal | short | intermittent | stopped | none | zero
    h_backtest: int
    step: int
    n_windows: int = 0

    def train_lengths(self, n: int) -> list[int]:
        """Months of training data before each origin of a series of ``n`` months, earliest first."""
        return [n - self.h_backtest - (self.n_windows - 1 - k) * self.step for k in range(self.n_windows)]


def plan_series(info: SeriesInfo, horizon: int, n_windows: int, season_length: int) -> Plan:
    """The class of a series and how it can be backtested.

    The largest backtest horizon (≤ ``horizon``) and step that leave enough training data in the
    earliest window for its class.

    Short histories are backtested on shorter horizons (12, 6, 3 or 1 months) with origins 3 or 1
    month apart, so that a 19-month series still gets ``n_windows`` windows; the warning
    ``short_backtest`` says so per series.
    """
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

    if info.stopped:
        found = fit(SHORT_MIN_TRAIN, 1)
        return Plan("stopped", *found, n_windows) if found else Plan("none", 0, 0)
    if intermittent:
        found = fit(INTERMITTENT_MIN_TRAIN, 1)
        return Plan("intermittent", *found, n_windows) if found else Plan("none", 0, 0)
    found = fit(2 * m, min(3, horizon)) if m > 1 else None
    if found:
        return Plan("seasonal", *found, n_windows)
    found = fit(SHORT_MIN_TRAIN, 1)
    return Plan("short", *found, n_windows) if found else Plan("none", 0, 0)
