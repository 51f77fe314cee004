"""The tables marketing teams read a response model by.

Deciles (grades 1–10) with lift and cumulative gain, the grade to stop contacting at for the best
expected profit, and calibration (reliability bins and expected calibration error); plus AUROC with a
confidence interval so thin results say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics

DECILE_COLUMNS = [
    "decile",
    "customers",
    "positives",
    "rate",
    "lift",
    "cum_customers",
    "cum_positives",
    "cum_rate",
    "cum_lift",
    "cum_gain",
]


def decile_ranks(score, n_groups: int = 10) -> np.ndarray:
    """The group (1..``n_groups``) of each score; group 1 = the highest scores.

    Groups have sizes differing by at most one; ties in score are broken by position, so the table
    always has ``n_groups`` groups of (nearly) equal size.
    """
    score = np.asarray(score, dtype="float64")
    n = len(score)
    order = np.argsort(-score, kind="stable")
    groups = np.empty(n, dtype="int64")
    groups[order] = np.arange(n) * n_groups // max(n, 1) + 1
    return groups


def decile_table(y_true, score, n_groups: int = 10, expected=None) -> pd.DataFrame:
    """Deciles by descending score, with lift and cumulative gain.

    Customers, positives, rate, lift (rate ÷ overall rate), and the cumulative
    customers/positives/rate/lift/gain (share of all positives captured down to this grade).
    ``expected`` (calibrated probabilities) adds the expected number of positives per decile.
    """
    y = np.asarray(y_true, dtype="float64")
    groups = decile_ranks(score, n_groups)
    frame = pd.DataFrame({"decile": groups, "y": y})
    if expected is not None:
        frame["p"] = np.asarray(expected, dtype="float64")
    agg = frame.groupby("decile").agg(customers=("y", "size"), positives=("y", "sum"))
    if expected is not None:
        agg["expected_positives"] = frame.groupby("decile")["p"].sum()
    agg = agg.reindex(range(1, n_groups + 1), fill_value=0)
    total_pos = float(agg.positives.sum())
    overall = total_pos / max(float(agg.customers.sum()), 1.0)
    agg["rate"] = agg.positives / agg.customers.where(agg.customers > 0)
    agg["lift"] = agg.rate / overall if overall > 0 else np.nan
    agg["cum_customers"] = agg.customers.cumsum()
    agg["cum_positives"] = agg.positives.cumsum()
    agg["cum_rate"] = agg.cum_positives / agg.cum_customers.where(agg.cum_customers > 0)
    agg["cum_lift"] = agg.cum_rate / overall if overall > 0 else np.nan
    agg["cum_gain"] = agg.cum_positives / total_pos if total_pos > 0 else np.nan
    out = agg.reset_index()
    out["customers"] = out.customers.astype("int64")
    out["positives"] = out.positives.astype("int64")
    cols = DECILE_COLUMNS + (["expected_positives"] if expected is not None else [])
    return out[cols]


def profit_table(
    deciles: pd.DataFrame, *, margin: float, contact_cost: float, responders: str = "positives"
) -> pd.DataFrame:
    """Expected profit of contacting grades 1..k, for each k.

    Profit is margin × responders − contact cost × contacted (cumulative). ``responders`` names the
    column to count (observed ``positives`` on a holdout, or ``expected_positives`` from calibrated
    scores).
    """
    out = deciles[["decile", "customers", responders]].copy()
    out["contacted"] = out.customers.cumsum()
    out["responders"] = out[responders].cumsum()
    out["revenue"] = margin * out.responders
    out["cost"] = contact_cost * out.contacted
    out["profit"] = out.revenue - out.cost
    out["roi"] = out.profit / out.cost.where(out.cost > 0)
    return out[["decile", "contacted", "responders", "revenue", "cost", "profit", "roi"]]


def best_grade(deciles: pd.DataFrame, *, margin: float, contact_cost: float, responders: str = "positives") -> int:
    """The grade k (contact grades 1..k) with the highest expected profit; 0 when no grade pays."""
    table = profit_table(deciles, margin=margin, contact_cost=contact_cost, responders=responders)
    best = table.loc[table.profit.idxmax()]
    return int(best.decile) if best.profit > 0 else 0


def reliability_table(y_true, prob, n_bins: int = 10) -> pd.DataFrame:
    """Equal-width probability bins: customers, mean predicted probability and observed rate."""
    y = np.asarray(y_true, dtype="float64")
    p = np.clip(np.asarray(prob, dtype="float64"), 0, 1)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "y": y, "p": p})
    agg = frame.groupby("bin").agg(customers=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
    agg = agg.reindex(range(n_bins))
    agg["customers"] = agg.customers.fillna(0).astype("int64")
    agg["lower"] = np.arange(n_bins) / n_bins
    agg["upper"] = (np.arange(n_bins) + 1) / n_bins
    return agg.reset_index()[["bin", "lower", "upper", "customers", "mean_predicted", "observed_rate"]]


def expected_calibration_error(y_true, prob, n_bins: int = 10) -> float:
    """ECE: the customer-weighted mean gap between predicted and observed rates over equal-width bins."""
    table = reliability_table(y_true, prob, n_bins)
    used = table[table.customers > 0]
    n = used.customers.sum()
    if n == 0:
        return float("nan")
    return float(np.sum(used.customers / n * np.abs(used.mean_predicted - used.observed_rate)))


def auroc_with_ci(y_true, score, level: float = 0.95) -> tuple[float, float, float]:
    """AUROC and a Hanley–McNeil confidence interval (wide when positives or negatives are few)."""
    y = np.asarray(y_true).astype(int)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan"), float("nan")
    auc = float(metrics.roc_auc_score(y, score))
    q1 = auc / (2 - auc)
    q2 = 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(max(var, 0.0))
    return auc, max(0.0, auc - half), min(1.0, auc + half)


def auroc_difference_se(y_true, score_a, score_b) -> float:
    """Standard error of AUROC(a) − AUROC(b) on the same rows (DeLong, DeLong & Clarke-Pearson 1988).

    The paired variance from each row's placement values, which a bootstrap over rows approximates;
    exact in O(n log n) and without random draws. NaN with fewer than two rows of either class.

    Parameters
    ----------
    y_true : array-like of 0/1
    score_a, score_b : array-like
        Two rankings of the same rows.

    Returns
    -------
    float
    """
    y = np.asarray(y_true).astype(bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        return float("nan")

    def placements(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        overall = stats.rankdata(score)
        # A positive's share of negatives ranked below it (ties count half), and a negative's share of
        # positives ranked above it.
        pos = (overall[y] - stats.rankdata(score[y])) / n
        neg = 1.0 - (overall[~y] - stats.rankdata(score[~y])) / m
        return pos, neg

    pos_a, neg_a = placements(np.asarray(score_a, dtype="float64"))
    pos_b, neg_b = placements(np.asarray(score_b, dtype="float64"))
    var = np.var(pos_a - pos_b, ddof=1) / m + np.var(neg_a - neg_b, ddof=1) / n
    return float(np.sqrt(max(var, 0.0)))


def classification_metrics(y_true, score, prob) -> dict:
    """AUROC (with CI) and PR-AUC from the ranking score; Brier and ECE from calibrated probabilities."""
    y = np.asarray(y_true).astype(int)
    auc, lo, hi = auroc_with_ci(y, score)
    both = 0 < y.sum() < len(y)
    return {
        "auroc": auc,
        "auroc_lo": lo,
        "auroc_hi": hi,
        "pr_auc": float(metrics.average_precision_score(y, score)) if both else float("nan"),
        "brier": float(metrics.brier_score_loss(y, prob)) if len(y) else float("nan"),
        "ece": expected_calibration_error(y, prob),
        "n": int(len(y)),
        "positives": int(y.sum()),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
    }
