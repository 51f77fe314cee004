"""Customer-type segmentation.

Who the customers are (profile and purchase habits), clustered on mixed features, with K chosen from
the data, ids that stay put across re-fits, a plain-language profile per segment, and the segment of
a new customer typed in at the dealer's desk.

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

import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_samples
from threadpoolctl import threadpool_limits

from carsight.customers.segments_features import (
    CATEGORY_BLOCKS,
    MAX_LEVELS,
    NUMERIC_COLUMNS,
    BlockScaler,
    natural_features,
    preprocessor,
)
from carsight.customers.segments_one_row import one_row_state
from carsight.errors import DataTooThinError, InputError, ModelError
from carsight.i18n import t

# BlockScaler is imported here as well as used: segmenters saved before the split pickled it as
# ``carsight.customers.segments.BlockScaler`` and still load.
__all__ = ["BlockScaler", "CustomerSegmenter", "choose_k", "elbow_k", "profile_word"]

# A segment is described by a level when the level is this much more common in it than in the base
# and held by at least this share of its customers.
_MIN_LIFT = 1.5
_MIN_SHARE = 0.3
_HIGH_Z = 0.5
_WORD_ORDER = ("body_type", "powertrain", "brand", "price", "repeat", "frequency", "recency", "payment",
               "gender", "region", "channel")  # fmt: skip


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
        """Fit on a :func:`segment_frame`.

        ``reference``: a previous segmenter whose ids to keep; ``vehicles``: the line-up (model,
        body_type, powertrain, brand, base_price), so a new customer's interest model can be read.
        """
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
            b: [str(v) for v in X[b].dropna().astype(str).value_counts().index[:MAX_LEVELS]]
            for b in CATEGORY_BLOCKS
            if b in X.columns
        }
        self.preprocessor_ = preprocessor(X).fit(X)
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

        natural = natural_features(X, self.levels_)
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
        self.one_row_ = one_row_state(self)
        return self

    def _encode(self, X: pd.DataFrame) -> np.ndarray:
        return self.scaler_.transform(self.preprocessor_.transform(X))

    def _stable_ids(self, centers: pd.DataFrame, sizes, natural: pd.DataFrame, reference) -> np.ndarray:
        """Map KMeans labels to segment ids.

        Biggest segment first, or the id of the nearest segment of ``reference`` (Hungarian matching
        on centres in readable units, scaled by the spread of each feature in the new data);
        segments with no counterpart get fresh ids.
        """
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
        """RFM a brand-new customer would have.

        The median of customers with one purchase among the most recent fifth (or of everyone, when
        there are no such customers).
        """
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
        """The segment ids, in the order of the columns of :meth:`transform`."""
        return np.sort(self.id_map_)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Distance of each customer to each segment centre (columns in ``segment_ids_`` order)."""
        with threadpool_limits(self.n_threads):
            Z = self._encode(self._check(X))
        centers = self._ordered_centers()
        return np.sqrt(((Z[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The segment of each customer: the nearest segment centre."""
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
        """The features that set a segment apart, most distinguishing first.

        For each level its share in the segment, in the whole base, and the lift; for numbers a
        z-score.
        """
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
                block = {v: k for k, v in NUMERIC_COLUMNS.items()}[column]
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
    """The elbow of the inertia curve (Kneedle).

    The k farthest below the straight line from the first to the last point, both axes scaled to
    0–1.
    """
    k = curve["k"].to_numpy(dtype=float)
    inertia = curve["inertia"].to_numpy(dtype=float)
    if len(k) < 3 or inertia[0] == inertia[-1]:
        return int(k[0])
    x = (k - k[0]) / (k[-1] - k[0])
    y = (inertia - inertia[-1]) / (inertia[0] - inertia[-1])
    return int(k[np.argmax((1 - x) - y)])


def choose_k(curve: pd.DataFrame) -> int:
    """The k with the best silhouette.

    When several are within one standard error of the best (silhouette cannot tell them apart on
    this sample), the one nearest the inertia elbow.
    """
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
