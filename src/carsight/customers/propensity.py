"""Propensity models for any yes/no outcome on a customer table (repurchase, campaign response,
churn, or a column in a user's own CSV): LightGBM with early stopping and calibrated probabilities,
always next to a scaled one-hot logistic-regression baseline on the same split, with per-customer
reasons (SHAP contributions in words), global importance and partial dependence.

:class:`TableEncoder` turns an arbitrary table into model features (numbers, categories, dates, IDs
dropped); :class:`PropensityModel` is the estimator; :func:`train_on_table` / :func:`score_table` are
what ``carsight propensity train|score`` run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carsight.customers import deciles as D
from carsight.errors import DataTooThinError, InputError
from carsight.ingest import clean_number, parse_dates

# Below these the positive class is too rare for a tree model to learn anything stable; the model then
# falls back on the logistic baseline and says so (see docs/propensity-and-clv.md).
MIN_POSITIVES = 50
MIN_POSITIVE_RATE = 0.01
# Below this even the baseline is guesswork: refuse.
MIN_POSITIVES_AT_ALL = 10

_MISSING_TOKENS = {"", "nan", "none", "null", "na", "n/a", "<na>", "nat"}
_DATE_PATTERN = re.compile(r"^\s*(\d{4}[-./년]\s*\d{1,2}[-./월]\s*\d{1,2}|\d{8}$|\d{1,2}/\d{1,2}/\d{4})")
_TRUE = {"1", "true", "yes", "y", "t", "예", "네", "o", "responded", "positive"}
_FALSE = {"0", "false", "no", "n", "f", "아니오", "아니요", "x", "negative"}
MAX_CATEGORIES = 50
MIN_ROWS_FOR_DRIFT = 200
OTHER = "__other__"


# ---------------------------------------------------------------------------------------------
# Parsing helpers (the ingest cleaners, so files are read the same way everywhere)
# ---------------------------------------------------------------------------------------------
def _as_missing(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return text.mask(text.str.lower().isin(_MISSING_TOKENS))


def _to_number(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    return clean_number(series, dash_is_zero=False).astype("float64")


def _to_date(series: pd.Series) -> pd.Series:
    return pd.to_datetime(parse_dates(series), errors="coerce")


def _looks_like_dates(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    text = _as_missing(series).dropna()
    if text.empty:
        return False
    sample = text.sample(min(len(text), 500), random_state=0)
    if sample.str.match(_DATE_PATTERN).mean() < 0.9:
        return False
    return _to_date(sample).notna().mean() >= 0.9


def _looks_like_numbers(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    text = _as_missing(series).dropna()
    if text.empty:
        return False
    return _to_number(text).notna().mean() >= 0.95


def parse_target(series: pd.Series, positive: str | None = None, *, column: str = "target") -> pd.Series:
    """0/1 (float, NaN where missing) from a yes/no column; ``positive`` names the value that counts as 1."""
    text = _as_missing(series)
    if positive is not None:
        wanted = str(positive).strip().lower()
        values = text.str.lower()
        if not (values == wanted).any():
            seen = ", ".join(sorted(values.dropna().unique()[:10]))
            raise InputError(f"no row has the value '{positive}'", column=column, expected=f"one of: {seen}")
        return (values == wanted).astype("float64").where(values.notna())
    values = text.str.lower()
    distinct = set(values.dropna().unique())
    if distinct <= (_TRUE | _FALSE):
        return values.map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan).astype("float64")
    numbers = pd.to_numeric(values, errors="coerce")
    if set(numbers.dropna().unique()) <= {0.0, 1.0} and numbers.notna().sum() == values.notna().sum():
        return numbers.astype("float64")
    raise InputError(
        f"the target has {len(distinct)} different values, not a yes/no outcome",
        column=column,
        expected="0/1, true/false, yes/no, or --positive VALUE",
    )


# ---------------------------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------------------------
class TableEncoder:
    """Turns a table into model features: numbers stay numbers (booleans become 0/1), dates become
    year / month / day-of-week / age in days, categories keep their ``max_categories`` most frequent
    values (the rest is ``__other__``, plus a frequency feature for high-cardinality columns), and
    columns that cannot help (unique per row like IDs, constant, empty) are dropped with a reason.

    Parameters
    ----------
    max_categories:
        Categories kept per column.
    reference_col:
        A date column to measure "age in days" from for each row (e.g. the event time); without it ages
        are measured from the latest date seen in training, so scores stay comparable later.
    """

    def __init__(self, max_categories: int = MAX_CATEGORIES, reference_col: str | None = None):
        self.max_categories = max_categories
        self.reference_col = reference_col

    def fit(self, frame: pd.DataFrame) -> TableEncoder:
        self.kinds_: dict[str, str] = {}
        self.dropped_: dict[str, str] = {}
        self.categories_: dict[str, list[str]] = {}
        self.frequencies_: dict[str, dict[str, float]] = {}
        self.rare_frequency_: dict[str, float] = {}
        self.input_dtypes_: dict[str, str] = {}
        n = len(frame)
        latest = []
        for name in frame.columns:
            col = frame[name]
            if name == self.reference_col:
                continue
            present = _as_missing(col).notna() if not pd.api.types.is_numeric_dtype(col) else col.notna()
            if present.sum() == 0:
                self.dropped_[name] = "empty"
                continue
            if _looks_like_dates(col):
                kind = "date"
                dates = _to_date(col)
                latest.append(dates.max())
            elif _looks_like_numbers(col):
                kind = "numeric"
                values = _to_number(col)
                if values.nunique() <= 1:
                    self.dropped_[name] = "constant"
                    continue
                unique_per_row = values.nunique() == present.sum() and present.sum() >= 20
                integral = np.allclose(values.dropna() % 1, 0)
                dense = (values.max() - values.min() + 1) <= 1.5 * present.sum()
                if unique_per_row and integral and dense and present.mean() > 0.95:
                    self.dropped_[name] = "id-like (unique per row)"
                    continue
            else:
                kind = "categorical"
                text = _as_missing(col)
                counts = text.value_counts()
                if len(counts) <= 1:
                    self.dropped_[name] = "constant"
                    continue
                if len(counts) == present.sum() and present.sum() >= 20:
                    self.dropped_[name] = "id-like (unique per row)"
                    continue
                keep = counts[counts >= max(2, int(0.001 * n))].head(self.max_categories)
                self.categories_[name] = [str(c) for c in keep.index] + [OTHER]
                if len(counts) > self.max_categories:
                    # Values seen once are kept out so a free-text column does not bloat the model;
                    # at scoring they (and unseen values) get the frequency of a single occurrence.
                    repeated = counts[counts >= 2]
                    self.frequencies_[name] = (repeated / present.sum()).to_dict()
                    self.rare_frequency_[name] = 1.0 / present.sum()
            self.kinds_[name] = kind
            self.input_dtypes_[name] = kind
        if self.reference_col is not None:
            if self.reference_col not in frame.columns:
                raise InputError("reference column is not in the table", column=self.reference_col)
            self.input_dtypes_[self.reference_col] = "reference"
        known = [d for d in latest if pd.notna(d)]
        self.reference_date_ = max(known) if known else None
        if not self.kinds_:
            raise InputError(
                "no usable feature columns (all dropped: "
                + ", ".join(f"{k}: {v}" for k, v in self.dropped_.items())
                + ")"
            )
        self.feature_names_ = list(self.transform(frame.head(1)).columns)
        return self

    @property
    def input_columns_(self) -> list[str]:
        return list(self.input_dtypes_)

    def check(self, frame: pd.DataFrame, *, file: str | None = None) -> list[str]:
        """Refuse a table that does not fit: missing columns named, wrong types named with an example
        value and its row. Returns the extra columns (ignored)."""
        missing = [c for c in self.input_columns_ if c not in frame.columns]
        if missing:
            raise InputError(
                f"the table lacks {len(missing)} column(s) the model was trained on: {', '.join(missing)}",
                file=file,
                expected="the training table's columns (use --exclude when training to leave a column out)",
            )
        for name, kind in self.input_dtypes_.items():
            col = frame[name]
            if kind not in ("numeric", "date", "reference"):
                continue
            text = (
                col
                if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)
                else _as_missing(col)
            )
            present = text.notna()
            if present.sum() == 0:
                continue
            parsed = _to_number(col) if kind == "numeric" else _to_date(col)
            bad = present & parsed.isna()
            if bad.mean() > 0.05 or (bad.sum() and bad.sum() == present.sum()):
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(
                    f"wrong type: found '{col.iloc[row]}' ({int(bad.sum())} such values)",
                    file=file,
                    row=row + 1,
                    column=name,
                    expected="a number" if kind == "numeric" else "a date",
                )
        return [c for c in frame.columns if c not in self.input_dtypes_ and c not in self.dropped_]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        out: dict[str, pd.Series] = {}
        index = frame.index
        reference = None
        if self.reference_col is not None:
            reference = _to_date(frame[self.reference_col])
        elif self.reference_date_ is not None:
            reference = pd.Series(self.reference_date_, index=index)
        for name, kind in self.kinds_.items():
            col = frame[name]
            if kind == "numeric":
                out[name] = _to_number(col)
            elif kind == "date":
                dates = _to_date(col)
                out[f"{name}__year"] = dates.dt.year.astype("float64")
                out[f"{name}__month"] = dates.dt.month.astype("float64")
                out[f"{name}__dow"] = dates.dt.dayofweek.astype("float64")
                if reference is not None:
                    out[f"{name}__age_days"] = (reference - dates).dt.days.astype("float64")
            else:
                cats = self.categories_[name]
                text = _as_missing(col).astype("object")
                known = text.where(text.isin(cats[:-1]) | text.isna(), OTHER)
                out[name] = pd.Categorical(known, categories=cats)
                if name in self.frequencies_:
                    freq = text.map(self.frequencies_[name]).astype("float64")
                    out[f"{name}__freq"] = freq.fillna(self.rare_frequency_[name]).where(text.notna())
        return pd.DataFrame(out, index=index)


# ---------------------------------------------------------------------------------------------
# Logistic baseline on a hand-built design matrix (so each coefficient maps back to its feature)
# ---------------------------------------------------------------------------------------------
class LogisticBaseline:
    """Logistic regression on clipped, standardised numbers (+ missing indicators) and one-hot
    categories: the named baseline every propensity model is compared with."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def _design(self, X: pd.DataFrame) -> np.ndarray:
        blocks = []
        for name in self.numeric_:
            v = X[name].to_numpy(dtype="float64")
            lo, hi, med, mu, sd = self.stats_[name]
            filled = np.where(np.isnan(v), med, np.clip(v, lo, hi))
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
        design = self._design(X)
        self.design_mean_ = design.mean(axis=0)
        # One BLAS thread: this problem is small, and threads fight on a shared machine.
        with threadpool_limits(1):
            self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(design, np.asarray(y))
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.decision_function(self._design(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self._design(X))[:, 1]

    def contributions(self, X: pd.DataFrame, features: list[str]) -> np.ndarray:
        """Exact linear SHAP values (coefficient × deviation from the training mean), summed per feature."""
        terms = (self._design(X) - self.design_mean_) * self.model_.coef_[0]
        out = np.zeros((len(X), len(features)))
        for j, name in enumerate(features):
            mask = self.owners_ == name
            if mask.any():
                out[:, j] = terms[:, mask].sum(axis=1)
        return out


# ---------------------------------------------------------------------------------------------
# The propensity estimator
# ---------------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """Holdout results of a model and its baseline on the same rows."""

    metrics: pd.DataFrame  # one row per model
    deciles: pd.DataFrame
    baseline_deciles: pd.DataFrame
    calibration: pd.DataFrame
    profit: pd.DataFrame
    best_grade: int
    notes: list[str] = field(default_factory=list)


class PropensityModel:
    """Calibrated LightGBM propensity with a logistic baseline trained on the same rows.

    ``fit(X, y, X_valid, y_valid)``: LightGBM stops early on the validation rows (which should be *later*
    in time than the training rows when the data has time), then probabilities are calibrated on them:
    isotonic when validation has ≥ 1000 rows and ≥ 100 positives, otherwise Platt scaling. When
    positives are too few (< ``min_positives`` or < ``min_positive_rate``) LightGBM is not trained and
    the baseline answers, with ``thin_`` explaining why.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_lambda:
        LightGBM settings; ``n_estimators`` is an upper bound for early stopping.
    early_stopping_rounds:
        Rounds without improvement of validation log-loss before stopping.
    descriptions:
        Optional {feature: catalogue key} for reasons in words; other features are described by name.
    n_jobs:
        LightGBM threads. One is fastest below a few hundred thousand rows, and far faster on a busy
        machine, where OpenMP threads wait on each other.
    random_state:
        Seed for LightGBM's sampling.
    """

    def __init__(
        self,
        n_estimators: int = 2000,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 100,
        min_positives: int = MIN_POSITIVES,
        min_positive_rate: float = MIN_POSITIVE_RATE,
        descriptions: dict[str, str] | None = None,
        max_categories: int = MAX_CATEGORIES,
        reference_col: str | None = None,
        n_jobs: int = 1,
        random_state: int = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.min_positives = min_positives
        self.min_positive_rate = min_positive_rate
        self.descriptions = descriptions
        self.max_categories = max_categories
        self.reference_col = reference_col
        self.n_jobs = n_jobs
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict:
        import inspect

        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters if k != "self"}

    def set_params(self, **params) -> PropensityModel:
        for key, value in params.items():
            setattr(self, key, value)
        return self

    # ---- fitting ------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y, X_valid: pd.DataFrame, y_valid) -> PropensityModel:
        y = np.asarray(y, dtype="float64")
        y_valid = np.asarray(y_valid, dtype="float64")
        positives, n = int(y.sum()), len(y)
        if positives < MIN_POSITIVES_AT_ALL or n - positives < MIN_POSITIVES_AT_ALL:
            raise DataTooThinError(
                f"{positives} positives and {n - positives} negatives among {n} training rows: "
                f"at least {MIN_POSITIVES_AT_ALL} of each are needed for any model"
            )
        self.encoder_ = TableEncoder(self.max_categories, self.reference_col).fit(X)
        Xt = self.encoder_.transform(X)
        Xv = self.encoder_.transform(X_valid)
        self.features_ = list(Xt.columns)
        self.n_train_, self.train_positives_ = n, positives
        self.thin_ = None
        rate = positives / n
        if positives < self.min_positives or rate < self.min_positive_rate:
            self.thin_ = (
                f"too few positives to learn a tree model: {positives} of {n} ({rate:.2%}); "
                f"need ≥ {self.min_positives} and ≥ {self.min_positive_rate:.0%}. Scores come from the logistic baseline."
            )
        elif y_valid.sum() < 10:
            self.thin_ = f"only {int(y_valid.sum())} positives in the validation rows: cannot stop early or calibrate; scores come from the logistic baseline."
        self.baseline_ = LogisticBaseline().fit(Xt, y)
        self.booster_ = None
        if self.thin_ is None:
            self._fit_lightgbm(Xt, y, Xv, y_valid)
            raw_valid = self._raw(Xv)
        else:
            raw_valid = self.baseline_.decision_function(Xv)
        self._fit_calibrator(raw_valid, y_valid)
        return self

    def _fit_lightgbm(self, Xt, y, Xv, y_valid) -> None:
        import lightgbm as lgb

        self.lgbm_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        self.lgbm_.fit(
            Xt,
            y,
            eval_X=(Xv,),
            eval_y=(y_valid,),
            eval_metric="binary_logloss",
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.booster_ = self.lgbm_.booster_
        self.best_iteration_ = int(self.lgbm_.best_iteration_ or self.n_estimators)

    def _fit_calibrator(self, raw_valid: np.ndarray, y_valid: np.ndarray) -> None:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        if len(y_valid) >= 1000 and y_valid.sum() >= 100:
            self.calibration_method_ = "isotonic"
            self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(raw_valid, y_valid)
        elif 0 < y_valid.sum() < len(y_valid):
            self.calibration_method_ = "platt"
            self.calibrator_ = LogisticRegression(C=1e6, max_iter=1000).fit(raw_valid[:, None], y_valid)
        else:
            self.calibration_method_ = "none"
            self.calibrator_ = None

    # ---- predicting ---------------------------------------------------------------------------
    @property
    def uses_baseline_(self) -> bool:
        return self.booster_ is None

    def _raw(self, Xt: pd.DataFrame) -> np.ndarray:
        if self.booster_ is None:
            return self.baseline_.decision_function(Xt)
        return self.booster_.predict(Xt, raw_score=True, num_iteration=self.best_iteration_)

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibrator_ is None:
            return 1 / (1 + np.exp(-raw))
        if self.calibration_method_ == "isotonic":
            return self.calibrator_.predict(raw)
        return self.calibrator_.predict_proba(raw[:, None])[:, 1]

    def transform_features(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.encoder_.transform(X)

    def ranking_score(self, X: pd.DataFrame) -> np.ndarray:
        """The uncalibrated score (log-odds): ties-free, for ranking and deciles."""
        return self._raw(self.encoder_.transform(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class, one per row."""
        return self._calibrate(self.ranking_score(X))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row and feature, the contribution to the log-odds (SHAP for LightGBM, exact linear SHAP
        for the baseline)."""
        Xt = self.encoder_.transform(X)
        if self.booster_ is None:
            values = self.baseline_.contributions(Xt, self.features_)
        else:
            values = self.booster_.predict(Xt, pred_contrib=True, num_iteration=self.best_iteration_)[:, :-1]
        return pd.DataFrame(values, columns=self.features_, index=X.index)

    # ---- explaining ---------------------------------------------------------------------------
    def describe(self, feature: str, value, contribution: float, lang: str = "ko") -> str:
        """One reason in words: the feature's catalogue text with its value, and the contribution."""
        return f"{self._wording(feature, lang)(value)} ({contribution:+.2f})"

    def _wording(self, feature: str, lang: str):
        """A function value → text for one feature and language (catalogue looked up once)."""
        from carsight.i18n import t

        key = (self.descriptions or {}).get(feature)
        if key is None:
            label = feature.replace("__", " · ")
            return lambda value: t("value.reason.generic", lang, feature=label, value=_format_value(value))
        never = t(f"{key}_none", lang)
        if never == f"{key}_none":  # no wording for "never": show the plain dash
            never = t(key, lang, value="–")

        def text(value) -> str:
            missing = value is None or (not isinstance(value, str) and pd.isna(value))
            return never if missing else t(key, lang, value=_format_value(value))

        return text

    def reasons(
        self, X: pd.DataFrame, top: int = 3, lang: str = "ko", *, langs: tuple[str, ...] | None = None
    ) -> pd.DataFrame:
        """The ``top`` largest contributions per row (by size, sign shown) as text, plus the feature
        names: columns ``reason1..top`` in ``lang``, or ``reason1_ko``, ``reason1_en``… for ``langs``."""
        contrib = self.contributions(X)
        cells = self.encoder_.transform(X).to_numpy(dtype=object)
        values = contrib.to_numpy()
        n, k_top = len(X), min(top, values.shape[1])
        order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k_top]
        chosen = np.take_along_axis(values, order, axis=1)
        names = np.asarray(self.features_, dtype=object)
        columns: dict[str, object] = {}
        for k in range(top):
            columns[f"reason{k + 1}_feature"] = names[order[:, k]] if k < k_top else [None] * n
            for code in langs or (lang,):
                name = f"reason{k + 1}_{code}" if langs else f"reason{k + 1}"
                texts = np.full(n, None, dtype=object)
                if k < k_top:
                    # Rows grouped by feature, so each wording is looked up once.
                    for j in np.unique(order[:, k]):
                        rows = np.flatnonzero(order[:, k] == j)
                        wording = self._wording(self.features_[j], code)
                        texts[rows] = [f"{wording(cells[i, j])} ({chosen[i, k]:+.2f})" for i in rows]
                columns[name] = texts
        return pd.DataFrame(columns, index=X.index)

    def importance(self, X: pd.DataFrame) -> pd.DataFrame:
        """Global importance: mean |contribution| per feature on ``X``, largest first."""
        contrib = self.contributions(X)
        imp = contrib.abs().mean().sort_values(ascending=False)
        out = imp.rename("mean_abs_shap").rename_axis("feature").reset_index()
        out["rank"] = np.arange(1, len(out) + 1)
        return out

    def partial_dependence(
        self, X: pd.DataFrame, features: list[str], grid_points: int = 10, sample: int = 500
    ) -> pd.DataFrame:
        """Average calibrated probability when one feature is set to each grid value (quantiles for
        numbers, categories for categoricals) for a sample of rows: one prediction per feature."""
        Xt = self.encoder_.transform(X)
        if len(Xt) > sample:
            Xt = Xt.sample(sample, random_state=self.random_state)
        rows = []
        for name in features:
            col = Xt[name]
            categorical = isinstance(col.dtype, pd.CategoricalDtype)
            if categorical:
                grid = [c for c in col.cat.categories if (col == c).any()]
            else:
                values = col.dropna().to_numpy()
                grid = np.unique(np.quantile(values, np.linspace(0.05, 0.95, grid_points))) if values.size else []
            if len(grid) == 0:
                continue
            stacked = pd.concat([Xt] * len(grid), ignore_index=True)
            repeated = np.repeat(np.asarray(grid, dtype=object), len(Xt))
            if categorical:
                stacked[name] = pd.Categorical(repeated, categories=col.cat.categories)
            else:
                stacked[name] = repeated.astype("float64")
            prob = self._calibrate(self._raw(stacked)).reshape(len(grid), len(Xt)).mean(axis=1)
            for value, average in zip(grid, prob, strict=True):
                rows.append(
                    {"feature": name, "value": value if categorical else float(value), "average": float(average)}
                )
        return pd.DataFrame(rows, columns=["feature", "value", "average"])

    # ---- evaluating ---------------------------------------------------------------------------
    def evaluate(self, X: pd.DataFrame, y, *, margin: float = 1.0, contact_cost: float = 0.1) -> Evaluation:
        """Holdout metrics for the model and the logistic baseline on the same rows; the decile and
        profit tables; reliability bins. Also stores the grade cut-points used when scoring later."""
        y = np.asarray(y, dtype="float64")
        Xt = self.encoder_.transform(X)
        raw = self._raw(Xt)
        prob = self._calibrate(raw)
        base_raw = self.baseline_.decision_function(Xt)
        base_prob = self.baseline_.predict_proba(Xt)
        name = "logistic (baseline only)" if self.uses_baseline_ else "lightgbm"
        rows = [
            {"model": name, **D.classification_metrics(y, raw, prob)},
            {"model": "logistic_baseline", **D.classification_metrics(y, base_raw, base_prob)},
        ]
        rows.append(
            {
                "model": "base_rate",
                **D.classification_metrics(y, np.zeros(len(y)), np.full(len(y), self.train_positives_ / self.n_train_)),
            }
        )
        table = pd.DataFrame(rows)
        table["n_train"] = self.n_train_
        deciles = D.decile_table(y, raw, expected=prob)
        base_deciles = D.decile_table(y, base_raw, expected=base_prob)
        profit = D.profit_table(deciles, margin=margin, contact_cost=contact_cost)
        best = D.best_grade(deciles, margin=margin, contact_cost=contact_cost)
        calib = D.reliability_table(y, prob)
        # Grade cut-points: the raw-score thresholds between holdout deciles, so a customer scored later
        # gets the grade they would have had in the holdout population.
        self.grade_edges_ = np.sort(np.quantile(raw, np.linspace(0.9, 0.1, 9)))[::-1] if len(raw) else np.array([])
        self.holdout_metrics_ = table.to_dict(orient="records")
        notes = []
        if self.thin_:
            notes.append(self.thin_)
        if y.sum() < 30:
            notes.append(f"only {int(y.sum())} positives in the holdout: the metrics have wide confidence intervals")
        return Evaluation(table, deciles, base_deciles, calib, profit, best, notes)

    def grades(self, X: pd.DataFrame | None = None, raw: np.ndarray | None = None) -> np.ndarray:
        """Grade 1–10 by the holdout cut-points (1 = most likely), comparable across scoring runs."""
        if raw is None:
            raw = self.ranking_score(X)
        edges = getattr(self, "grade_edges_", None)
        if edges is None or len(edges) == 0:
            return D.decile_ranks(raw)
        # edges descend: count how many thresholds the score falls below.
        return 1 + np.sum(raw[:, None] < edges[None, :], axis=1)


def _format_value(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.2f}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Any table: split, train, score
# ---------------------------------------------------------------------------------------------
@dataclass
class Split:
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    description: str


def split_rows(
    y: np.ndarray,
    time: pd.Series | None = None,
    *,
    valid_share: float = 0.2,
    test_share: float = 0.2,
    random_state: int = 0,
) -> Split:
    """Time-ordered split (oldest rows train, then validation, latest rows test) when a time column is
    given; otherwise a stratified random split, said so in the description."""
    n = len(y)
    idx = np.arange(n)
    if time is not None:
        order = np.argsort(time.to_numpy(dtype="datetime64[ns]"), kind="stable")
        n_test = int(round(n * test_share))
        n_valid = int(round(n * valid_share))
        train, valid, test = (
            order[: n - n_test - n_valid],
            order[n - n_test - n_valid : n - n_test],
            order[n - n_test :],
        )
        t = time.to_numpy(dtype="datetime64[ns]")

        def span(ix):
            return f"{pd.Timestamp(t[ix].min()).date()}–{pd.Timestamp(t[ix].max()).date()}" if len(ix) else "none"

        desc = f"time-ordered split by {time.name}: train {span(train)}, validation {span(valid)}, test (latest rows) {span(test)}"
        return Split(train, valid, test, desc)
    from sklearn.model_selection import train_test_split

    rest, test = train_test_split(idx, test_size=test_share, stratify=y, random_state=random_state)
    train, valid = train_test_split(
        rest, test_size=valid_share / (1 - test_share), stratify=y[rest], random_state=random_state
    )
    desc = "stratified random split 60/20/20 (no --time-col given: the holdout is not later in time, so expect optimism if the data drifts)"
    return Split(np.sort(train), np.sort(valid), np.sort(test), desc)


@dataclass
class TrainReport:
    model: PropensityModel
    split: Split
    evaluation: Evaluation
    importance: pd.DataFrame
    dropped_columns: dict[str, str]
    dropped_rows: int
    notes: list[str]

    def summary(self) -> dict:
        best = self.evaluation.metrics.iloc[0]
        return {
            "split": self.split.description,
            "rows": {"train": len(self.split.train), "valid": len(self.split.valid), "test": len(self.split.test)},
            "metrics": self.evaluation.metrics.to_dict(orient="records"),
            "auroc": float(best.auroc),
            "best_grade": self.evaluation.best_grade,
            "dropped_columns": self.dropped_columns,
            "notes": self.notes,
        }


def train_on_table(
    frame: pd.DataFrame,
    target: str,
    *,
    positive: str | None = None,
    exclude: list[str] | tuple[str, ...] = (),
    time_col: str | None = None,
    margin: float = 1.0,
    contact_cost: float = 0.1,
    file: str | None = None,
    **params,
) -> TrainReport:
    """Train and evaluate a propensity model on any table with a yes/no column ``target``."""
    for name in [target, *exclude] + ([time_col] if time_col else []):
        if name not in frame.columns:
            raise InputError(
                "no such column", file=file, column=name, expected="one of: " + ", ".join(map(str, frame.columns))
            )
    y_all = parse_target(frame[target], positive, column=target)
    keep = y_all.notna().to_numpy()
    time = None
    if time_col:
        time = _to_date(frame[time_col])
        bad = time.isna() & keep
        if bad.mean() > 0.05:
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError("not a date", file=file, row=row + 1, column=time_col, expected="a date in every row")
        keep &= time.notna().to_numpy()
    dropped_rows = int((~keep).sum())
    data = frame.loc[keep].drop(columns=[target, *exclude]).reset_index(drop=True)
    y = y_all[keep].to_numpy()
    if time is not None:
        time = time[keep].reset_index(drop=True).rename(time_col)
        data = data.drop(columns=[time_col])
    split = split_rows(y, time)
    model = PropensityModel(**params)
    model.fit(data.iloc[split.train], y[split.train], data.iloc[split.valid], y[split.valid])
    evaluation = model.evaluate(data.iloc[split.test], y[split.test], margin=margin, contact_cost=contact_cost)
    importance = model.importance(data.iloc[split.test])
    notes = list(evaluation.notes)
    if dropped_rows:
        notes.append(f"{dropped_rows} rows without a target value (or time) were left out")
    if time_col:
        notes.append(f"'{time_col}' was used to order the split, not as a feature")
    model.training_profile_ = _profile(data.iloc[split.train])
    model.split_description_ = split.description
    model.target_ = target
    model.positive_ = positive
    return TrainReport(model, split, evaluation, importance, dict(model.encoder_.dropped_), dropped_rows, notes)


def _profile(frame: pd.DataFrame) -> dict:
    from carsight.registry import profile_frame

    return profile_frame(_typed_for_drift(frame))


def _typed_for_drift(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name in frame.columns:
        col = frame[name]
        out[name] = _to_number(col) if _looks_like_numbers(col) and not _looks_like_dates(col) else col
    return pd.DataFrame(out)


def score_table(
    model: PropensityModel,
    frame: pd.DataFrame,
    *,
    lang: str = "ko",
    file: str | None = None,
    id_cols: list[str] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Score a table with a trained model: score (calibrated probability), decile (within this table),
    grade (by the holdout cut-points) and the top three reasons. Refuses a table that does not fit;
    returns drift findings alongside."""
    extra = model.encoder_.check(frame, file=file)
    raw = model.ranking_score(frame)
    out = pd.DataFrame(index=frame.index)
    for name in id_cols or []:
        if name in frame.columns:
            out[name] = frame[name]
    out["score"] = model._calibrate(raw)
    out["decile"] = D.decile_ranks(raw)
    out["grade"] = model.grades(raw=raw)
    reasons = model.reasons(frame, lang=lang)
    for k in (1, 2, 3):
        out[f"reason{k}"] = reasons.get(f"reason{k}")
    info: dict = {"ignored_columns": extra, "drift": None}
    profile = getattr(model, "training_profile_", None)
    # PSI over a handful of rows is noise, not drift.
    if profile and len(frame) >= MIN_ROWS_FOR_DRIFT:
        from carsight.registry import drift_report

        used = [c for c in model.encoder_.input_columns_ if c in frame.columns]
        report = drift_report({k: v for k, v in profile.items() if k in used}, _typed_for_drift(frame[used]))
        info["drift"] = report
    return out.reset_index(drop=True), info
