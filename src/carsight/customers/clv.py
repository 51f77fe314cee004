"""Customer lifetime value from a transaction log: BG/NBD (how many purchases, is the customer still
"alive") with Gamma-Gamma (how much per purchase), and a LightGBM hurdle model as the data-driven
alternative (will they buy at all? × how much if they do?).

Why our own BG/NBD and Gamma-Gamma: ``lifetimes`` is archived and breaks on current pandas, and
pymc-marketing pulls in PyMC for what is a four-parameter maximum-likelihood fit. The likelihoods are
in closed form (Fader, Hardie & Lee 2005, "Counting your customers the easy way"; Fader & Hardie 2013,
"The Gamma-Gamma model of monetary value"), so we fit them with ``scipy.optimize`` on log-parameters
(positivity for free), with ``gammaln``/``hyp2f1`` for numerical stability. The fit reproduces the
published CDNOW estimates (tests/customers/test_clv.py).

Time is measured in weeks inside the BG/NBD (the scale of the published results); callers pass days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from carsight.errors import DataTooThinError, InputError

DAYS_PER_WEEK = 7.0
CLV_COLUMNS = ["customer_id", "p_alive", "expected_purchases", "p_any_purchase", "expected_value"]


# ---------------------------------------------------------------------------------------------
# Summary statistics
# ---------------------------------------------------------------------------------------------
def summarise_transactions(
    transactions: pd.DataFrame,
    calibration_end,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
) -> pd.DataFrame:
    """Per customer, from transactions strictly before ``calibration_end``: ``frequency`` (repeat
    purchase days), ``recency``/``T`` in weeks (first purchase → last purchase / → calibration end),
    ``monetary_value`` (mean of the repeat purchases, as the Gamma-Gamma model expects), plus
    ``first_date`` and ``n_purchases``. Several purchases on one day count as one purchase occasion."""
    end = pd.Timestamp(calibration_end)
    tx = transactions[[customer_col, date_col] + ([amount_col] if amount_col else [])].copy()
    tx[date_col] = pd.to_datetime(tx[date_col]).dt.normalize()
    tx = tx[tx[date_col] < end]
    if amount_col is None:
        tx["_amount"] = np.nan
        amount_col = "_amount"
    daily = tx.groupby([customer_col, date_col], sort=True, observed=True)[amount_col].sum(min_count=1).reset_index()
    daily = daily.sort_values([customer_col, date_col])
    first = daily.groupby(customer_col, observed=True)[date_col].transform("min")
    daily["_repeat"] = daily[date_col] > first
    grouped = daily.groupby(customer_col, observed=True)
    out = pd.DataFrame(
        {
            "first_date": grouped[date_col].min(),
            "last_date": grouped[date_col].max(),
            "n_purchases": grouped[date_col].size(),
        }
    )
    repeats = daily[daily["_repeat"]].groupby(customer_col, observed=True)[amount_col].mean()
    out["frequency"] = out["n_purchases"] - 1
    out["recency"] = (out["last_date"] - out["first_date"]).dt.days / DAYS_PER_WEEK
    out["T"] = (end - out["first_date"]).dt.days / DAYS_PER_WEEK
    out["monetary_value"] = repeats.reindex(out.index)
    first_amount = daily[~daily["_repeat"]].set_index(customer_col)[amount_col]
    out["first_value"] = first_amount.reindex(out.index)
    out.index.name = "customer_id"
    return out.reset_index()


# ---------------------------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------------------------
def _bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> float:
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return float(np.sum(w * (a1 + a2 + np.logaddexp(a3, a4))))


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


class BetaGeoModel:
    """BG/NBD (Fader, Hardie & Lee 2005): purchases follow Poisson(λ) while alive, λ ~ Gamma(r, α);
    after each purchase the customer drops out with probability p ~ Beta(a, b).

    Parameters
    ----------
    penalizer:
        L2 penalty on the log-parameters (0 = plain maximum likelihood, as published); a small value
        keeps the fit finite on tiny or degenerate data.
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, frequency, recency, T, weights=None) -> BetaGeoModel:
        x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype="float64")
        if len(x) < 20:
            raise DataTooThinError(f"BG/NBD needs at least 20 customers, got {len(x)}")
        if np.any(t_x > big_t + 1e-9) or np.any(x < 0):
            raise InputError("recency must not exceed T and frequency must not be negative", expected="0 ≤ recency ≤ T")
        scale = float(np.mean(big_t)) or 1.0

        def nll(log_params: np.ndarray) -> float:
            params = np.exp(np.clip(log_params, -20, 20))
            value = -_bgnbd_loglik(params, x, t_x, big_t, w) / w.sum()
            return value + self.penalizer * float(np.sum(log_params**2))

        fit = _fit_log_params(nll, np.array([1.0, scale, 1.0, 1.0]))
        self.params_ = dict(zip(("r", "alpha", "a", "b"), fit.params.tolist(), strict=True))
        self.loglik_ = fit.loglik * w.sum()
        self.converged_ = fit.converged
        self.n_customers_ = int(len(x))
        return self

    def _unpack(self):
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """P(still active at T | history); 1 for customers without repeat purchases (BG/NBD drop-out
        only happens right after a purchase)."""
        r, alpha, a, b = self._unpack()
        x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * np.exp(np.minimum(log_ratio, 700)), 0.0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """E[purchases in (T, T + t] | history] (FHL 2005, eq. 10)."""
        r, alpha, a, b = self._unpack()
        x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
        t = np.asarray(t, dtype="float64")
        z = t / (alpha + big_t + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        term = 1.0 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp
        # The closed form holds for a < 1 too (both factors change sign); only a = 1 is singular.
        a_minus_1 = a - 1 if abs(a - 1) > 1e-9 else 1e-9
        return (a + b + x - 1) / a_minus_1 * term * self.p_alive(x, t_x, big_t)

    def p_any_purchase(self, t, frequency, recency, T) -> np.ndarray:
        """P(at least one purchase in (T, T + t] | history): alive at T and the posterior Poisson rate,
        λ | alive ~ Gamma(r + x, α + T), produces at least one event in t."""
        r, alpha, _, _ = self._unpack()
        x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (frequency, recency, T))
        none = ((alpha + big_t) / (alpha + big_t + np.asarray(t, dtype="float64"))) ** (r + x)
        return self.p_alive(x, t_x, big_t) * (1.0 - none)


# ---------------------------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------------------------
class GammaGammaModel:
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Fader & Hardie 2013): each transaction's value
    ~ Gamma(p, ν), ν ~ Gamma(q, γ); fitted on customers with at least one repeat purchase, using the
    number of repeat purchases ``x`` and their mean value ``zbar``."""

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, frequency, monetary_value) -> GammaGammaModel:
        x = np.asarray(frequency, dtype="float64")
        z = np.asarray(monetary_value, dtype="float64")
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

    def expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """E[value of one future transaction | history]: a weighted mean of the population mean and the
        customer's own mean; customers without repeat purchases get the population mean."""
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x = np.asarray(frequency, dtype="float64")
        z = np.nan_to_num(np.asarray(monetary_value, dtype="float64"), nan=0.0)
        x = np.where(z > 0, x, 0.0)
        population = p * v / (q - 1) if q > 1 else self.mean_spend_
        weight = p * x / (p * x + q - 1) if q > 1 else np.where(x > 0, 1.0, 0.0)
        return (1 - weight) * population + weight * z


# ---------------------------------------------------------------------------------------------
# Putting them together
# ---------------------------------------------------------------------------------------------
def clv_bgnbd(
    transactions: pd.DataFrame,
    calibration_end,
    horizon_days: int,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    penalizer: float = 0.001,
) -> tuple[pd.DataFrame, dict]:
    """Per customer: p_alive, expected_purchases and p_any_purchase in the next ``horizon_days`` after
    ``calibration_end``, and expected_value (expected purchases × Gamma-Gamma expected spend). Returns the
    table and the fitted parameters. Without enough repeat buyers for Gamma-Gamma, spend falls back on
    the customer's own mean (said in the returned ``notes``)."""
    summary = summarise_transactions(
        transactions, calibration_end, customer_col=customer_col, date_col=date_col, amount_col=amount_col
    )
    if summary.empty:
        raise DataTooThinError(f"no transactions before {pd.Timestamp(calibration_end).date()}")
    t = horizon_days / DAYS_PER_WEEK
    bg = BetaGeoModel(penalizer=penalizer).fit(summary.frequency, summary.recency, summary["T"])
    out = summary[["customer_id", "frequency", "recency", "T"]].copy()
    out["p_alive"] = bg.p_alive(summary.frequency, summary.recency, summary["T"])
    out["expected_purchases"] = bg.expected_purchases(t, summary.frequency, summary.recency, summary["T"])
    out["p_any_purchase"] = bg.p_any_purchase(t, summary.frequency, summary.recency, summary["T"])
    info: dict = {
        "bgnbd": bg.params_,
        "customers": int(len(summary)),
        "repeat_customers": int((summary.frequency > 0).sum()),
    }
    notes = []
    try:
        gg = GammaGammaModel(penalizer=penalizer).fit(summary.frequency, summary.monetary_value)
        spend = gg.expected_spend(summary.frequency, summary.monetary_value)
        info["gamma_gamma"] = gg.params_
    except DataTooThinError as exc:
        own = summary.monetary_value.fillna(summary.first_value)
        spend = own.fillna(own.mean()).to_numpy()
        notes.append(f"Gamma-Gamma not fitted ({exc}); spend = the customer's own mean purchase")
    out["expected_avg_value"] = spend
    out["expected_value"] = out["expected_purchases"] * out["expected_avg_value"]
    out["recency_days"] = out.pop("recency") * DAYS_PER_WEEK
    out["tenure_days"] = out.pop("T") * DAYS_PER_WEEK
    info["notes"] = notes
    return out, info


class HurdleCLV:
    """Hurdle model for future spend with many zeros: a LightGBM classifier for "buys at all in the
    horizon" times a LightGBM regressor for "how much, given a purchase" (trained on buyers only).

    It learns from the past by shifting the calibration end back by one horizon, so labels are real
    observed outcomes; :meth:`predict` then applies it at the actual calibration end.
    """

    def __init__(
        self, horizon_days: int = 365, n_estimators: int = 300, learning_rate: float = 0.05, random_state: int = 0
    ):
        self.horizon_days = horizon_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.random_state = random_state

    @staticmethod
    def _features(summary: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "frequency": summary.frequency.astype(float),
                "recency_weeks": summary.recency.astype(float),
                "T_weeks": summary["T"].astype(float),
                "gap_weeks": (summary["T"] - summary.recency).astype(float),
                "mean_value": summary.monetary_value.fillna(summary.first_value).astype(float),
                "first_value": summary.first_value.astype(float),
            }
        )

    def _outcomes(self, tx, start, customers, customer_col, date_col, amount_col) -> pd.DataFrame:
        end = start + pd.Timedelta(days=self.horizon_days)
        dates = pd.to_datetime(tx[date_col])
        window = tx[(dates >= start) & (dates < end)]
        value = window.groupby(customer_col)[amount_col].sum()
        return pd.DataFrame(
            {
                "bought": value.reindex(customers).notna().astype(int).to_numpy(),
                "value": value.reindex(customers).fillna(0).to_numpy(),
            }
        )

    def fit(
        self, transactions, calibration_end, *, customer_col="customer_id", date_col="date", amount_col="amount"
    ) -> HurdleCLV:
        import lightgbm as lgb

        start = pd.Timestamp(calibration_end) - pd.Timedelta(days=self.horizon_days)
        summary = summarise_transactions(
            transactions, start, customer_col=customer_col, date_col=date_col, amount_col=amount_col
        )
        y = self._outcomes(transactions, start, summary.customer_id, customer_col, date_col, amount_col)
        if y.bought.sum() < 10 or len(y) - y.bought.sum() < 10:
            raise DataTooThinError(
                f"hurdle model: {int(y.bought.sum())} buyers of {len(y)} customers in the training horizon"
            )
        X = self._features(summary)
        common = {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "random_state": self.random_state,
            "verbose": -1,
            "n_jobs": 1,
        }
        self.classifier_ = lgb.LGBMClassifier(min_child_samples=20, **common).fit(X, y.bought)
        buyers = y.bought.to_numpy() == 1
        self.regressor_ = lgb.LGBMRegressor(min_child_samples=10, **common).fit(X[buyers], y.value[buyers])
        self.n_train_ = int(len(X))
        self.n_buyers_ = int(buyers.sum())
        return self

    def predict(
        self, transactions, calibration_end, *, customer_col="customer_id", date_col="date", amount_col="amount"
    ) -> pd.DataFrame:
        summary = summarise_transactions(
            transactions, calibration_end, customer_col=customer_col, date_col=date_col, amount_col=amount_col
        )
        X = self._features(summary)
        p_any = self.classifier_.predict_proba(X)[:, 1]
        amount = np.maximum(self.regressor_.predict(X), 0.0)
        return pd.DataFrame(
            {"customer_id": summary.customer_id, "hurdle_p_any": p_any, "hurdle_expected_value": p_any * amount}
        )


def holdout_outcomes(
    transactions, calibration_end, horizon_days, *, customer_col="customer_id", date_col="date", amount_col="amount"
) -> pd.DataFrame:
    """What actually happened in (calibration_end, calibration_end + horizon]: purchase occasions and
    value per customer, for benchmarking CLV predictions."""
    start = pd.Timestamp(calibration_end)
    end = start + pd.Timedelta(days=horizon_days)
    tx = transactions.copy()
    tx[date_col] = pd.to_datetime(tx[date_col]).dt.normalize()
    window = tx[(tx[date_col] >= start) & (tx[date_col] < end)]
    grouped = window.groupby(customer_col)
    return (
        pd.DataFrame({"actual_purchases": grouped[date_col].nunique(), "actual_value": grouped[amount_col].sum()})
        .rename_axis("customer_id")
        .reset_index()
    )
