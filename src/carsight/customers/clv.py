"""Customer lifetime value from a transaction log, part 1: the summary and the two probability models.

The per-customer summary and the two probability models of the "buy till you die" family, BG/NBD (how
many purchases, is the customer still "alive") and Gamma-Gamma (how much per purchase).

Why our own BG/NBD and Gamma-Gamma: ``lifetimes`` is archived and breaks on current pandas, and
pymc-marketing pulls in PyMC for what is a four-parameter maximum-likelihood fit. The likelihoods are
in closed form (Fader, Hardie & Lee 2005, "Counting your customers the easy way"; Fader & Hardie 2013,
"The Gamma-Gamma model of monetary value"), so we fit them with ``scipy.optimize`` on log-parameters
(positivity for free), with ``gammaln``/``hyp2f1`` for numerical stability. The fit agrees with
``lifetimes`` on the CDNOW master log to five digits (tests/customers/test_clv.py).

The **calibration end is inclusive**: transactions on that day belong to the calibration period, and
a customer whose only purchase is on that day has ``T = 0``. Time is measured in weeks inside the
BG/NBD (the scale of the published results).

Which model's numbers a user gets is decided per data set by a backtest: see
:mod:`carsight.customers.clv_select`; the data-driven alternative is :mod:`carsight.customers.clv_hurdle`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.base import BaseEstimator

from carsight.errors import DataTooThinError, InputError

DAYS_PER_WEEK = 7.0
NO_POSITIVE_AMOUNT = "no purchase with a positive amount: value unknown"


# ---------------------------------------------------------------------------------------------
# Summary statistics
# ---------------------------------------------------------------------------------------------
def daily_occasions(transactions: pd.DataFrame, calibration_end) -> pd.DataFrame:
    """Purchase occasions up to and including ``calibration_end``.

    One row per customer and day with the day's summed ``amount``. Days whose amounts sum to zero or
    less (refunds) are not occasions, unless a customer has no positive day at all; then every day of
    theirs counts, so that no customer drops out, and their value stays unknown (``positive`` is False).
    """
    end = pd.Timestamp(calibration_end).normalize()
    tx = transactions[["customer_id", "date", "amount"]].copy()
    tx["date"] = pd.to_datetime(tx["date"]).dt.normalize()
    tx = tx[tx["date"] <= end]
    daily = tx.groupby(["customer_id", "date"], sort=True, observed=True)["amount"].sum(min_count=1).reset_index()
    daily["positive"] = daily["amount"] > 0
    any_positive = daily.groupby("customer_id", observed=True)["positive"].transform("any")
    return daily[daily["positive"] | ~any_positive].reset_index(drop=True)


def summarise_transactions(transactions: pd.DataFrame, calibration_end) -> pd.DataFrame:
    """The per-customer summary the models learn from, up to and including ``calibration_end``.

    One row per customer with a purchase on or before ``calibration_end`` (inclusive): ``frequency``
    (repeat purchase days), ``recency``/``T`` in weeks (first purchase → last purchase / → calibration
    end), ``monetary_value`` (mean value of the repeat occasions, as the Gamma-Gamma model expects),
    ``first_value``, ``mean_value`` (mean over all positive occasions), ``n_purchases``, ``first_date``,
    ``last_date`` and ``value_note`` (why a customer's value is unknown). Several purchases on one day
    are one purchase occasion.

    ``transactions`` has columns ``customer_id``, ``date`` and ``amount``.
    """
    end = pd.Timestamp(calibration_end).normalize()
    daily = daily_occasions(transactions, end)
    first = daily.groupby("customer_id", observed=True)["date"].transform("min")
    daily["_repeat"] = daily["date"] > first
    grouped = daily.groupby("customer_id", observed=True)
    out = pd.DataFrame(
        {
            "first_date": grouped["date"].min(),
            "last_date": grouped["date"].max(),
            "n_purchases": grouped["date"].size(),
        }
    )
    valued = daily[daily["positive"]]
    repeats = valued[valued["_repeat"]].groupby("customer_id", observed=True)["amount"].mean()
    out["frequency"] = out["n_purchases"] - 1
    out["recency"] = (out["last_date"] - out["first_date"]).dt.days / DAYS_PER_WEEK
    out["T"] = (end - out["first_date"]).dt.days / DAYS_PER_WEEK
    out["monetary_value"] = repeats.reindex(out.index)
    out["first_value"] = valued[~valued["_repeat"]].set_index("customer_id")["amount"].reindex(out.index)
    out["mean_value"] = valued.groupby("customer_id", observed=True)["amount"].mean().reindex(out.index)
    out["value_note"] = np.where(out["mean_value"].notna(), None, NO_POSITIVE_AMOUNT)
    out.index.name = "customer_id"
    return out.reset_index()


def _rfm_arrays(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = [c for c in ("frequency", "recency", "T") if c not in X.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", expected="frequency, recency and T (weeks)")
    return tuple(np.asarray(X[c], dtype="float64") for c in ("frequency", "recency", "T"))


# ---------------------------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------------------------
def _bgnbd_loglik(
    params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    w: np.ndarray,
    frequency_codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """The weighted BG/NBD log-likelihood.

    ``frequency_codes`` (the distinct frequencies and each row's position among them) lets the
    terms that depend on the frequency alone be computed once per distinct value: purchase counts
    take a handful of values, so most of the log-gamma calls go.
    """
    r, alpha, a, b = params
    xs, codes = frequency_codes if frequency_codes is not None else (x, slice(None))
    by_frequency = (
        special.gammaln(r + xs)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + xs)
        - special.gammaln(b)
        - special.gammaln(a + b + xs)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        repeat_term = np.log(a) - np.log(np.maximum(b + xs - 1, 1e-12))
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, repeat_term[codes] - (r + x) * np.log(alpha + t_x), -np.inf)
    return float(np.sum(w * (by_frequency[codes] + np.logaddexp(a3, a4))))


def _distinct_histories(
    x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Customers with the same (frequency, recency, T) merged into one row weighted by their count.

    The likelihood is the same sum, over far fewer rows (most buyers of cars bought once).
    """
    rows = np.column_stack([x, t_x, big_t])
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    weights = np.bincount(inverse.ravel(), weights=w, minlength=len(unique))
    return unique[:, 0].copy(), unique[:, 1].copy(), unique[:, 2].copy(), weights


@dataclass
class _Fit:
    params: np.ndarray
    loglik: float
    converged: bool


def _fit_log_params(negloglik, start: np.ndarray) -> _Fit:
    """Minimise over log-parameters; Nelder-Mead polishes what L-BFGS-B leaves (flat likelihoods)."""
    first = optimize.minimize(negloglik, np.log(start), method="L-BFGS-B")
    second = optimize.minimize(
        negloglik, first.x, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 5000}
    )
    best = second if second.fun <= first.fun else first
    return _Fit(np.exp(best.x), -float(best.fun), bool(first.success or second.success))


class BetaGeoModel(BaseEstimator):
    """BG/NBD (Fader, Hardie & Lee 2005): how many purchases, and whether the customer is still alive.

    Purchases follow Poisson(λ) while alive, λ ~ Gamma(r, α); after each purchase the customer drops
    out with probability p ~ Beta(a, b).

    ``fit(X)`` takes a frame with ``frequency`` (repeat purchases), ``recency`` and ``T`` (weeks),
    as :func:`summarise_transactions` returns; the prediction methods take the same frame.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the log-parameters (0 = plain maximum likelihood, as published); a small value
        keeps the fit finite on tiny or degenerate data.
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, X: pd.DataFrame, y=None, *, sample_weight=None) -> BetaGeoModel:
        """Maximum-likelihood fit of r, α, a, b; ``sample_weight`` counts customers with equal histories."""
        x, t_x, big_t = _rfm_arrays(X)
        w = np.ones_like(x) if sample_weight is None else np.asarray(sample_weight, dtype="float64")
        if len(x) < 20:
            raise DataTooThinError(f"BG/NBD needs at least 20 customers, got {len(x)}")
        if np.any(t_x > big_t + 1e-9) or np.any(x < 0):
            raise InputError("recency must not exceed T and frequency must not be negative", expected="0 ≤ recency ≤ T")
        scale = float(np.mean(big_t)) or 1.0
        total = w.sum()
        x, t_x, big_t, w = _distinct_histories(x, t_x, big_t, w)
        distinct_x, codes = np.unique(x, return_inverse=True)
        frequency_codes = (distinct_x, codes.ravel())

        def nll(log_params: np.ndarray) -> float:
            params = np.exp(np.clip(log_params, -20, 20))
            value = -_bgnbd_loglik(params, x, t_x, big_t, w, frequency_codes) / total
            return value + self.penalizer * float(np.sum(log_params**2))

        fit = _fit_log_params(nll, np.array([1.0, scale, 1.0, 1.0]))
        self.params_ = dict(zip(("r", "alpha", "a", "b"), fit.params.tolist(), strict=True))
        self.loglik_ = fit.loglik * total
        self.converged_ = fit.converged
        self.n_customers_ = int(len(X))
        return self

    def _unpack(self):
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, X: pd.DataFrame) -> np.ndarray:
        """P(still active at T | history).

        1 for customers without repeat purchases (BG/NBD drop-out only happens right after a purchase).
        """
        r, alpha, a, b = self._unpack()
        x, t_x, big_t = _rfm_arrays(X)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * np.exp(np.minimum(log_ratio, 700)), 0.0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, X: pd.DataFrame, t: float) -> np.ndarray:
        """E[purchases in (T, T + t] | history] with ``t`` in weeks (FHL 2005, eq. 10)."""
        r, alpha, a, b = self._unpack()
        x, _, big_t = _rfm_arrays(X)
        t = np.asarray(t, dtype="float64")
        z = t / (alpha + big_t + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        term = 1.0 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp
        # The closed form holds for a < 1 too (both factors change sign); only a = 1 is singular.
        a_minus_1 = a - 1 if abs(a - 1) > 1e-9 else 1e-9
        return (a + b + x - 1) / a_minus_1 * term * self.p_alive(X)

    def p_any_purchase(self, X: pd.DataFrame, t: float) -> np.ndarray:
        """P(at least one purchase in (T, T + t] | history), ``t`` in weeks.

        Alive at T and the posterior Poisson rate, λ | alive ~ Gamma(r + x, α + T), produces at least
        one event in t.
        """
        r, alpha, _, _ = self._unpack()
        x, _, big_t = _rfm_arrays(X)
        none = ((alpha + big_t) / (alpha + big_t + np.asarray(t, dtype="float64"))) ** (r + x)
        return self.p_alive(X) * (1.0 - none)


# ---------------------------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------------------------
class GammaGammaModel(BaseEstimator):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie 2013): how much per purchase.

    Each transaction's value ~ Gamma(p, ν), ν ~ Gamma(q, γ); fitted on customers with at least one
    repeat purchase, from the number of repeat purchases ``frequency`` and their mean value
    ``monetary_value`` (columns of ``X``).

    Parameters
    ----------
    penalizer : float
        L2 penalty on the log-parameters (0 = plain maximum likelihood).
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, X: pd.DataFrame, y=None) -> GammaGammaModel:
        """Maximum-likelihood fit of p, q, γ on the repeat customers with a positive mean spend."""
        x = np.asarray(X["frequency"], dtype="float64")
        z = np.asarray(X["monetary_value"], dtype="float64")
        keep = (x > 0) & np.isfinite(z) & (z > 0)
        x, z = x[keep], z[keep]
        if len(x) < 20:
            raise DataTooThinError(f"Gamma-Gamma needs at least 20 repeat customers with positive spend, got {len(x)}")
        scale = float(np.mean(z))

        def nll(log_params: np.ndarray) -> float:
            p, q, g = np.exp(np.clip(log_params, -20, 20))
            ll = (
                special.gammaln(p * x + q)
                - special.gammaln(p * x)
                - special.gammaln(q)
                + q * np.log(g)
                + (p * x - 1) * np.log(z)
                + p * x * np.log(x)
                - (p * x + q) * np.log(g + x * z)
            )
            return -float(np.mean(ll)) + self.penalizer * float(np.sum(log_params**2))

        fit = _fit_log_params(nll, np.array([1.0, 2.0, scale]))
        self.params_ = dict(zip(("p", "q", "v"), fit.params.tolist(), strict=True))
        self.converged_ = fit.converged
        self.n_customers_ = int(len(x))
        self.mean_spend_ = float(np.mean(z))
        return self

    def expected_spend(self, X: pd.DataFrame) -> np.ndarray:
        """E[value of one future transaction | history].

        A weighted mean of the population mean and the customer's own mean; customers without repeat
        purchases get the population mean.
        """
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x = np.asarray(X["frequency"], dtype="float64")
        z = np.nan_to_num(np.asarray(X["monetary_value"], dtype="float64"), nan=0.0)
        x = np.where(z > 0, x, 0.0)
        population = p * v / (q - 1) if q > 1 else self.mean_spend_
        weight = p * x / (p * x + q - 1) if q > 1 else np.where(x > 0, 1.0, 0.0)
        return (1 - weight) * population + weight * z


def holdout_outcomes(transactions: pd.DataFrame, calibration_end, horizon_days: int) -> pd.DataFrame:
    """What actually happened in the ``horizon_days`` after ``calibration_end``, for backtests and benchmarks.

    The end day itself belongs to the calibration period. Per customer: purchase occasions (days with a
    positive or unknown amount) and value.
    """
    start = pd.Timestamp(calibration_end).normalize()
    end = start + pd.Timedelta(days=int(horizon_days))
    tx = transactions[["customer_id", "date", "amount"]].copy()
    tx["date"] = pd.to_datetime(tx["date"]).dt.normalize()
    window = tx[(tx["date"] > start) & (tx["date"] <= end)]
    daily = window.groupby(["customer_id", "date"], observed=True)["amount"].sum(min_count=1).reset_index()
    # A day counts unless it only refunds: a log without amounts counts every day.
    daily["occasion"] = ((daily["amount"] > 0) | daily["amount"].isna()).astype("int64")
    grouped = daily.groupby("customer_id", observed=True)
    out = pd.DataFrame({"actual_purchases": grouped["occasion"].sum(), "actual_value": grouped["amount"].sum()})
    return out.rename_axis("customer_id").reset_index()


# ---------------------------------------------------------------------------------------------
# BG/NBD + Gamma-Gamma as one CLV candidate
# ---------------------------------------------------------------------------------------------
class BGNBDCLV(BaseEstimator):
    """BG/NBD for purchases and Gamma-Gamma for spend, as one CLV candidate.

    It has the interface every candidate shares (:mod:`carsight.customers.clv_select`):
    ``fit(transactions, calibration_end=…)``, then ``predict(transactions)`` gives one row per customer
    with ``p_any_purchase``, ``expected_purchases`` and ``expected_value`` over the next
    ``horizon_days``.

    Without enough repeat buyers for Gamma-Gamma, spend is the customer's own mean (said in ``notes_``).

    Parameters
    ----------
    horizon_days : int
        Days ahead to predict.
    penalizer : float
        L2 penalty on the log-parameters of both models.
    """

    name = "bgnbd"

    def __init__(self, horizon_days: int = 365, penalizer: float = 0.001):
        self.horizon_days = horizon_days
        self.penalizer = penalizer

    def fit(self, X: pd.DataFrame, y=None, *, calibration_end) -> BGNBDCLV:
        """Fit both models on the customers' histories up to ``calibration_end`` (inclusive)."""
        self.calibration_end_ = pd.Timestamp(calibration_end).normalize()
        summary = summarise_transactions(X, self.calibration_end_)
        self.bgnbd_ = BetaGeoModel(penalizer=self.penalizer).fit(summary)
        self.notes_ = []
        try:
            self.gamma_gamma_ = GammaGammaModel(penalizer=self.penalizer).fit(summary)
        except DataTooThinError as exc:
            self.gamma_gamma_ = None
            self.notes_.append(f"Gamma-Gamma not fitted ({exc}); spend = the customer's own mean purchase")
        return self

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Predictions per customer with a purchase on or before the calibration end.

        Columns ``p_alive``, ``expected_purchases``, ``p_any_purchase``, ``expected_avg_value`` and
        ``expected_value`` (with ``customer_id`` and ``value_note``).
        """
        summary = summarise_transactions(X, self.calibration_end_)
        t = self.horizon_days / DAYS_PER_WEEK
        out = summary[["customer_id", "value_note"]].copy()
        out["p_alive"] = self.bgnbd_.p_alive(summary)
        out["expected_purchases"] = self.bgnbd_.expected_purchases(summary, t)
        out["p_any_purchase"] = self.bgnbd_.p_any_purchase(summary, t)
        if self.gamma_gamma_ is not None:
            spend = pd.Series(self.gamma_gamma_.expected_spend(summary), index=summary.index)
        else:
            own = summary["monetary_value"].fillna(summary["mean_value"])
            spend = own.fillna(own.mean())
        # No positive amount, no value: a model's population mean would be a guess presented as a number.
        out["expected_avg_value"] = spend.where(summary["mean_value"].notna()).to_numpy()
        out["expected_value"] = out["expected_purchases"] * out["expected_avg_value"]
        return out

    def describe(self) -> dict:
        """Fitted parameters, for printing and for the stored backtest."""
        info = {"bgnbd": self.bgnbd_.params_}
        if self.gamma_gamma_ is not None:
            info["gamma_gamma"] = self.gamma_gamma_.params_
        return info
