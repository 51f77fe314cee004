"""Customer-type segmentation: who the customers are (profile and purchase habits), clustered on
mixed features, with K chosen from the data, ids that stay put across re-fits, a plain-language
profile per segment, and the segment of a new customer typed in at the dealer's desk.

Method (also in docs/customers.md): one row per customer with age, gender, region, acquisition
channel, the shares of their past purchases by body type, powertrain, brand and payment type, the
log of the average price paid, and RFM (log frequency, log recency). A ColumnTransformer scales the
numbers, one-hot encodes the categories, and then every *block* (age, region, body type, …) is
re-weighted to the same total variance, so a 17-level region does not outvote a 2-level gender and
no single column decides the clustering. KMeans runs for each K in ``k_range``; the K with the best
silhouette (on a sample) is kept, and when several K are within one standard error of that
silhouette, the one nearest the elbow of the inertia curve (see :func:`choose_k`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import weakref
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_samples
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from carsight.customers.rfm import rfm_table
from carsight.errors import DataTooThinError, InputError, ModelError
from carsight.i18n import t
from carsight.warehouse import schema as S

# Feature blocks. Numbers are one column each; categories are one-hot encoded from one column;
# history blocks are shares of the customer's past purchases ("body_type=suv" = 0.5).
NUMERIC_BLOCKS = ("age", "price", "frequency", "recency")
CATEGORY_BLOCKS = ("gender", "region", "channel")
HISTORY_BLOCKS = ("body_type", "powertrain", "brand", "payment")
ALL_BLOCKS = NUMERIC_BLOCKS + CATEGORY_BLOCKS + HISTORY_BLOCKS
_NUMERIC_COLUMNS = {"age": "age", "price": "price_log", "frequency": "frequency_log", "recency": "recency_log"}
# Levels kept per history block (the rest are too rare to describe a type).
_MAX_LEVELS = 15
# A segment is described by a level when the level is this much more common in it than in the base
# and held by at least this share of its customers.
_MIN_LIFT = 1.5
_MIN_SHARE = 0.3
_HIGH_Z = 0.5
_WORD_ORDER = ("body_type", "powertrain", "brand", "price", "repeat", "frequency", "recency", "payment",
               "gender", "region", "channel")  # fmt: skip

SEGMENT_FIELDS = {
    "age": "whole years, 16–100",
    "gender": "M or F (남/여, male/female)",
    "region": "a region (시/도) name",
    "interest_model": "a model name from the line-up",
    "body_type": "one of " + ", ".join(S.BODY_TYPES),
    "budget": "a positive amount in KRW",
    "payment_type": "one of " + ", ".join(S.PAYMENT_TYPES),
    "channel": "an acquisition channel (showroom, web, referral, …)",
}


# ---------------------------------------------------------------------------------------------
# The customer frame
# ---------------------------------------------------------------------------------------------
def _level_values(expr: ir.Table, column: str) -> list[str]:
    present = expr.filter(expr[column].notnull())
    counts = present.group_by(column).aggregate(n=present.count())
    frame = counts.order_by(ibis.desc("n")).limit(_MAX_LEVELS).to_pandas()
    return [str(v) for v in frame[column]]


def segment_frame(
    customers: ir.Table | None,
    purchases: ir.Table | None,
    vehicles: ir.Table | None = None,
    *,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """One row per customer (index ``customer_id``) with the features the segmenter uses, computed
    in the warehouse (or on memtables of files). Any of the three tables may be missing; the blocks
    that need it are then left out. Also carries ``monetary_total`` and ``frequency`` (not features)
    for segment value."""
    if customers is None and purchases is None:
        raise InputError("segmentation needs customers or transactions", expected="a customers or purchases table")
    if as_of is None:
        if purchases is None:
            as_of = dt.date.today()
        else:
            last = purchases.purchase_date.max().to_pyarrow().as_py()
            as_of = (pd.Timestamp(last).date() if last is not None else dt.date.today()) + dt.timedelta(days=1)
    frame: pd.DataFrame | None = None
    if customers is not None:
        c = customers
        cols = {"customer_id": c.customer_id.cast("string")}
        if "birth_year" in c.columns:
            cols["age"] = (ibis.literal(as_of.year) - c.birth_year.cast("float64")).cast("float64")
        for name in CATEGORY_BLOCKS:
            if name in c.columns:
                cols[name] = c[name].cast("string")
        frame = c.select(**cols).distinct(on="customer_id").to_pandas().set_index("customer_id")
    if purchases is not None:
        p = purchases.filter(
            purchases.purchase_date.cast("date") < ibis.literal(as_of, type="date"), purchases.amount > 0
        )
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
            if "brand" in purchases.columns:
                p = p.mutate(brand=p.brand.fill_null(p.v_brand))
            else:
                p = p.mutate(brand=p.v_brand)
        if "payment_type" in p.columns:
            p = p.mutate(payment=p.payment_type)
        aggs = {"price_log": p.amount.cast("float64").ln().mean()}
        for block in HISTORY_BLOCKS:
            if block not in p.columns:
                continue
            for level in _level_values(p, block):
                aggs[f"{block}={level}"] = (p[block] == level).cast("float64").mean()
        hist = p.group_by("customer_id").aggregate(**aggs).to_pandas().set_index("customer_id")
        rfm = rfm_table(purchases, as_of).select("customer_id", "recency_days", "frequency", "monetary_total")
        rfm = rfm.to_pandas().set_index("customer_id")
        hist = hist.join(rfm, how="outer")
        hist["frequency_log"] = np.log1p(hist["frequency"])
        hist["recency_log"] = np.log1p(hist["recency_days"])
        if frame is None:
            frame = hist
        else:
            frame = frame.join(hist, how="left")
            frame["frequency"] = frame["frequency"].fillna(0)
            frame["monetary_total"] = frame["monetary_total"].fillna(0.0)
            frame["frequency_log"] = frame["frequency_log"].fillna(0.0)
    frame.index = frame.index.astype(str)
    frame.index.name = "customer_id"
    return frame.sort_index()


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------
def _block_of(name: str) -> str:
    return name.split("__", 1)[0]


class BlockScaler(TransformerMixin, BaseEstimator):
    """Re-weights the columns of each feature block (prefix before ``__``) so every block has the
    same total variance (times its weight), after giving indicator/share columns the chi-square
    weight of FAMD. Without it a block with many one-hot columns, or a block of near-constant
    shares, would count more or less than the others by accident."""

    def __init__(self, feature_names=None, weights: Mapping[str, float] | None = None):
        self.feature_names = feature_names
        self.weights = weights

    def fit(self, X, y=None):
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
        return np.asarray(X, dtype=float) * self.factors_


def _preprocessor(frame: pd.DataFrame) -> ColumnTransformer:
    parts = []
    for block, column in _NUMERIC_COLUMNS.items():
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


def _natural(frame: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    """Features in readable units (years, shares, log-won), for profiles and id matching."""
    out = {}
    for column in _NUMERIC_COLUMNS.values():
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


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------
class CustomerSegmenter(ClusterMixin, BaseEstimator):
    """Customer-type segments on mixed profile and purchase-history features.

    Args:
        k_range: smallest and largest number of segments to try (inclusive).
        random_state: seed for KMeans and sampling.
        sample_size: customers used for the silhouette of each K (silhouette is quadratic).
        search_size: customers used to fit the K search; the chosen K is then fitted on all.
        n_init: KMeans restarts per K.
        block_weights: optional weight per feature block (default 1 each, see :class:`BlockScaler`).
        n_threads: BLAS/OpenMP threads (1 by default: on a shared machine more threads spin and
            run several times slower).

    Learned: ``k_``, ``kmeans_``, ``preprocessor_``, ``scaler_``, ``k_curve_`` (k, inertia,
    silhouette, chosen), ``profiles_`` (one row per segment), ``centers_natural_``, ``id_map_``,
    ``one_row_`` (what :func:`assign_segment` needs for one customer, as plain arrays and dicts).
    """

    def __init__(
        self,
        k_range: tuple[int, int] = (2, 10),
        random_state: int = 0,
        sample_size: int = 5000,
        search_size: int = 50_000,
        n_init: int = 4,
        block_weights: Mapping[str, float] | None = None,
        n_threads: int | None = 1,
    ):
        self.k_range = k_range
        self.random_state = random_state
        self.sample_size = sample_size
        self.search_size = search_size
        self.n_init = n_init
        self.block_weights = block_weights
        self.n_threads = n_threads

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None, *, reference: CustomerSegmenter | None = None, vehicles=None):
        """Fit on a :func:`segment_frame`. ``reference``: a previous segmenter whose ids to keep;
        ``vehicles``: the line-up (model, body_type, powertrain, brand, base_price), so a new
        customer's interest model can be read."""
        with threadpool_limits(self.n_threads):
            return self._fit(X, reference, vehicles)

    def _fit(self, X: pd.DataFrame, reference, vehicles):
        if not isinstance(X, pd.DataFrame):
            raise InputError("the segmenter needs a customer frame", expected="a DataFrame from segment_frame()")
        lo, hi = int(self.k_range[0]), int(self.k_range[1])
        if lo < 2 or hi < lo:
            raise InputError(f"k_range {self.k_range} is not a range", column="k_range", expected="2 ≤ min ≤ max")
        n = len(X)
        if n < max(3 * lo, 20):
            raise DataTooThinError(f"{n} customers are too few to segment (need at least {max(3 * lo, 20)})")
        hi = min(hi, max(lo, n // 10))
        rng = np.random.default_rng(self.random_state)

        self.feature_names_in_ = np.array(X.columns, dtype=object)
        self.levels_ = {
            b: [str(v) for v in X[b].dropna().astype(str).value_counts().index[:_MAX_LEVELS]]
            for b in CATEGORY_BLOCKS
            if b in X.columns
        }
        self.preprocessor_ = _preprocessor(X).fit(X)
        names = list(self.preprocessor_.get_feature_names_out())
        self.scaler_ = BlockScaler(names, self.block_weights).fit(self.preprocessor_.transform(X))
        Z = self._encode(X)
        self.block_means_ = {b: Z[:, self.scaler_.blocks_ == b].mean(axis=0) for b in self.scaler_.block_names_}

        search_idx = rng.choice(n, size=min(n, self.search_size), replace=False)
        Zs = Z[search_idx]
        sil_idx = rng.choice(len(Zs), size=min(len(Zs), self.sample_size), replace=False)
        curve, fits = [], {}
        for k in range(lo, hi + 1):
            km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(Zs)
            if k < len(sil_idx):
                values = silhouette_samples(Zs[sil_idx], km.labels_[sil_idx])
                sil, se = float(values.mean()), float(values.std() / math.sqrt(len(values)))
            else:
                sil, se = float("nan"), float("nan")
            curve.append({"k": k, "inertia": float(km.inertia_) * n / len(Zs), "silhouette": sil, "silhouette_se": se})
            fits[k] = km
        curve_frame = pd.DataFrame(curve)
        best = choose_k(curve_frame)
        curve_frame["elbow"] = curve_frame["k"] == elbow_k(curve_frame)
        curve_frame["chosen"] = curve_frame["k"] == best
        self.k_curve_ = curve_frame
        self.k_ = best
        km = fits[best]
        if len(Zs) < n:
            km = KMeans(n_clusters=best, init=km.cluster_centers_, n_init=1, random_state=self.random_state).fit(Z)
        self.kmeans_ = km
        labels = km.predict(Z)  # the search ran on a shuffled sample: labels_ are in its order

        natural = _natural(X, self.levels_)
        raw_centers = natural.groupby(labels).mean()
        sizes = np.bincount(labels, minlength=best)
        self.id_map_ = self._stable_ids(raw_centers, sizes, natural, reference)
        ids = self.id_map_[labels]
        self.centers_natural_ = natural.groupby(ids).mean().sort_index()
        self.overall_natural_ = natural.mean()
        self.overall_std_ = natural.std(ddof=0).replace(0, np.nan)
        self.age_median_ = X.groupby(ids)["age"].median() if "age" in X.columns else None
        self.profiles_ = self._profiles(X, ids)
        self.vehicle_lookup_ = _vehicle_lookup(vehicles)
        self.new_customer_defaults_ = self._new_customer_defaults(X)
        self.n_customers_ = n
        self.one_row_ = _one_row_state(self)
        return self

    def _encode(self, X: pd.DataFrame) -> np.ndarray:
        return self.scaler_.transform(self.preprocessor_.transform(X))

    def _stable_ids(self, centers: pd.DataFrame, sizes, natural: pd.DataFrame, reference) -> np.ndarray:
        """Map KMeans labels to segment ids: biggest segment first, or the id of the nearest segment
        of ``reference`` (Hungarian matching on centres in readable units, scaled by the spread of
        each feature in the new data); segments with no counterpart get fresh ids."""
        k = len(centers)
        order = np.argsort(-np.asarray(sizes), kind="stable")
        id_map = np.empty(k, dtype=int)
        id_map[order] = np.arange(k)
        if reference is None:
            return id_map
        ref = getattr(reference, "centers_natural_", None)
        if ref is None:
            raise ModelError("the reference segmenter is not fitted")
        common = [c for c in centers.columns if c in ref.columns]
        if not common:
            return id_map
        scale = natural[common].std(ddof=0).replace(0, 1.0).to_numpy()
        new = centers[common].to_numpy() / scale
        old = ref[common].to_numpy() / scale
        cost = ((new[:, None, :] - old[None, :, :]) ** 2).sum(axis=2)
        rows, cols = linear_sum_assignment(cost)
        id_map = np.full(k, -1)
        for r, c in zip(rows, cols, strict=True):
            id_map[r] = int(ref.index[c])
        next_id = int(max(ref.index)) + 1
        for label in order:  # unmatched (K grew): fresh ids, biggest first
            if id_map[label] < 0:
                id_map[label] = next_id
                next_id += 1
        return id_map

    def _new_customer_defaults(self, X: pd.DataFrame) -> dict[str, float]:
        """RFM a brand-new customer would have: the median of customers with one purchase among the
        most recent fifth (or of everyone, when there are no such customers)."""
        out = {}
        if "recency_log" in X.columns and "frequency" in X.columns:
            recent = X["recency_log"] <= X["recency_log"].quantile(0.2)
            new = X[recent & (X["frequency"] == 1)]
            pool = new if len(new) >= 10 else X
            out["recency_log"] = float(pool["recency_log"].median())
            out["frequency_log"] = float(np.log1p(1))
            out["price_log_new"] = float(pool["price_log"].median()) if "price_log" in pool else float("nan")
        return out

    # -- reading -------------------------------------------------------------------------------
    def _check(self, X) -> pd.DataFrame:
        if not hasattr(self, "kmeans_"):
            raise ModelError("the segmenter is not fitted")
        if not isinstance(X, pd.DataFrame):
            raise InputError("the segmenter needs a customer frame", expected="a DataFrame from segment_frame()")
        X = X.copy()
        for column in self.feature_names_in_:
            if column not in X.columns:
                X[column] = np.nan
        return X[list(self.feature_names_in_)]

    def _ordered_centers(self) -> np.ndarray:
        """KMeans centres in segment-id order."""
        order = np.argsort(self.id_map_)
        return self.kmeans_.cluster_centers_[order]

    @property
    def segment_ids_(self) -> np.ndarray:
        return np.sort(self.id_map_)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Distance of each customer to each segment centre (columns in ``segment_ids_`` order)."""
        with threadpool_limits(self.n_threads):
            Z = self._encode(self._check(X))
        centers = self._ordered_centers()
        return np.sqrt(((Z[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.segment_ids_[self.transform(X).argmin(axis=1)]

    def assignments(self, X: pd.DataFrame) -> pd.DataFrame:
        """customer_id, segment_id, distance, margin (runner-up distance minus the chosen one)."""
        d = self.transform(X)
        part = np.sort(d, axis=1)
        return pd.DataFrame(
            {
                "customer_id": X.index.astype(str),
                "segment_id": self.segment_ids_[d.argmin(axis=1)],
                "distance": part[:, 0],
                "margin": part[:, 1] - part[:, 0] if d.shape[1] > 1 else np.nan,
            }
        )

    # -- profiles ------------------------------------------------------------------------------
    def _profiles(self, X: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
        rows = []
        total_n = len(X)
        money = X["monetary_total"] if "monetary_total" in X.columns else None
        for seg in sorted(np.unique(ids)):
            mask = ids == seg
            features = self.describe(int(seg))
            rows.append(
                {
                    "segment_id": int(seg),
                    "size": int(mask.sum()),
                    "share": float(mask.sum() / total_n),
                    "value": float(money[mask].mean()) if money is not None else None,
                    "value_total": float(money[mask].sum()) if money is not None else None,
                    "profile_ko": self._profile_text(features, "ko"),
                    "profile_en": self._profile_text(features, "en"),
                    "top_features": json.dumps(features, ensure_ascii=False),
                }
            )
        return pd.DataFrame(rows)

    def describe(self, segment_id: int) -> list[dict]:
        """The features that set a segment apart, most distinguishing first: for each level its
        share in the segment, in the whole base, and the lift; for numbers a z-score."""
        center = self.centers_natural_.loc[segment_id]
        items: list[dict] = []
        best_per_block: dict[str, dict] = {}
        for column, value in center.items():
            base = float(self.overall_natural_[column])
            if "=" in column or column == "repeat":
                block = column.split("=", 1)[0] if "=" in column else "repeat"
                level = column.split("=", 1)[1] if "=" in column else "repeat"
                if base <= 0:
                    continue
                lift = float(value) / base
                item = {
                    "feature": column,
                    "block": block,
                    "level": level,
                    "segment_value": round(float(value), 4),
                    "base_value": round(base, 4),
                    "lift": round(lift, 3),
                }
                if lift >= _MIN_LIFT and value >= _MIN_SHARE:
                    if block not in best_per_block or lift > best_per_block[block]["lift"]:
                        best_per_block[block] = item
                elif block == "repeat" and lift <= 1 / _MIN_LIFT and base >= 0.1:
                    item["level"] = "first_time"
                    best_per_block[block] = item
            else:
                std = float(self.overall_std_.get(column, np.nan))
                z = (float(value) - base) / std if std == std and std > 0 else 0.0
                block = {v: k for k, v in _NUMERIC_COLUMNS.items()}[column]
                item = {
                    "feature": column,
                    "block": block,
                    "level": None,
                    "segment_value": round(float(value), 4),
                    "base_value": round(base, 4),
                    "z": round(z, 3),
                }
                if block == "age" and self.age_median_ is not None:
                    item["level"] = _decade(self.age_median_.get(segment_id))
                    items.append(item)
                elif abs(z) >= _HIGH_Z and block in ("price", "recency", "frequency"):
                    item["level"] = "high" if z > 0 else "low"
                    best_per_block[block] = item
        # Product and value words first (what a dealer sells on), then who and where.
        ranked = sorted(
            best_per_block.values(),
            key=lambda i: (_WORD_ORDER.index(i["block"]), -(i.get("lift") or (1 + abs(i.get("z", 0))))),
        )
        return items + ranked

    def _profile_text(self, features: list[dict], lang: str) -> str:
        words = []
        for item in features:
            word = profile_word(item, lang)
            if word and word not in words:
                words.append(word)
            if len(words) >= 6:
                break
        return " · ".join(words) if words else t("segment.profile.mixed", lang)


def elbow_k(curve: pd.DataFrame) -> int:
    """The elbow of the inertia curve (Kneedle): the k farthest below the straight line from the
    first to the last point, both axes scaled to 0–1."""
    k = curve["k"].to_numpy(dtype=float)
    inertia = curve["inertia"].to_numpy(dtype=float)
    if len(k) < 3 or inertia[0] == inertia[-1]:
        return int(k[0])
    x = (k - k[0]) / (k[-1] - k[0])
    y = (inertia - inertia[-1]) / (inertia[0] - inertia[-1])
    return int(k[np.argmax((1 - x) - y)])


def choose_k(curve: pd.DataFrame) -> int:
    """The k with the best silhouette; when several are within one standard error of the best
    (silhouette cannot tell them apart on this sample), the one nearest the inertia elbow."""
    valid = curve.dropna(subset=["silhouette"])
    if valid.empty:
        return elbow_k(curve)
    top = valid.loc[valid["silhouette"].idxmax()]
    se = float(top.get("silhouette_se", 0.0) or 0.0)
    tied = valid[valid["silhouette"] >= top["silhouette"] - se]
    if len(tied) == 1:
        return int(top["k"])
    elbow = elbow_k(curve)
    return int(tied.assign(gap=(tied["k"] - elbow).abs()).sort_values(["gap", "k"]).iloc[0]["k"])


def _vehicle_lookup(vehicles) -> dict[str, dict]:
    if vehicles is None:
        return {}
    if not isinstance(vehicles, pd.DataFrame):
        vehicles = vehicles.to_pandas()
    out = {}
    for row in vehicles.to_dict("records"):
        out[str(row["model"])] = {
            k: (None if row.get(k) is None or row.get(k) != row.get(k) else row.get(k))
            for k in ("brand", "body_type", "powertrain", "base_price")
        }
    return out


def _decade(age) -> int | None:
    if age is None or age != age:
        return None
    return int(age // 10 * 10)


def profile_word(item: dict, lang: str) -> str | None:
    """The plain word for one distinguishing feature (``describe`` item)."""
    block, level = item["block"], item.get("level")
    if block == "age":
        return t("segment.word.age", lang, decade=level) if level is not None else None
    if block == "price":
        return t(f"segment.word.price_{level}", lang)
    if block == "recency":
        # high recency days = long ago
        return t("segment.word.lapsed" if level == "high" else "segment.word.recent", lang)
    if block == "frequency":
        return t("segment.word.repeat", lang) if level == "high" else None
    if block == "repeat":
        return t("segment.word.first_time" if level == "first_time" else "segment.word.repeat", lang)
    key = f"segment.level.{block}.{level}"
    text = t(key, lang)
    if text == key:
        text = str(level)
    if block == "payment":
        return t("segment.word.payment", lang, payment=text)
    if block == "channel":
        return t("segment.word.channel", lang, channel=text)
    return text


# ---------------------------------------------------------------------------------------------
# A new customer at the desk
# ---------------------------------------------------------------------------------------------
_GENDER_WORDS = {"m": "M", "male": "M", "man": "M", "남": "M", "남성": "M", "남자": "M",
                 "f": "F", "female": "F", "woman": "F", "여": "F", "여성": "F", "여자": "F"}  # fmt: skip


def _validate_fields(fields: Mapping, model: CustomerSegmenter) -> dict:
    if not isinstance(fields, Mapping):
        raise InputError("customer fields must be an object", expected="{" + ", ".join(SEGMENT_FIELDS) + "}")
    unknown = [k for k in fields if k not in SEGMENT_FIELDS]
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(map(str, unknown))}",
            column=str(unknown[0]),
            expected="one of " + ", ".join(SEGMENT_FIELDS),
        )
    clean: dict = {}
    for key, value in fields.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key == "age":
            try:
                age = float(str(value).strip())
            except ValueError:
                raise InputError(
                    f"age '{value}' is not a number", column="age", expected=SEGMENT_FIELDS["age"]
                ) from None
            if not 16 <= age <= 100:
                raise InputError(f"age {value} is out of range", column="age", expected=SEGMENT_FIELDS["age"])
            clean["age"] = age
        elif key == "budget":
            try:
                budget = float(str(value).replace(",", "").replace("₩", "").strip())
            except ValueError:
                raise InputError(
                    f"budget '{value}' is not a number", column="budget", expected=SEGMENT_FIELDS["budget"]
                ) from None
            if not budget > 0 or not math.isfinite(budget):
                raise InputError(f"budget {value} must be positive", column="budget", expected=SEGMENT_FIELDS["budget"])
            clean["budget"] = budget
        elif key == "gender":
            code = _GENDER_WORDS.get(str(value).strip().lower())
            if code is None:
                raise InputError(f"unknown gender code '{value}'", column="gender", expected=SEGMENT_FIELDS["gender"])
            clean["gender"] = code
        elif key == "body_type":
            body = str(value).strip().lower()
            if body not in S.BODY_TYPES:
                raise InputError(
                    f"unknown body type '{value}'", column="body_type", expected=SEGMENT_FIELDS["body_type"]
                )
            clean["body_type"] = body
        elif key == "payment_type":
            pay = str(value).strip().lower()
            if pay not in S.PAYMENT_TYPES:
                raise InputError(
                    f"unknown payment type '{value}'", column="payment_type", expected=SEGMENT_FIELDS["payment_type"]
                )
            clean["payment_type"] = pay
        elif key == "interest_model":
            name = str(value).strip()
            lookup = getattr(model, "vehicle_lookup_", {}) or {}
            if lookup:
                match = {m.lower(): m for m in lookup}.get(name.lower())
                if match is None:
                    raise InputError(
                        f"unknown model '{value}'",
                        column="interest_model",
                        expected="one of " + ", ".join(sorted(lookup)),
                    )
                name = match
            clean["interest_model"] = name
        else:
            clean[key] = str(value).strip()
    return clean


def assign_segment(model: CustomerSegmenter, fields: Mapping, lang: str = "ko") -> dict:
    """The segment of a new customer from what a dealer types in, with the features that decided it.

    Fields (all optional): see :data:`SEGMENT_FIELDS`. Missing fields are imputed (categories with
    the base's mix, numbers with the base's median) and listed under ``imputed``; purchase history
    a new customer cannot have (frequency, recency) is set as for the base's recent first-time
    buyers. Returns segment_id, profile (ko/en), decided_by (per feature block: how much it pulls
    towards the chosen segment rather than the runner-up), runner_up, imputed, notes.
    """
    return _assign(model, fields, lang, fast=True)


def _assign(model: CustomerSegmenter, fields: Mapping, lang: str, *, fast: bool) -> dict:
    if not hasattr(model, "kmeans_"):
        raise ModelError("the segmenter is not fitted")
    clean = _validate_fields(fields, model)
    row, given_blocks, notes = _new_customer_row(model, clean, lang)
    state = _one_row_of(model) if fast else None
    if state is None:
        return _score_full(model, row, given_blocks, notes, lang)
    return _score_one_row(state, row, given_blocks, notes, lang)


def _new_customer_row(model: CustomerSegmenter, clean: dict, lang: str) -> tuple[dict, set[str], list[str]]:
    """The raw feature row of a new customer (NaN where unknown), the blocks given, and notes."""
    row: dict = {c: np.nan for c in model.feature_names_in_}
    given_blocks: set[str] = set()
    notes: list[str] = []
    names = set(model.feature_names_in_)

    def set_share(block: str, level: str) -> None:
        cols = [c for c in names if c.startswith(f"{block}=")]
        if not cols:
            return
        if f"{block}={level}" not in names:
            notes.append(t("segment.note.unseen_level", lang, field=block, value=level))
            return
        for c in cols:
            row[c] = 1.0 if c == f"{block}={level}" else 0.0
        given_blocks.add(block)

    if "age" in clean and "age" in names:
        row["age"] = clean["age"]
        given_blocks.add("age")
    for block in CATEGORY_BLOCKS:
        if block in clean and block in names:
            row[block] = clean[block]
            if clean[block] not in model.levels_.get(block, []):
                notes.append(t("segment.note.unseen_level", lang, field=block, value=clean[block]))
            else:
                given_blocks.add(block)
    vehicle = (model.vehicle_lookup_ or {}).get(clean.get("interest_model")) if "interest_model" in clean else None
    body = clean.get("body_type") or (vehicle or {}).get("body_type")
    if body:
        set_share("body_type", body)
    if vehicle:
        for block, key in (("powertrain", "powertrain"), ("brand", "brand")):
            if vehicle.get(key):
                set_share(block, vehicle[key])
    if "payment_type" in clean:
        set_share("payment", clean["payment_type"])
    price = clean.get("budget") or (vehicle or {}).get("base_price")
    if price and "price_log" in names:
        row["price_log"] = math.log(price)
        given_blocks.add("price")
    defaults = model.new_customer_defaults_
    for column in ("recency_log", "frequency_log"):
        if column in names and column in defaults:
            row[column] = defaults[column]
            given_blocks.add(column.split("_")[0])
    if (
        "price_log" in names
        and row.get("price_log") != row.get("price_log")
        and defaults.get("price_log_new") == defaults.get("price_log_new")
    ):
        row["price_log"] = defaults["price_log_new"]

    return row, given_blocks, notes


def _score_full(model: CustomerSegmenter, row: dict, given_blocks: set[str], notes: list[str], lang: str) -> dict:
    """Scores the row through the fitted ColumnTransformer: the reference for :func:`_score_one_row`
    and the path for models whose preprocessing the one-row encoder does not know."""
    frame = pd.DataFrame([row], index=pd.Index(["new"], name="customer_id"))
    Z = model._encode(model._check(frame))[0]
    blocks = model.scaler_.blocks_
    # A missing field is filled with the base's mix and then left out of the distance: the
    # customer is compared with every segment on what we know, so a blank never decides.
    imputed = [b for b in model.scaler_.block_names_ if b not in given_blocks]
    for block in imputed:
        Z[blocks == block] = model.block_means_[block]
    known = ~np.isin(blocks, imputed)
    centers = model._ordered_centers()
    d2 = (((centers - Z) ** 2) * known).sum(axis=1)
    order = np.argsort(d2, kind="stable")
    ids = model.segment_ids_
    chosen, runner = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    contrib = ((Z - centers[runner]) ** 2 - (Z - centers[chosen]) ** 2) * known
    per_block = pd.Series(contrib).groupby(blocks).sum()
    decided = [
        {
            "feature": block,
            "label": t(f"segment.block.{block}", lang),
            "pull": round(float(v), 4),
            "imputed": block in imputed,
            "assumed_new_customer": block in ("recency", "frequency"),
        }
        for block, v in per_block.sort_values(ascending=False).items()
    ]
    if imputed:
        notes.append(t("segment.note.imputed", lang, fields=", ".join(t(f"segment.block.{b}", lang) for b in imputed)))
    if {"recency", "frequency"} & set(model.scaler_.block_names_):
        notes.append(t("segment.note.new_history", lang))
    profile = model.profiles_.set_index("segment_id").loc[int(ids[chosen])]
    return {
        "segment_id": int(ids[chosen]),
        "profile_ko": profile["profile_ko"],
        "profile_en": profile["profile_en"],
        "profile": profile[f"profile_{lang}"] if f"profile_{lang}" in profile else profile["profile_en"],
        "distance": float(math.sqrt(d2[chosen])),
        "runner_up": int(ids[runner]),
        "runner_up_distance": float(math.sqrt(d2[runner])),
        "decided_by": decided,
        "imputed": sorted(b for b in imputed),
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------------
# One customer without pandas or the ColumnTransformer
# ---------------------------------------------------------------------------------------------
# A desk request scores one row; building a DataFrame and running the ColumnTransformer on it costs
# tens of milliseconds, nearly all overhead. The fitted steps are read once into plain arrays and
# dicts and one row is encoded with the same floating-point operations, so the result is
# bit-identical to the full path (tests/customers/test_segments.py compares the two).
_UNSEEN = "\x00unseen level\x00"
# Models saved before ``one_row_`` existed get their state built on first use, kept beside them.
_ONE_ROW_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _one_row_of(model: CustomerSegmenter) -> dict | None:
    if hasattr(model, "one_row_"):
        return model.one_row_
    try:
        return _ONE_ROW_CACHE[model]
    except KeyError:
        state = _one_row_state(model)
        _ONE_ROW_CACHE[model] = state
        return state
    except TypeError:  # not weak-referenceable: build each time rather than fail
        return _one_row_state(model)


def _one_row_state(model: CustomerSegmenter) -> dict | None:
    """What scoring one new customer needs, read from the fitted preprocessing: per numeric column
    its fill value, mean and scale; per category column the one-hot vector of every level (and of
    a missing and an unseen value); per share column its fill value; the block factors, centres,
    ids and profiles. None when the preprocessing has a step this encoder does not know, so the
    caller uses the ColumnTransformer instead."""
    pre, scaler = model.preprocessor_, model.scaler_
    if not isinstance(pre, ColumnTransformer) or not isinstance(scaler, BlockScaler):
        return None
    width = len(scaler.factors_)
    numeric, shares, categories = [], [], []
    covered = 0
    for name, step, columns in pre.transformers_:
        part = pre.output_indices_.get(name)
        if isinstance(step, str):
            if step == "drop" or part is None or part.stop == part.start:
                continue
            return None
        if part is None:
            return None
        steps = [s for _, s in step.steps] if isinstance(step, Pipeline) else [step]
        imputer, rest = steps[0], steps[1:]
        if not isinstance(imputer, SimpleImputer) or imputer.add_indicator:
            return None
        columns = list(columns)
        if not rest and part.stop - part.start == len(columns):
            shares.extend(
                (c, part.start + i, float(v)) for i, (c, v) in enumerate(zip(columns, imputer.statistics_, strict=True))
            )
        elif len(columns) == 1 and len(rest) == 1 and isinstance(rest[0], StandardScaler):
            mean = float(rest[0].mean_[0]) if rest[0].with_mean else 0.0
            scale = float(rest[0].scale_[0]) if rest[0].with_std else 1.0
            numeric.append((columns[0], part.start, float(imputer.statistics_[0]), mean, scale))
        elif len(columns) == 1 and len(rest) == 1 and isinstance(rest[0], OneHotEncoder):
            # The fitted pipeline itself encodes every level once, so infrequent levels, the fill
            # for missing values and unknown levels come out exactly as in the full path.
            levels = list(rest[0].categories_[0])
            probe = pd.DataFrame({columns[0]: [*levels, np.nan, _UNSEEN]}, dtype=object)
            vectors = np.asarray(step.transform(probe), dtype=float)
            if vectors.shape[1] != part.stop - part.start:
                return None
            table = {level: vectors[i] for i, level in enumerate(levels)}
            categories.append((columns[0], part, table, vectors[-2], vectors[-1]))
        else:
            return None
        covered += part.stop - part.start
    if covered != width:
        return None
    blocks = np.asarray(scaler.blocks_)
    groups = sorted(set(blocks.tolist()))  # pandas' groupby order in the full path
    profiles = model.profiles_.set_index("segment_id")
    return {
        "width": width,
        "numeric": numeric,
        "shares": shares,
        "categories": categories,
        "factors": np.array(scaler.factors_, dtype=float),
        "block_names": list(scaler.block_names_),
        "block_masks": {b: blocks == b for b in scaler.block_names_},
        "block_means": {b: np.asarray(model.block_means_[b]) for b in scaler.block_names_},
        "groups": groups,
        "group_columns": [np.flatnonzero(blocks == g).tolist() for g in groups],
        "centers": model._ordered_centers(),
        "segment_ids": [int(i) for i in model.segment_ids_],
        "profiles": {
            int(seg): {c: v for c, v in row.items() if str(c).startswith("profile_")}
            for seg, row in profiles.to_dict("index").items()
        },
    }


def _encode_one(state: dict, row: Mapping) -> np.ndarray:
    """One raw feature row → the scaled vector ``model._encode`` gives for it."""
    raw = np.empty(state["width"])
    for column, index, fill, mean, scale in state["numeric"]:
        value = float(row.get(column, np.nan))
        raw[index] = ((fill if value != value else value) - mean) / scale
    for column, index, fill in state["shares"]:
        value = float(row.get(column, np.nan))
        raw[index] = fill if value != value else value
    for column, part, table, missing, unseen in state["categories"]:
        value = row.get(column, np.nan)
        # Only NaN is missing to SimpleImputer; None is a level of its own there, and here.
        if isinstance(value, float) and value != value:
            raw[part] = missing
        else:
            raw[part] = table.get(value, unseen)
    return raw * state["factors"]


def _compensated_sum(values) -> float:
    """Kahan summation in the order given, as pandas' grouped sum does, so block pulls match the
    full path to the last bit."""
    total = compensation = 0.0
    for value in values:
        y = value - compensation
        t_ = total + y
        compensation = t_ - total - y
        if compensation != compensation:
            compensation = 0.0
        total = t_
    return total


def _score_one_row(state: dict, row: dict, given_blocks: set[str], notes: list[str], lang: str) -> dict:
    Z = _encode_one(state, row)
    masks = state["block_masks"]
    # As in _score_full: a missing field takes the base's mix and is left out of the distance.
    imputed = [b for b in state["block_names"] if b not in given_blocks]
    known = np.ones(len(Z), dtype=bool)
    for block in imputed:
        Z[masks[block]] = state["block_means"][block]
        known[masks[block]] = False
    centers = state["centers"]
    d2 = (((centers - Z) ** 2) * known).sum(axis=1)
    order = np.argsort(d2, kind="stable")
    ids = state["segment_ids"]
    chosen, runner = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    contrib = (((Z - centers[runner]) ** 2 - (Z - centers[chosen]) ** 2) * known).tolist()
    pulls = np.array([_compensated_sum(contrib[i] for i in cols) for cols in state["group_columns"]])
    # Descending with ties in the order pandas' sort_values(ascending=False) leaves them.
    positions = np.arange(len(pulls))[::-1][pulls[::-1].argsort(kind="quicksort")][::-1]
    groups = state["groups"]
    decided = [
        {
            "feature": groups[p],
            "label": t(f"segment.block.{groups[p]}", lang),
            "pull": round(float(pulls[p]), 4),
            "imputed": groups[p] in imputed,
            "assumed_new_customer": groups[p] in ("recency", "frequency"),
        }
        for p in positions
    ]
    if imputed:
        notes.append(t("segment.note.imputed", lang, fields=", ".join(t(f"segment.block.{b}", lang) for b in imputed)))
    if {"recency", "frequency"} & set(state["block_names"]):
        notes.append(t("segment.note.new_history", lang))
    profile = state["profiles"][ids[chosen]]
    return {
        "segment_id": ids[chosen],
        "profile_ko": profile["profile_ko"],
        "profile_en": profile["profile_en"],
        "profile": profile.get(f"profile_{lang}", profile["profile_en"]),
        "distance": float(math.sqrt(d2[chosen])),
        "runner_up": ids[runner],
        "runner_up_distance": float(math.sqrt(d2[runner])),
        "decided_by": decided,
        "imputed": sorted(imputed),
        "notes": notes,
    }
