"""How the backtest turns into a forecast: the selection scheme, chosen by the data.

Three schemes are scored on the same rolling-origin backtest windows, per class of series:

* ``combination``: every series gets the fixed mean of ETS, Theta and CES (:mod:`.model_sets`);
* ``pooled``: candidates are ranked by their mean backtest error over all series of the class, and
  every series gets the mean of the best ``combine_top`` that beat the class's naive baseline;
* ``series``: each series gets its own best candidate (the combination is one of them).

A scheme's score must not come from the months it chose on (per-series choice always wins there),
so each is scored as a planner would use it: the choice is made on the backtest errors of the months
up to a date (the end of the earliest window's months), and judged on the newest window's months
after that date. (Leaving one window out instead, the windows overlap and share their errors'
streaks: on held-out months it promised per-series choice a 5–17% gain that turned into a 3–5% loss.)
One judgement on part of one window is noisy, so the combination stays unless another scheme is
clearly better: its mean error at least ``MARGIN`` (3%) lower, in a paired comparison over at least
``MIN_SERIES`` series with a t-statistic of at least 2. The order of preference is combination,
pooled, series: each must clearly beat the one before it to be chosen. Nothing here depends on
whether the series are related: related series make the pooled ranking reliable and it wins by the
same test; unrelated ones rarely share a best model and it does not.

The intervals are calibrated on the backtest errors of the chosen forecasts
(:mod:`carsight.market.intervals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carsight.errors import InputError
from carsight.market.backtest import window_scores
from carsight.market.series import DS, ID

SCHEMES = ("combination", "pooled", "series")
SELECT = ("auto", *SCHEMES)
COMBINATION = "Combination"
MARGIN = 0.03
MIN_T = 2.0
MIN_SERIES = 10


def combo_name(members: list[str]) -> str:
    """The name a mean of several candidates is reported under: ``Combo(AutoETS+AutoTheta+AutoCES)``."""
    return members[0] if len(members) == 1 else "Combo(" + "+".join(members) + ")"


@dataclass
class ClassChoice:
    """The outcome of :func:`choose` for one class of series."""

    scheme: str
    members: dict[str, list[str]]  # series -> the candidates whose mean is its forecast
    yhat: np.ndarray  # per backtest row: the scheme's forecast, chosen without that row's window
    scores: pd.DataFrame  # per series, window and candidate (and the chosen mean): errors
    report: pd.DataFrame  # per scheme: out-of-sample MASE and sMAPE, and whether it was chosen


def choose(
    cv: pd.DataFrame,
    candidates: list[str],
    combination: list[str],
    baseline: str,
    metric: str,
    select: str = "auto",
    combine_top: int = 2,
) -> ClassChoice:
    """Choose the scheme and each series' members from the backtest rows ``cv`` of one class.

    ``cv`` has ``unique_id, window, cutoff, y, scale``, a ``weight`` per row (0 leaves a row out of
    every score) and a forecast column per candidate; every series has the same windows. ``metric``
    is the score column the choice minimises (``mase``; ``rmse_scaled`` for intermittent demand).
    """
    if select not in SELECT:
        raise InputError(f"unknown selection '{select}'", column="select", expected=", ".join(SELECT))
    candidates = [c for c in candidates if c in cv.columns]
    members_combo = [c for c in combination if c in candidates] or [baseline]
    cv = cv.assign(**{COMBINATION: cv[members_combo].to_numpy(float).mean(axis=1)})
    columns = [COMBINATION, *candidates]
    # Rows of weight 0 (months of a declared shock) are left out of every score.
    scored = cv[cv["weight"].to_numpy() > 0] if "weight" in cv else cv
    scores = window_scores(scored, columns)
    uids = list(dict.fromkeys(cv[ID]))
    windows = sorted(cv["window"].unique())
    table = _arrays(scores, uids, windows, columns, metric)
    weight = _weights(cv, uids, windows)

    def pooled(tbl: dict[str, np.ndarray], wts: np.ndarray) -> list[str]:
        reference = np.isfinite(_row_means(tbl[COMBINATION], wts))
        means = {c: _mean_over_series(tbl[c], wts, reference) for c in candidates}
        base = means.get(baseline, math.inf)
        ranked = sorted((v, i, c) for i, (c, v) in enumerate(means.items()) if np.isfinite(v) and v < base)
        return [c for _, _, c in ranked[:combine_top]] or [baseline]

    def per_series(tbl: dict[str, np.ndarray], wts: np.ndarray) -> np.ndarray:
        stack = np.stack([_row_means(tbl[c], wts) for c in columns])
        return np.argmin(np.where(np.isfinite(stack), stack, np.inf), axis=0)  # ties: the combination

    # Out of sample, as a planner would use a choice: made on the errors of the months up to a date,
    # judged on the newest window's months after it. The date is the end of the earliest window's
    # months (or the newest origin, when windows do not overlap), so no judged month picked a model.
    per_uid = {s: np.full(len(uids), np.nan) for s in SCHEMES}
    per_uid_smape = {s: np.full(len(uids), np.nan) for s in SCHEMES}
    judged_months = 0
    if len(windows) > 1:
        row_window = pd.Index(windows).get_indexer(cv["window"])
        split = np.maximum(
            cv[ID].map(cv[row_window == 0].groupby(ID)[DS].max()).to_numpy(),
            cv[ID].map(cv[row_window == len(windows) - 1].groupby(ID)["cutoff"].max()).to_numpy(),
        )
        before = cv[DS].to_numpy() <= split
        usable = cv["weight"].to_numpy() > 0 if "weight" in cv else np.ones(len(cv), dtype=bool)
        fit_rows = cv[(row_window < len(windows) - 1) & before & usable]
        judged = cv[(row_window == len(windows) - 1) & ~before & usable]
        judged_months = int(judged.groupby(ID).size().median()) if len(judged) else 0
        train_table = _arrays(window_scores(fit_rows, columns), uids, windows, columns, metric)
        train_weight = _weights(fit_rows, uids, windows)
        picks = per_series(train_table, train_weight)
        judged_uid = pd.Index(uids).get_indexer(judged[ID])
        forecasts = {
            "combination": judged[COMBINATION].to_numpy(float),
            "pooled": judged[pooled(train_table, train_weight)].to_numpy(float).mean(axis=1),
            "series": judged[columns].to_numpy(float)[np.arange(len(judged)), picks[judged_uid]],
        }
        judged = judged.assign(**{f"_{k}": v for k, v in forecasts.items()})
        judged_scores = window_scores(judged, [f"_{k}" for k in forecasts])
        last = [windows[-1]]
        for k in SCHEMES:
            per_uid[k] = _arrays(judged_scores, uids, last, [f"_{k}"], metric)[f"_{k}"][:, 0]
            per_uid_smape[k] = _arrays(judged_scores, uids, last, [f"_{k}"], "smape")[f"_{k}"][:, 0]
    scheme = select
    if select == "auto":
        scheme = "combination"
        for challenger in ("pooled", "series"):
            if _clearly_better(per_uid[challenger], per_uid[scheme]):
                scheme = challenger

    # The forecast: the chosen scheme's members, chosen on all windows.
    if scheme == "combination":
        members = dict.fromkeys(uids, members_combo)
    elif scheme == "pooled":
        members = dict.fromkeys(uids, pooled(table, weight))
    else:
        picks = per_series(table, weight)
        members = {
            u: members_combo if columns[k] == COMBINATION else [columns[k]] for u, k in zip(uids, picks, strict=True)
        }
    yhat = _mean_of_members(cv, members)
    scores = _name_combinations(scores, scored, members, members_combo)
    report = _report(per_uid, per_uid_smape, scheme, len(windows), judged_months)
    report.insert(1, "metric", metric)
    return ClassChoice(scheme, members, yhat, scores, report)


def _arrays(scores, uids, windows, columns, value) -> dict[str, np.ndarray]:
    """Score ``value`` as a (series × window) array per model."""
    wide = scores.pivot_table(index=[ID, "window"], columns="model_name", values=value, dropna=False)
    index = pd.MultiIndex.from_product([uids, windows], names=[ID, "window"])
    wide = wide.reindex(index=index)
    return {
        c: (wide[c].to_numpy(float) if c in wide else np.full(len(index), np.nan)).reshape(len(uids), len(windows))
        for c in columns
    }


def _weights(cv: pd.DataFrame, uids, windows) -> np.ndarray:
    """Weight of each series' window: the mean of its rows' weights.

    1 unless a window is declared a shock and left out.
    """
    w = cv.groupby([ID, "window"])["weight"].mean()
    index = pd.MultiIndex.from_product([uids, windows], names=[ID, "window"])
    return w.reindex(index).fillna(0.0).to_numpy(float).reshape(len(uids), len(windows))


def _row_means(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    w = np.where(np.isfinite(values), weight, 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(np.where(w > 0, values, 0.0) * w, axis=1) / total, np.nan)


def _mean_over_series(values: np.ndarray, weight: np.ndarray, reference: np.ndarray) -> float:
    """Mean over the ``reference`` series of each one's mean over windows.

    A long series does not count more. Infinite when the model has no score for one of them (a log
    model on a series that was negative).
    """
    means = _row_means(values, weight)[reference]
    return float(np.mean(means)) if len(means) and np.isfinite(means).all() else math.inf


def _clearly_better(challenger: np.ndarray, current: np.ndarray) -> bool:
    ok = np.isfinite(challenger) & np.isfinite(current)
    n = int(ok.sum())
    if n < MIN_SERIES:
        return False
    a, b = challenger[ok], current[ok]
    if not b.mean() > 0 or a.mean() > (1 - MARGIN) * b.mean():
        return False
    d = b - a
    sd = d.std(ddof=1)
    return bool(sd == 0 or d.mean() / (sd / math.sqrt(n)) >= MIN_T)


def _mean_of_members(cv: pd.DataFrame, members: dict[str, list[str]]) -> np.ndarray:
    out = np.full(len(cv), np.nan)
    for uid, rows in cv.groupby(ID, sort=False).indices.items():
        out[rows] = cv[members[uid]].to_numpy(float)[rows].mean(axis=1)
    return out


def _name_combinations(scores, cv, members, members_combo) -> pd.DataFrame:
    """Name the combination by its members, and add the scores of any other mean the choice uses.

    The other means are the pooled top-k ones, so every chosen forecast has its own rows in the
    backtest table.
    """
    scores = scores.assign(model_name=scores["model_name"].replace({COMBINATION: combo_name(members_combo)}))
    extra = {tuple(m) for m in members.values() if len(m) > 1 and list(m) != list(members_combo)}
    for combo in extra:
        name = combo_name(list(combo))
        uids = [u for u, m in members.items() if tuple(m) == combo]
        part = cv[cv[ID].isin(uids)]
        part = part.assign(**{name: part[list(combo)].to_numpy(float).mean(axis=1)})
        scores = pd.concat([scores, window_scores(part, [name])], ignore_index=True)
    return scores


def _report(mase: dict, smape: dict, chosen: str, n_windows: int, months: int) -> pd.DataFrame:
    base = np.nanmean(mase["combination"]) if np.isfinite(mase["combination"]).any() else math.nan
    rows = []
    for s in SCHEMES:
        m = float(np.nanmean(mase[s])) if np.isfinite(mase[s]).any() else math.nan
        rows.append(
            {
                "scheme": s,
                "n_series": int(np.isfinite(mase[s]).sum()),
                "n_windows": n_windows,
                "judged_months": months,
                "score": m,
                "smape": float(np.nanmean(smape[s])) if np.isfinite(smape[s]).any() else math.nan,
                "vs_combination_pct": 100 * (m / base - 1) if base and np.isfinite(m) else math.nan,
                "chosen": s == chosen,
            }
        )
    return pd.DataFrame(rows)
