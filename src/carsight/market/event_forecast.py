"""The events of one forecasting run, learnt, taken out of the history and put back on the forecasts.

Used by :class:`carsight.market.forecast.Forecaster` when it is given events. Honesty in the
backtest: a window's forecast gets the effects as they were known at its origin (learnt from the
months before it; a coming occurrence from the past occurrences of its name or kind). The history
the candidates see is adjusted once, with the effects learnt from all months: adjusting it anew at
each origin would cost a model search per origin, and what the later months add to the estimate of
an *earlier* occurrence's effect is small. Months of a declared shock get weight 0 in the backtest
scores and the interval calibration: the coming months need not repeat a one-off shock's errors.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from carsight.market.event_effects import EventEffects
from carsight.market.events import SCOPE, SHOCK, check_events, coverage, indicators, month_number

MIN_COVERED_MONTHS = 1


class EventAdjustment:
    """Declared events applied to a set of series (``arrays``: id → (month starts, values)).

    Series that were ever negative are left alone (effects are multiplicative).
    """

    def __init__(self, events: pd.DataFrame, keys: pd.DataFrame | None, arrays: dict, horizon: int):
        self.events = events if "first" in events.columns else check_events(events, keys)
        key_rows = {} if keys is None else keys.set_index("unique_id")
        self.keys = {
            str(uid): {c: (None if pd.isna(row[c]) else row[c]) for c in SCOPE if c in key_rows.columns}
            for uid, row in (key_rows.iterrows() if keys is not None else [])
        }
        self.horizon = horizon
        self.months = {uid: month_number(ds) for uid, (ds, _) in arrays.items()}
        self.values = {uid: np.asarray(y, float) for uid, (_, y) in arrays.items()}
        reach = {
            uid: np.r_[m, m[-1] + np.arange(1, horizon + 1)]
            for uid, m in self.months.items()
            if len(m) and (self.values[uid] >= 0).all()
        }
        self.covering = {u: w for u, w in coverage(self.events, self.keys, reach).items() if len(w)}
        # Series that sum others (an id part is None: a market total): they keep their own effects.
        self.aggregates = frozenset(
            u for u, key in self.keys.items() if any(key.get(c) is None for c in SCOPE if c in key)
        )
        self.by_cutoff: dict[int, EventEffects] = {}
        self.end = max((int(m[-1]) for m in self.months.values() if len(m)), default=0)

    def learn(self, cutoffs) -> None:
        """Learn the effects as known at each cutoff month (and at the end of the data)."""
        series = {u: (self.months[u], self.values[u]) for u in self.covering}
        for c in sorted({*map(int, cutoffs), self.end}):
            if c not in self.by_cutoff:
                self.by_cutoff[c] = EventEffects(self.events, c).fit(series, self.covering, self.aggregates)

    @property
    def final(self) -> EventEffects:
        """The effects learnt from all months."""
        return self.by_cutoff[self.end]

    def adjusted(self, uid: str) -> np.ndarray:
        """The series' history with its events' effects (learnt from all months) taken out."""
        y = self.values[uid]
        if uid not in self.covering:
            return y
        return self.final.adjust(uid, self.covering[uid], self.months[uid], y)

    def shift(self, uid: str, cutoff: int, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The log1p shift (and its sd) the events put on a forecast of ``months`` made at ``cutoff``.

        The effects are those known at the cutoff.
        """
        if uid not in self.covering:
            return np.zeros(len(months)), np.zeros(len(months))
        return self.by_cutoff[int(cutoff)].uplift(uid, self.covering[uid], np.asarray(months))

    def shock_months(self, uid: str, months: np.ndarray) -> np.ndarray:
        """Whether each month lies in a declared shock covering the series."""
        which = self.covering.get(uid, np.zeros(0, int))
        shocks = which[self.events["kind"].to_numpy()[which] == SHOCK] if len(which) else which
        if len(shocks) == 0:
            return np.zeros(len(months), dtype=bool)
        return indicators(self.events, shocks, np.asarray(months)).any(axis=1)

    def table(self) -> pd.DataFrame:
        """The events report: per event its effect in percent, a 95% interval, the series it covers.

        The effect is the learnt one for a past occurrence, the applied one for a coming one.
        """
        out = self.final.table(self.end + self.horizon)
        counts = pd.Series(np.concatenate(list(self.covering.values())) if self.covering else [], dtype=int)
        covered = counts.value_counts()
        out["series_covered"] = [int(covered.get(i, 0)) for i in out.index] if len(out) else []
        return out


def apply_shift(yhat: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """A forecast on the adjusted scale with the events' log1p shift put back."""
    if not np.any(shift):
        return yhat
    return np.expm1(np.log1p(np.maximum(yhat, 0)) + shift)


def widen(half_width: np.ndarray, yhat: np.ndarray, shift_sd: np.ndarray, level: int) -> np.ndarray:
    """An interval's half-width widened by the uncertainty of the events' effects in its months.

    That uncertainty is independent of the model's error, so they add in quadrature.
    """
    if not np.any(shift_sd):
        return half_width
    z = NormalDist().inv_cdf(0.5 + level / 200)
    return np.sqrt(half_width**2 + (z * np.maximum(yhat, 0) * shift_sd) ** 2)
