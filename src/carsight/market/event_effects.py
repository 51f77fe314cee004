"""Effects of declared events, learnt from their past occurrences, and the forecast adjusted by them.

The approach is the one of X-13ARIMA-SEATS' regARIMA prior adjustment: estimate the events' effects
by regression, take them out of the history, forecast the adjusted series with the ordinary
candidates, and put the effects of the coming events back. So every candidate and every selection
scheme becomes event-aware, and nothing about the effects is fixed per kind: they are learnt.

Per series, on ``log1p(y)`` (effects are multiplicative), an intervention regression::

    log1p(y_t) = trend(t) + season(month of t) + Σ_e β_e · [event e on in month t] + ε_t

with a piecewise-linear trend (a knot every 12 months, so a level that drifts over the years is
not taken for an event), 11 month dummies (two seasons of data or more) and one column per event
occurrence (one per month for a declared shock, which deepens and recovers; its effect is the mean
of its months', with the months' sampling variances averaged, their covariance left out). An
occurrence that always falls in the same calendar month as another of its name is still identified
as long as some year lacks it; one that cannot be told from the season or trend is left out (rank
check) and reported as not identifiable.

Across series the occurrence's estimates are pooled by random-effects meta-analysis (DerSimonian
and Laird): its mean effect with a 95% interval, and each series' own effect shrunk towards the mean
by how precise it is (empirical Bayes); an aggregate series (a total that a Korean incentive moves
less) is no peer of its parts and keeps its own estimate. A coming occurrence gets, per series, the
mean of that series' effects in the past occurrences of its name (or, when the name has none, of its
kind); its uncertainty adds the spread between occurrences, which widens the forecast interval in
its months.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.market.events import SCOPE, SHOCK, _key, indicators, month_label

KNOT_MONTHS = 12
MIN_DF = 6  # residual degrees of freedom a series needs for its own estimates
Z95 = 1.959964


@dataclass
class _Pooled:
    mean: float
    se: float  # standard error of the mean
    tau2: float  # variance between units (series, or occurrences)
    n: int


def pool(estimates: np.ndarray, variances: np.ndarray) -> _Pooled:
    """DerSimonian–Laird random-effects mean of ``estimates`` with sampling ``variances``."""
    b, v = np.asarray(estimates, float), np.maximum(np.asarray(variances, float), 1e-12)
    k = len(b)
    if k == 0:
        return _Pooled(math.nan, math.nan, 0.0, 0)
    w = 1 / v
    fixed = float(np.sum(w * b) / np.sum(w))
    tau2 = 0.0
    if k > 1:
        q = float(np.sum(w * (b - fixed) ** 2))
        c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
        tau2 = max(0.0, (q - (k - 1)) / c) if c > 0 else 0.0
    w = 1 / (v + tau2)
    return _Pooled(float(np.sum(w * b) / np.sum(w)), float(math.sqrt(1 / np.sum(w))), tau2, k)


def _design(months: np.ndarray, events_on: np.ndarray) -> np.ndarray:
    """Trend, season and event columns of the intervention regression (events last)."""
    n = len(months)
    t = (months - months[0]).astype(float)
    cols = [np.ones(n), t / 12]
    for knot in range(KNOT_MONTHS, n - KNOT_MONTHS + 1, KNOT_MONTHS):
        cols.append(np.maximum(t - knot, 0) / 12)
    if n >= 24:
        moy = months % 12
        for k in range(1, 12):
            cols.append((moy == k).astype(float))
    return np.column_stack([*cols, events_on]) if events_on.shape[1] else np.column_stack(cols)


def regress(y: np.ndarray, months: np.ndarray, events_on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per event column, the effect on log1p(y) and its sampling variance.

    NaN where the series cannot tell it from its trend and season, or has too few months for its own
    estimate.
    """
    n_events = events_on.shape[1]
    out_b, out_v = np.full(n_events, np.nan), np.full(n_events, np.nan)
    keep = np.flatnonzero((events_on.sum(axis=0) > 0) & (events_on.sum(axis=0) < len(y)))
    if len(keep) == 0:
        return out_b, out_v
    z = np.log1p(np.maximum(np.asarray(y, float), 0))
    base = _design(months, events_on[:, :0])
    # Keep only the event columns that add to the rank: the others cannot be told apart.
    cols, rank = [], np.linalg.matrix_rank(base)
    for j in keep:
        trial = np.column_stack([base, events_on[:, cols + [j]]])
        r = np.linalg.matrix_rank(trial)
        if r > rank:
            cols.append(j)
            rank = r
    if not cols:
        return out_b, out_v
    X = np.column_stack([base, events_on[:, cols]])
    df = len(z) - X.shape[1]
    if df < MIN_DF:
        return out_b, out_v
    coef, *_ = np.linalg.lstsq(X, z, rcond=None)
    resid = z - X @ coef
    sigma2 = float(resid @ resid) / df
    cov = sigma2 * np.linalg.pinv(X.T @ X)
    k = base.shape[1]
    out_b[cols] = coef[k:]
    out_v[cols] = np.maximum(np.diag(cov)[k:], 1e-12)
    return out_b, out_v


@dataclass
class EventEffects:
    """Effects of the events as known at one month (``cutoff``): learnt from the months up to it.

    ``series_``: (series, event) → (effect on log1p(y), its variance) for every event with months up
    to the cutoff; ``events_``: one row per event with its pooled effect and 95% interval in percent.
    :meth:`log_effect` answers for any event, also one that starts after the cutoff.
    """

    events: pd.DataFrame
    cutoff: int
    series_: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    pooled_: dict[int, _Pooled] = field(default_factory=dict)
    coming_: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    # (series, shock) → {month number: effect}: a shock's history is adjusted month by month.
    monthly_: dict[tuple[str, int], dict[int, float]] = field(default_factory=dict)

    def fit(
        self,
        series: dict[str, tuple[np.ndarray, np.ndarray]],
        covering: dict[str, np.ndarray],
        aggregates: frozenset[str] = frozenset(),
    ) -> EventEffects:
        """Learn the effects from the months up to the cutoff.

        ``series``: id → (month numbers, values), never negative; ``covering``: id → the rows of
        the events that cover it; ``aggregates``: the series that sum others (a market total), which
        keep their own estimate: an event moves them by a share of what it moves their parts, so
        they are not exchangeable with them in the pooling.

        A declared ``shock`` gets one column per month in the regression (as X-13's sequence of
        additive outliers): a one-off shock deepens and recovers, and one average effect would leave
        a dip and an overshoot in the adjusted history. Its months are thereby left out of the trend
        and season, its history is adjusted month by month, and its reported effect is the mean of
        its months' effects.
        """
        raw: dict[int, list[tuple[str, float, float]]] = {}
        kinds = self.events["kind"].to_numpy()
        for uid, which in covering.items():
            months, y = series[uid]
            past = months <= self.cutoff
            started = which[self.events["first"].to_numpy()[which] <= self.cutoff] if len(which) else which
            if past.sum() < 3 or len(started) == 0:
                continue
            columns, owner = [], []
            for e in started:
                on = indicators(self.events, np.array([e]), months[past])[:, 0]
                if kinds[e] == SHOCK and on.sum() > 1:
                    for i in np.flatnonzero(on):
                        column = np.zeros(len(on))
                        column[i] = 1.0
                        columns.append(column)
                        owner.append(int(e))
                else:
                    columns.append(on)
                    owner.append(int(e))
            b, v = regress(y[past], months[past], np.column_stack(columns))
            owner_arr = np.array(owner)
            past_months = months[past]
            for e in started:
                cols = np.flatnonzero(owner_arr == e)
                ok = cols[np.isfinite(b[cols])]
                if len(ok) == 0:
                    continue
                if len(cols) > 1:  # a shock: its months' effects, and their mean
                    on_months = past_months[[int(np.argmax(columns[c])) for c in ok]]
                    self.monthly_[uid, int(e)] = dict(zip(on_months.tolist(), b[ok].tolist(), strict=True))
                raw.setdefault(int(e), []).append((uid, float(np.mean(b[ok])), float(np.mean(v[ok]) / len(ok))))
        for e, rows in raw.items():
            peers = [r for r in rows if r[0] not in aggregates] or rows
            p = pool(np.array([r[1] for r in peers]), np.array([r[2] for r in peers]))
            self.pooled_[e] = p
            for uid, b, v in rows:
                if uid in aggregates and len(peers) < len(rows):
                    self.series_[uid, e] = (b, v)
                elif p.tau2 > 0:
                    prec = 1 / v + 1 / p.tau2
                    self.series_[uid, e] = ((b / v + p.mean / p.tau2) / prec, 1 / prec + p.se**2)
                else:
                    self.series_[uid, e] = (p.mean, p.se**2)
        return self

    # ---------------------------------------------------------------- coming occurrences
    def _sources(self, e: int) -> list[int]:
        """The learnt occurrences a coming event ``e`` borrows its effect from: its name's, else its kind's."""
        ev = self.events
        learnt = [i for i in self.pooled_ if i != e and ev.at[i, "first"] < ev.at[e, "first"]]
        same_name = [i for i in learnt if _key(ev.at[i, "name"]) == _key(ev.at[e, "name"])]
        return same_name or [i for i in learnt if ev.at[i, "kind"] == ev.at[e, "kind"]]

    def source(self, e: int) -> str:
        """Where the effect of event ``e`` comes from: ``own``, ``name``, ``kind`` or ``none``.

        ``own``: it started by the cutoff; ``name``/``kind``: the past occurrences of its name or kind.
        """
        if e in self.pooled_:
            return "own"
        sources = self._sources(e)
        if not sources:
            return "none"
        return "name" if _key(self.events.at[sources[0], "name"]) == _key(self.events.at[e, "name"]) else "kind"

    def group(self, e: int) -> _Pooled | None:
        """The effect a new occurrence of ``e``'s name (or kind) is expected to have.

        The pooled mean of the past occurrences, with the spread between them.
        """
        sources = self._sources(e)
        if not sources:
            return None
        return pool(
            np.array([self.pooled_[i].mean for i in sources]), np.array([self.pooled_[i].se ** 2 for i in sources])
        )

    def log_effect(self, uid: str, e: int) -> tuple[float, float]:
        """Effect of event ``e`` on series ``uid`` (on log1p(y)) and its standard deviation.

        (0, 0) when nothing can be learnt for it.
        """
        if (uid, e) in self.series_:
            b, v = self.series_[uid, e]
            return b, math.sqrt(v)
        if e in self.pooled_:  # a series too short for its own estimate: the occurrence's mean
            p = self.pooled_[e]
            return p.mean, math.sqrt(p.se**2 + p.tau2)
        if (uid, e) in self.coming_:
            return self.coming_[uid, e]
        sources = self._sources(e)
        if not sources:
            self.coming_[uid, e] = (0.0, 0.0)
            return self.coming_[uid, e]
        g = pool(
            np.array([self.pooled_[i].mean for i in sources]), np.array([self.pooled_[i].se ** 2 for i in sources])
        )
        own = [self.series_[uid, i] for i in sources if (uid, i) in self.series_]
        # The series' own mean over the past occurrences (its scale: an aggregate moves less), with
        # the spread between occurrences that a new one may differ by.
        mean = float(np.mean([b for b, _ in own])) if own else g.mean
        var = (float(np.mean([v for _, v in own])) / len(own) if own else g.se**2) + g.tau2
        self.coming_[uid, e] = (mean, math.sqrt(var))
        return self.coming_[uid, e]

    # ---------------------------------------------------------------- applying them
    def adjust(self, uid: str, which: np.ndarray, months: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``y`` with the learnt effects of its past events taken out (on log1p scale).

        A shock's months by their own effects (its mean where a month has none).
        """
        if len(which) == 0:
            return y
        on = indicators(self.events, which, months)
        shift = np.zeros(len(months))
        for j, e in enumerate(which):
            mean = self.log_effect(uid, int(e))[0]
            monthly = self.monthly_.get((uid, int(e)), {})
            effect = np.array([monthly.get(int(m), mean) for m in months]) if monthly else mean
            shift += on[:, j] * effect
        if not np.any(shift):
            return y
        return np.expm1(np.log1p(np.maximum(y, 0)) - shift)

    def uplift(self, uid: str, which: np.ndarray, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For future ``months``, the log1p shift the events put on the forecast, and its sd.

        Both are 0 where no event is on.
        """
        if len(which) == 0:
            return np.zeros(len(months)), np.zeros(len(months))
        on = indicators(self.events, which, months)
        effects = [self.log_effect(uid, int(e)) for e in which]
        shift = on @ np.array([b for b, _ in effects])
        sd = np.sqrt(on @ np.array([s**2 for _, s in effects]))
        return shift, sd

    # ---------------------------------------------------------------- report
    def table(self, horizon_end: int | None = None) -> pd.DataFrame:
        """One row per event up to ``horizon_end``: what was learnt or applied, in percent.

        ``status``: ``learnt`` (a past occurrence, its pooled effect over the series it covers),
        ``applied`` (a coming one, with the effect of its name's or kind's past occurrences),
        ``not identifiable`` (the series could not tell it from their trend and season) or ``no past
        occurrence`` (nothing to learn a coming event's effect from: not applied).
        """
        rows = []
        for e, ev in self.events.iterrows():
            if horizon_end is not None and ev["first"] > horizon_end:
                continue
            row = {
                "name": ev["name"],
                "kind": ev["kind"],
                "start": month_label(ev["first"]),
                "end": month_label(ev["last"]),
                **{c: ev[c] for c in SCOPE},
            }
            if e in self.pooled_:
                p, status, source = self.pooled_[e], "learnt", "own"
                spread = p.se
            elif ev["first"] <= self.cutoff:
                p, status, source, spread = None, "not identifiable", "", math.nan
            else:
                p = self.group(int(e))
                status = "applied" if p is not None else "no past occurrence"
                source = self.source(int(e)) if p is not None else ""
                spread = math.sqrt(p.se**2 + p.tau2) if p is not None else math.nan
            if p is not None:
                row |= {
                    "effect_pct": 100 * math.expm1(p.mean),
                    "lo_pct": 100 * math.expm1(p.mean - Z95 * spread),
                    "hi_pct": 100 * math.expm1(p.mean + Z95 * spread),
                    "n_series": p.n if status == "learnt" else int(sum(1 for (_, i) in self.series_ if i == e)),
                }
            else:
                row |= {"effect_pct": math.nan, "lo_pct": math.nan, "hi_pct": math.nan, "n_series": 0}
            rows.append(row | {"status": status, "source": source, "shock": ev["kind"] == SHOCK})
        columns = ["name", "kind", "start", "end", *SCOPE, "status", "source", "effect_pct", "lo_pct", "hi_pct",
                   "n_series", "shock"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)
