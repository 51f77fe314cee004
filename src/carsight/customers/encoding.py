"""Turning an arbitrary customer table into model features.

The file parsing shared with ingest (numbers such as ``" 4,120 "``, dates in any spelling
``ingest.parse_dates`` reads, yes/no targets), and :class:`TableEncoder`, which learns per column
whether it is a number, a date, a category, or useless (IDs, constants, empty columns).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from carsight.errors import InputError
from carsight.ingest import clean_number, parse_dates

_MISSING_TOKENS = {"", "nan", "none", "null", "na", "n/a", "<na>", "nat"}
_DATE_PATTERN = re.compile(r"^\s*(\d{4}[-./년]\s*\d{1,2}[-./월]\s*\d{1,2}|\d{8}$|\d{1,2}/\d{1,2}/\d{4})")
_TRUE = {"1", "true", "yes", "y", "t", "예", "네", "o", "responded", "positive"}
_FALSE = {"0", "false", "no", "n", "f", "아니오", "아니요", "x", "negative"}
MAX_CATEGORIES = 50
OTHER = "__other__"


# ---------------------------------------------------------------------------------------------
# Parsing helpers (the ingest cleaners, so files are read the same way everywhere)
# ---------------------------------------------------------------------------------------------
def as_missing(series: pd.Series) -> pd.Series:
    """The values as text, stripped, with the words for "missing" (``""``, ``nan``, ``null``…) as NA."""
    text = series.astype("string")
    # Stripped and matched once per distinct value, not once per row: a column of 100,000 rows
    # usually holds a few dozen values, and this runs on every column at every fit and scoring.
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="string").str.strip()
    distinct = pd.concat(
        [distinct.mask(distinct.str.lower().isin(_MISSING_TOKENS)), pd.Series([pd.NA], dtype="string")]
    )
    return pd.Series(
        distinct.to_numpy()[np.where(codes < 0, len(distinct) - 1, codes)], index=series.index, dtype="string"
    )


def to_number(series: pd.Series) -> pd.Series:
    """The values as floats: numbers and booleans as they are, text by ``ingest.clean_number`` (else NaN)."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    return clean_number(series, dash_is_zero=False).astype("float64")


def to_date(series: pd.Series) -> pd.Series:
    """The values as timestamps, by ``ingest.parse_dates``; NaT where a value is not a date."""
    return pd.to_datetime(parse_dates(series), errors="coerce")


def looks_like_dates(series: pd.Series) -> bool:
    """Whether a column holds dates.

    A datetime column does; a number or boolean column does not. For text, at least 90% of a sample
    of up to 500 present values must look like a date and at least 90% of them must parse as one.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    text = as_missing(series).dropna()
    if text.empty:
        return False
    sample = text.sample(min(len(text), 500), random_state=0)
    if sample.str.match(_DATE_PATTERN).mean() < 0.9:
        return False
    return to_date(sample).notna().mean() >= 0.9


def looks_like_numbers(series: pd.Series) -> bool:
    """Whether a column holds numbers.

    A number or boolean column does; text does when at least 95% of its present values (counted by
    row) parse as numbers.
    """
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    counts = as_missing(series).value_counts()
    if counts.empty:
        return False
    # Parsed once per distinct value, weighted by how often each occurs.
    parsed = to_number(pd.Series(counts.index, dtype="string")).notna().to_numpy()
    return float((parsed * counts.to_numpy()).sum() / counts.sum()) >= 0.95


def parse_target(series: pd.Series, positive: str | None = None, *, column: str = "target") -> pd.Series:
    """0/1 (float, NaN where missing) from a yes/no column; ``positive`` names the value that counts as 1."""
    text = as_missing(series)
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
class TableEncoder(TransformerMixin, BaseEstimator):
    """Turns a table into model features, dropping the columns that cannot help.

    Numbers stay numbers (booleans become 0/1), dates become year / month / day-of-week / age in days,
    categories keep their ``max_categories`` most frequent values (the rest is ``__other__``, plus a
    frequency feature for high-cardinality columns), and columns that cannot help (unique per row like
    IDs, constant, empty) are dropped with a reason.

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

    def fit(self, X: pd.DataFrame, y=None) -> TableEncoder:
        """Learn each column's kind, categories and frequencies from ``X``."""
        frame = X
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
            present = as_missing(col).notna() if not pd.api.types.is_numeric_dtype(col) else col.notna()
            if present.sum() == 0:
                self.dropped_[name] = "empty"
                continue
            if looks_like_dates(col):
                kind = "date"
                dates = to_date(col)
                latest.append(dates.max())
            elif looks_like_numbers(col):
                kind = "numeric"
                values = to_number(col)
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
                text = as_missing(col)
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
        """The table columns the encoder reads (the trained-on columns that were not dropped)."""
        return list(self.input_dtypes_)

    def check(self, frame: pd.DataFrame, *, file: str | None = None) -> list[str]:
        """Refuse a table that does not fit; return the extra columns (ignored).

        Missing columns are named; wrong types are named with an example value and its row.
        """
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
                else as_missing(col)
            )
            present = text.notna()
            if present.sum() == 0:
                continue
            parsed = to_number(col) if kind == "numeric" else to_date(col)
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

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Model features for ``X`` (columns :attr:`feature_names_`)."""
        frame = X
        out: dict[str, pd.Series] = {}
        index = frame.index
        reference = None
        if self.reference_col is not None:
            reference = to_date(frame[self.reference_col])
        elif self.reference_date_ is not None:
            reference = pd.Series(self.reference_date_, index=index)
        for name, kind in self.kinds_.items():
            col = frame[name]
            if kind == "numeric":
                out[name] = to_number(col)
            elif kind == "date":
                dates = to_date(col)
                out[f"{name}__year"] = dates.dt.year.astype("float64")
                out[f"{name}__month"] = dates.dt.month.astype("float64")
                out[f"{name}__dow"] = dates.dt.dayofweek.astype("float64")
                if reference is not None:
                    out[f"{name}__age_days"] = (reference - dates).dt.days.astype("float64")
            else:
                cats = self.categories_[name]
                text = as_missing(col).astype("object")
                known = text.where(text.isin(cats[:-1]) | text.isna(), OTHER)
                out[name] = pd.Categorical(known, categories=cats)
                if name in self.frequencies_:
                    freq = text.map(self.frequencies_[name]).astype("float64")
                    out[f"{name}__freq"] = freq.fillna(self.rare_frequency_[name]).where(text.notna())
        return pd.DataFrame(out, index=index)


def typed_for_drift(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns as the drift profile compares them.

    Numbers (also those written as text) as floats, everything else unchanged.
    """
    out = {}
    for name in frame.columns:
        col = frame[name]
        out[name] = to_number(col) if looks_like_numbers(col) and not looks_like_dates(col) else col
    return pd.DataFrame(out, index=frame.index)
