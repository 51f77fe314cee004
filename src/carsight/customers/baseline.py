"""The named baseline every propensity model is compared with.

Logistic regression on a hand-built design matrix (clipped, standardised numbers with missing
indicators, one-hot categories), so that each coefficient maps back to its feature and reasons can be
exact linear SHAP values.

How far it extrapolates: it learns on numbers clipped to the training's 1st–99th percentiles, and scores
numbers clipped one standard deviation beyond them. A linear trend is trusted a short way past the rows it
came from (a new cohort one year younger than any training customer keeps the tenure effect), never
indefinitely (a gift of 10,000 where training gifts ended at 300 does not dominate the score).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

# How far past the training's 1st–99th percentile range a number to score still moves the score, in
# standard deviations of the (clipped) training values.
EXTRAPOLATION_SDS = 1.0


class LogisticBaseline(BaseEstimator):
    """Logistic regression: the named baseline every propensity model is compared with.

    It learns on clipped (1st–99th percentile), standardised numbers (+ missing indicators) and one-hot
    categories. Rows to score are clipped :data:`EXTRAPOLATION_SDS` standard deviations beyond that
    range: the linear trend carries a short way past the training rows, not indefinitely. ``X`` is the
    output of :class:`carsight.customers.encoding.TableEncoder` (numbers and pandas categoricals).

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength, as in scikit-learn.
    """

    def __init__(self, C: float = 1.0):
        self.C = C

    def _design(self, X: pd.DataFrame, *, fitting: bool = False) -> np.ndarray:
        blocks = []
        reach = 0.0 if fitting else EXTRAPOLATION_SDS
        for name in self.numeric_:
            v = X[name].to_numpy(dtype="float64")
            lo, hi, med, mu, sd = self.stats_[name]
            filled = np.where(np.isnan(v), med, np.clip(v, lo - reach * sd, hi + reach * sd))
            blocks.append(((filled - mu) / sd)[:, None])
            if name in self.with_missing_:
                blocks.append(np.isnan(v).astype("float64")[:, None])
        for name in self.categorical_:
            codes = X[name].cat.codes.to_numpy()
            onehot = np.zeros((len(X), len(X[name].cat.categories)))
            ok = codes >= 0
            onehot[np.flatnonzero(ok), codes[ok]] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(X), 0))

    def fit(self, X: pd.DataFrame, y) -> LogisticBaseline:
        """Learn the clipping, scaling and one-hot layout from ``X``, then the coefficients."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        self.numeric_ = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
        self.categorical_ = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        self.stats_, self.with_missing_ = {}, set()
        for name in self.numeric_:
            v = X[name].to_numpy(dtype="float64")
            ok = v[~np.isnan(v)]
            if ok.size == 0:
                ok = np.zeros(1)
            lo, hi = np.quantile(ok, [0.01, 0.99])
            clipped = np.clip(ok, lo, hi)
            sd = float(clipped.std()) or 1.0
            self.stats_[name] = (float(lo), float(hi), float(np.median(ok)), float(clipped.mean()), sd)
            if np.isnan(v).any():
                self.with_missing_.add(name)
        # Map design columns back to features for the reasons.
        owners = []
        for name in self.numeric_:
            owners.append(name)
            if name in self.with_missing_:
                owners.append(name)
        for name in self.categorical_:
            owners.extend([name] * len(X[name].cat.categories))
        self.owners_ = np.array(owners)
        design = self._design(X, fitting=True)
        self.design_mean_ = design.mean(axis=0)
        # One BLAS thread: this problem is small, and threads fight on a shared machine.
        with threadpool_limits(1):
            self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(design, np.asarray(y))
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds per row."""
        return self.model_.decision_function(self._design(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of both classes, one row per input row (scikit-learn's layout)."""
        return self.model_.predict_proba(self._design(X))

    def contributions(self, X: pd.DataFrame, features: list[str]) -> np.ndarray:
        """Exact linear SHAP values (coefficient × deviation from the training mean), summed per feature."""
        terms = (self._design(X) - self.design_mean_) * self.model_.coef_[0]
        out = np.zeros((len(X), len(features)))
        for j, name in enumerate(features):
            mask = self.owners_ == name
            if mask.any():
                out[:, j] = terms[:, mask].sum(axis=1)
        return out
