"""The feature space of customer-type segmentation.

One row per customer computed in the warehouse (:func:`segment_frame`), and the preprocessing that
puts mixed features on one scale (a ColumnTransformer, then :class:`BlockScaler` so every feature
block counts the same).

Blocks: numbers are one column each; categories are one-hot encoded from one column; history
blocks are shares of the customer's past purchases ("body_type=suv" = 0.5).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from carsight.customers.rfm import rfm_table
from carsight.errors import InputError

NUMERIC_BLOCKS = ("age", "price", "frequency", "recency")
CATEGORY_BLOCKS = ("gender", "region", "channel")
HISTORY_BLOCKS = ("body_type", "powertrain", "brand", "payment")
ALL_BLOCKS = NUMERIC_BLOCKS + CATEGORY_BLOCKS + HISTORY_BLOCKS
NUMERIC_COLUMNS = {"age": "age", "price": "price_log", "frequency": "frequency_log", "recency": "recency_log"}
# Levels kept per history block (the rest are too rare to describe a type).
MAX_LEVELS = 15


# ---------------------------------------------------------------------------------------------
# The customer frame
# ---------------------------------------------------------------------------------------------
def _level_values(expr: ir.Table, column: str) -> list[str]:
    present = expr.filter(expr[column].notnull())
    counts = present.group_by(column).aggregate(n=present.count())
    frame = counts.order_by(ibis.desc("n")).limit(MAX_LEVELS).to_pandas()
    return [str(v) for v in frame[column]]


def segment_frame(
    customers: ir.Table | None,
    purchases: ir.Table | None,
    vehicles: ir.Table | None = None,
    *,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """One row per customer with the features the segmenter uses.

    Indexed by ``customer_id`` and computed in the warehouse (or on memtables of files): the rows
    of :func:`segment_frame_expr`, collected and finished by :func:`finish_segment_frame`. Any of
    the three tables may be missing; the blocks that need it are then left out. Also carries
    ``monetary_total`` and ``frequency`` (not features) for segment value.
    """
    return finish_segment_frame(segment_frame_expr(customers, purchases, vehicles, as_of=as_of).to_pandas())


def segment_frame_expr(
    customers: ir.Table | None,
    purchases: ir.Table | None,
    vehicles: ir.Table | None = None,
    *,
    as_of: dt.date | None = None,
) -> ir.Table:
    """The rows of :func:`segment_frame` as an expression the warehouse computes, one per customer.

    Unevaluated, so a distributed warehouse can filter it (a sample of customers) or hand it to
    its executors. Each row still needs :func:`finish_segment_frame` (per row: the logs and the
    zeros of customers without purchases), which needs no other row. Only the levels of each
    history block (at most :data:`MAX_LEVELS` rows per block) are computed here, over every
    purchase, so a sample's rows have the columns every customer's rows have.
    """
    if customers is None and purchases is None:
        raise InputError("segmentation needs customers or transactions", expected="a customers or purchases table")
    if as_of is None:
        if purchases is None:
            as_of = dt.date.today()
        else:
            last = purchases.purchase_date.max().to_pyarrow().as_py()
            as_of = (pd.Timestamp(last).date() if last is not None else dt.date.today()) + dt.timedelta(days=1)
    frame: ir.Table | None = None
    if customers is not None:
        c = customers
        cols = {"customer_id": c.customer_id.cast("string")}
        if "birth_year" in c.columns:
            cols["age"] = (ibis.literal(as_of.year) - c.birth_year.cast("float64")).cast("float64")
        for name in CATEGORY_BLOCKS:
            if name in c.columns:
                cols[name] = c[name].cast("string")
        frame = c.select(**cols).distinct(on="customer_id")
    if purchases is not None:
        hist = _history_expr(purchases, vehicles, as_of)
        if frame is None:
            frame = hist
        else:
            frame = frame.left_join(hist, "customer_id").select(frame, *[c for c in hist.columns if c != "customer_id"])
    return frame


def _history_expr(purchases: ir.Table, vehicles: ir.Table | None, as_of: dt.date) -> ir.Table:
    """Per customer with a purchase before ``as_of``: the price and history blocks, then RFM."""
    p = purchases.filter(purchases.purchase_date.cast("date") < ibis.literal(as_of, type="date"), purchases.amount > 0)
    p = p.mutate(customer_id=p.customer_id.cast("string"))
    if vehicles is not None:
        v = vehicles.select(
            "model",
            v_body=vehicles.body_type if "body_type" in vehicles.columns else ibis.null("string"),
            v_power=vehicles.powertrain if "powertrain" in vehicles.columns else ibis.null("string"),
            v_brand=vehicles.brand if "brand" in vehicles.columns else ibis.null("string"),
        )
        p = p.left_join(v, "model")
        p = p.mutate(body_type=p.v_body, powertrain=p.v_power)
        p = p.mutate(brand=p.brand.fill_null(p.v_brand) if "brand" in purchases.columns else p.v_brand)
    if "payment_type" in p.columns:
        p = p.mutate(payment=p.payment_type)
    aggs = {"price_log": p.amount.cast("float64").ln().mean()}
    for block in HISTORY_BLOCKS:
        if block not in p.columns:
            continue
        for level in _level_values(p, block):
            aggs[f"{block}={level}"] = (p[block] == level).cast("float64").mean()
    hist = p.group_by("customer_id").aggregate(**aggs)
    rfm = rfm_table(purchases, as_of).select("customer_id", "recency_days", "frequency", "monetary_total")
    rfm = rfm.mutate(customer_id=rfm.customer_id.cast("string"))
    joined = hist.outer_join(rfm, hist.customer_id == rfm.customer_id)
    return joined.select(
        customer_id=ibis.coalesce(hist.customer_id, rfm.customer_id),
        **{name: hist[name] for name in aggs},
        recency_days=rfm.recency_days,
        frequency=rfm.frequency,
        monetary_total=rfm.monetary_total,
    )


def finish_segment_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of :func:`segment_frame_expr` as :func:`segment_frame` returns them.

    Indexed and sorted by ``customer_id``, with log frequency and log recency, and customers without
    a purchase at zero purchases and zero spend. Each row's result depends on that row alone, so it
    may run on any batch of rows (on a distributed warehouse's executors).
    """
    frame = rows.set_index("customer_id")
    if "frequency" in frame.columns:
        # Whole numbers with gaps may arrive as objects (Decimal): as numbers, NaN in the gaps, then 0.
        frame["frequency"] = pd.to_numeric(frame["frequency"]).fillna(0)
        frame["monetary_total"] = frame["monetary_total"].fillna(0.0)
        frame["frequency_log"] = np.log1p(frame["frequency"])
        frame["recency_log"] = np.log1p(frame["recency_days"])
    frame.index = frame.index.astype(str)
    frame.index.name = "customer_id"
    return frame.sort_index()


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------
def _block_of(name: str) -> str:
    return name.split("__", 1)[0]


class BlockScaler(TransformerMixin, BaseEstimator):
    """Re-weight each feature block to the same total variance.

    A block is the columns sharing a prefix before ``__``; every block gets the same total variance
    (times its weight), after giving indicator/share columns the chi-square weight of FAMD. Without
    it a block with many one-hot columns, or a block of near-constant shares, would count more or
    less than the others by accident.
    """

    def __init__(self, feature_names=None, weights: Mapping[str, float] | None = None):
        self.feature_names = feature_names
        self.weights = weights

    def fit(self, X, y=None):
        """Learn each column's factor from ``X`` (columns named by ``feature_names``)."""
        X = np.asarray(X, dtype=float)
        names = list(self.feature_names) if self.feature_names is not None else [f"x{i}__" for i in range(X.shape[1])]
        blocks = [_block_of(n) for n in names]
        # Indicator and share columns get the chi-square weight 1/sqrt(share), as in FAMD/MCA, so a
        # rare level (trucks, rentals) counts as much as a common one instead of vanishing.
        indicator = np.array([b not in NUMERIC_BLOCKS for b in blocks])
        share = np.clip(X.mean(axis=0), 1e-3, None)
        factors = np.where(indicator, 1.0 / np.sqrt(share), 1.0)
        variance = (X * factors).var(axis=0)
        weights = dict(self.weights or {})
        self.block_names_ = list(dict.fromkeys(blocks))
        for block in self.block_names_:
            idx = [i for i, b in enumerate(blocks) if b == block]
            total = float(variance[idx].sum())
            w = float(weights.get(block, 1.0))
            factors[idx] *= math.sqrt(w / total) if total > 1e-12 else 0.0
        self.factors_ = factors
        self.blocks_ = np.array(blocks)
        return self

    def transform(self, X):
        """Scale each column by its factor."""
        return np.asarray(X, dtype=float) * self.factors_


def preprocessor(frame: pd.DataFrame) -> ColumnTransformer:
    """The ColumnTransformer for the blocks ``frame`` has: scaled numbers, one-hot categories, shares."""
    parts = []
    for block, column in NUMERIC_COLUMNS.items():
        if column in frame.columns and frame[column].notna().any():
            parts.append((block, make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), [column]))
    for block in CATEGORY_BLOCKS:
        if block in frame.columns and frame[block].notna().any():
            encoder = OneHotEncoder(handle_unknown="ignore", min_frequency=0.005, sparse_output=False)
            imputer = SimpleImputer(strategy="constant", fill_value="unknown")
            parts.append((block, make_pipeline(imputer, encoder), [block]))
    for block in HISTORY_BLOCKS:
        cols = [c for c in frame.columns if c.startswith(f"{block}=")]
        if cols:
            parts.append((block, SimpleImputer(strategy="mean", keep_empty_features=True), cols))
    if not parts:
        raise InputError("no usable segmentation features", expected="age, gender, region, channel or purchases")
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=True)


def natural_features(frame: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    """Features in readable units (years, shares, log-won), for profiles and id matching."""
    out = {}
    for column in NUMERIC_COLUMNS.values():
        if column in frame.columns:
            out[column] = frame[column].astype(float)
    for block in CATEGORY_BLOCKS:
        if block in frame.columns:
            for level in levels.get(block, []):
                out[f"{block}={level}"] = (frame[block].astype("string") == level).astype(float)
    for column in frame.columns:
        if "=" in column and column.split("=", 1)[0] in HISTORY_BLOCKS:
            out[column] = frame[column].astype(float)
    if "frequency" in frame.columns:
        out["repeat"] = (frame["frequency"] >= 2).astype(float)
    return pd.DataFrame(out, index=frame.index)
