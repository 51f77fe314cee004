"""Vehicle recommendation learned from purchase history.

A LightGBM ranker over customer × candidate-model pairs, evaluated on each customer's latest
purchase held out in time against two named baselines (global popularity and the per-segment
most-popular list).

Every feature of a purchase event is computed from data strictly before it: the customer's profile,
their previous car (same model/body/powertrain/brand, price step up or down), their leads on the
candidate in the last ``lead_window_days``, and how popular the candidate was before that month
overall, among customers of the same age band, gender and region, and among customers whose
previous car was the same as this customer's (item-to-item transitions). Segment ids are *not* a
model feature: a customer's segment is computed from all of their history, so for past purchases
it would leak the purchase being predicted. Segments are used for the per-segment baseline and the
"chosen by N% of similar customers" reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from carsight.customers.recommend_data import RecData, month_index, profile_field
from carsight.customers.recommend_features import candidate_pairs, popularity_tables, purchase_events
from carsight.errors import DataTooThinError, InputError, ModelError
from carsight.i18n import t

# Fewer training purchases than this and the learned model is not trusted (popularity is used).
MIN_TRAIN_EVENTS = 200
# Models not bought that the ranker learns from per purchase, drawn at random from the ~30 on sale:
# on the 50,000-customer demo, 10 halve the fit's time and leave hit@3 within 0.2 points of learning
# from all of them (0.620 vs 0.622 on 10,015 held-out purchases, standard error 0.005).
NEGATIVES_PER_PURCHASE = 10
# Which reason a feature speaks for. A recommendation's reason is a true fact about it (a recent
# lead on that model, the same body type as the last car, a top model in the region), and when
# several hold, the one whose features the trained model leans on most (total split gain) wins.
_REASON_GROUP = {
    "lead_count": "lead",
    "lead_days_since": "lead",
    "lead_test_drive": "lead",
    "prev_same_model": "history",
    "prev_same_body": "history",
    "prev_same_power": "history",
    "prev_same_brand": "history",
    "price_step": "history",
    "pop_after_prev": "history",
    "pop_age": "similar",
    "pop_gender": "similar",
    "pop_region": "region",
}


@dataclass(frozen=True)
class Population:
    """What a customer's recommendations read from every customer's purchases, not only their own.

    How popular each model was per month (overall, by age band, gender, region and previous model:
    :func:`~carsight.customers.recommend_features.popularity_tables`) and each segment's share of
    each model (:func:`segment_shares`). Computed once by :meth:`VehicleRecommender.population`
    and given to :meth:`VehicleRecommender.recommend`, a batch of customers (one group on a
    distributed warehouse's executors) gets the recommendations it gets among all of them.
    """

    popularity: dict
    segment_shares: dict | None


class VehicleRecommender(BaseEstimator):
    """Top-k vehicle models per customer from a LightGBM lambdarank model.

    Args:
        n_estimators, learning_rate, num_leaves, min_child_samples: LightGBM settings.
        lead_window_days: how far back a lead on a model counts as interest.
        negatives_per_purchase: models not bought that each purchase is learned against, drawn at
            random (None: every model on sale); the bought model is always kept.
        random_state: seed (LightGBM and the draw of negatives).

    Learned: ``models_`` (candidate names), ``ranker_`` (None when data was too thin),
    ``n_train_events_``, ``cutoff_``, ``vehicle_`` (per-model attributes), ``categories_``.
    """

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        lead_window_days: int = 180,
        negatives_per_purchase: int | None = NEGATIVES_PER_PURCHASE,
        random_state: int = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.lead_window_days = lead_window_days
        self.negatives_per_purchase = negatives_per_purchase
        self.random_state = random_state

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, data: RecData, y=None, *, cutoff: dt.date | None = None):
        """Learn from every purchase before ``cutoff`` (default: all)."""
        if not isinstance(data, RecData):
            raise InputError("the recommender needs RecData", expected="RecData(purchases=..., ...)")
        p = data.purchases
        if cutoff is not None:
            p = p[p["purchase_date"] < pd.Timestamp(cutoff)]
        if p.empty:
            raise DataTooThinError("no purchases to learn recommendations from")
        self.cutoff_ = pd.Timestamp(cutoff).date() if cutoff is not None else None
        self._learn_catalogue(data, p)
        events = purchase_events(p, data)
        self.n_train_events_ = len(events)
        self.popularity_ = p["model"].value_counts()
        self.ranker_ = None
        if len(events) < MIN_TRAIN_EVENTS:
            self.note_ = f"only {len(events)} purchases to learn from (< {MIN_TRAIN_EVENTS}): ranked by popularity"
            return self
        X, y, groups = candidate_pairs(self, events, data, p, with_labels=True)
        if self.negatives_per_purchase is not None:
            X, y, groups = sample_negatives(X, y, groups, self.negatives_per_purchase, self.random_state)
        from lightgbm import LGBMRanker

        self.ranker_ = LGBMRanker(
            objective="lambdarank",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.random_state,
            n_jobs=1,  # OpenMP threads spin badly on a shared 2-core machine
            verbose=-1,
        )
        self.ranker_.fit(X, y, group=groups)
        gain = pd.Series(self.ranker_.booster_.feature_importance("gain"), index=list(X.columns))
        by_group = gain.groupby(lambda name: _REASON_GROUP.get(name, "other")).sum()
        self.reason_order_ = tuple(
            g for g in by_group.sort_values(ascending=False).index if g in ("lead", "history", "region")
        )
        self.note_ = ""
        return self

    def _learn_catalogue(self, data: RecData, p: pd.DataFrame) -> None:
        models = sorted(
            set(p["model"]) | (set(data.vehicles["model"].astype(str)) if data.vehicles is not None else set())
        )
        self.models_ = np.array(models, dtype=object)
        v = pd.DataFrame(index=pd.Index(models, name="model"))
        if data.vehicles is not None:
            vv = data.vehicles.copy()
            vv["model"] = vv["model"].astype(str)
            v = v.join(vv.drop_duplicates("model").set_index("model"), how="left")
        for col in ("brand", "body_type", "powertrain"):
            if col not in v.columns:
                v[col] = np.nan
        if v["brand"].isna().any() and "brand" in p.columns:
            v["brand"] = v["brand"].fillna(
                p.groupby("model")["brand"].agg(lambda s: s.mode().iat[0] if len(s.mode()) else np.nan)
            )
        paid = p.groupby("model")["amount"].median()
        base = v["base_price"].astype(float) if "base_price" in v.columns else pd.Series(np.nan, index=v.index)
        v["price"] = base.fillna(paid).astype(float)
        first_sold = p.groupby("model")["purchase_date"].min()
        launch = pd.to_datetime(v["launch_month"]) if "launch_month" in v.columns else pd.Series(pd.NaT, index=v.index)
        v["launch"] = launch.fillna(first_sold)
        v["end"] = pd.to_datetime(v["discontinued_month"]) if "discontinued_month" in v.columns else pd.NaT
        self.vehicle_ = v[["brand", "body_type", "powertrain", "price", "launch", "end"]]
        self.categories_ = {
            "cand_body": sorted(v["body_type"].dropna().astype(str).unique()),
            "cand_power": sorted(v["powertrain"].dropna().astype(str).unique()),
            "cand_brand": sorted(v["brand"].dropna().astype(str).unique()),
            "cust_gender": sorted(data.customers["gender"].dropna().astype(str).unique())
            if data.customers is not None and "gender" in data.customers
            else [],
            "cust_channel": sorted(data.customers["channel"].dropna().astype(str).unique())
            if data.customers is not None and "channel" in data.customers
            else [],
            "prev_payment": sorted(p["payment_type"].dropna().astype(str).unique()) if "payment_type" in p else [],
        }
        self.regions_ = (
            sorted(data.customers["region"].dropna().astype(str).unique())
            if data.customers is not None and "region" in data.customers
            else []
        )

    # -- scoring ------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "models_"):
            raise ModelError("the recommender is not fitted")

    def score_events(
        self, ev: pd.DataFrame, data: RecData, history: pd.DataFrame | None = None, *, popularity: dict | None = None
    ):
        """Scores of every candidate for each event (rows of ``ev``.

        Customer_id, date); returns (frame of event, model index, score, popularity and region
        ranks, lead type; the features). ``popularity``: the popularity tables of
        :meth:`population`, when computed over more customers than ``history`` holds.
        """
        self._check()
        history = data.purchases if history is None else history
        if self.cutoff_ is not None:
            history = history[history["purchase_date"] < pd.Timestamp(self.cutoff_)]
        X, e_idx, m_idx, lead_type = candidate_pairs(self, ev, data, history, with_labels=False, pops=popularity)
        out = pd.DataFrame({"event": e_idx, "m": m_idx})
        if self.ranker_ is not None:
            out["score"] = self.ranker_.predict(X)
        else:
            out["score"] = X["pop_recent"].to_numpy()
        for column, name in (("pop_recent", "pop_rank"), ("pop_region", "region_rank")):
            values = pd.Series(X[column].to_numpy(), index=out.index)
            out[name] = values.groupby(out["event"]).rank(ascending=False, method="min")
        out["lead_type"] = lead_type if lead_type is not None else None
        return out, X

    def population(self, data: RecData, as_of: dt.date) -> Population:
        """What :meth:`recommend` on ``as_of`` reads from all of ``data``'s customers at once.

        Give it to :meth:`recommend` over part of the customers (``data`` holding only their rows)
        to get the recommendations they get among all of ``data``'s customers.
        """
        self._check()
        history = data.purchases[data.purchases["purchase_date"] < pd.Timestamp(as_of)]
        shares = segment_shares(history, data.segments) if data.segments is not None else None
        if self.cutoff_ is not None:  # as score_events: only purchases before the cutoff
            history = history[history["purchase_date"] < pd.Timestamp(self.cutoff_)]
        months_end = int(month_index([pd.Timestamp(as_of)])[0])
        return Population(popularity_tables(self, history, data, months_end), shares)

    def recommend(
        self,
        data: RecData,
        *,
        customer_ids=None,
        as_of: dt.date | None = None,
        k: int = 5,
        exclude_last: bool = False,
        population: Population | None = None,
    ) -> pd.DataFrame:
        """Top ``k`` models for existing customers (default: everyone in ``data.purchases``, plus customers without purchases).

        ``population``: :meth:`population` on the same ``as_of`` over all customers, when ``data``
        holds only some of them (None: computed from ``data``). Columns: customer_id, rank, model,
        score, reason_ko, reason_en.
        """
        self._check()
        if k < 1:
            raise InputError(f"k={k} must be at least 1", column="k", expected="a positive whole number")
        p = data.purchases
        if as_of is None:
            as_of = (p["purchase_date"].max() + pd.Timedelta(days=1)).date() if len(p) else dt.date.today()
        if customer_ids is None:
            customer_ids = customers_to_recommend(data)
        ev = pd.DataFrame({"customer_id": [str(c) for c in customer_ids], "date": pd.Timestamp(as_of)})
        ev["date"] = ev["date"].astype("datetime64[ns]")
        history = p[p["purchase_date"] < pd.Timestamp(as_of)]
        return self._top_k(ev, data, history, k=k, exclude_last=exclude_last, population=population)

    def recommend_profile(
        self, data: RecData, fields: dict, *, k: int = 5, as_of: dt.date | None = None, segment: int | None = None
    ) -> pd.DataFrame:
        """Top ``k`` models for a brand-new customer (profile only).

        ``fields``: age, gender, region, channel, interest_model (treated as a lead today), budget
        (stands in for the price of a previous car).
        """
        self._check()
        p = data.purchases
        if as_of is None:
            as_of = (p["purchase_date"].max() + pd.Timedelta(days=1)).date() if len(p) else dt.date.today()
        ev = pd.DataFrame({"customer_id": ["__new__"], "date": [pd.Timestamp(as_of)]})
        ev["date"] = ev["date"].astype("datetime64[ns]")
        for key in ("age", "gender", "region", "channel", "budget", "interest_model"):
            ev[key] = fields.get(key, np.nan)
        if isinstance(fields.get("interest_model"), str) and fields["interest_model"] not in set(self.models_):
            raise InputError(
                f"unknown model '{fields['interest_model']}'",
                column="interest_model",
                expected="one of " + ", ".join(self.models_),
            )
        segs = data.segments
        if segment is not None:
            segs = pd.concat([segs if segs is not None else pd.Series(dtype=int), pd.Series({"__new__": segment})])
        data = replace(data, segments=segs)
        history = p[p["purchase_date"] < pd.Timestamp(as_of)]
        return self._top_k(ev, data, history, k=k, exclude_last=False)

    def _top_k(
        self,
        ev: pd.DataFrame,
        data: RecData,
        history: pd.DataFrame,
        *,
        k: int,
        exclude_last: bool,
        population: Population | None = None,
    ) -> pd.DataFrame:
        popularity = population.popularity if population is not None else None
        scored, X = self.score_events(ev, data, history, popularity=popularity)
        if exclude_last:
            last = history.sort_values("purchase_date").groupby("customer_id")["model"].last()
            last_m = pd.Index(self.models_).get_indexer(ev["customer_id"].map(last).fillna("\0"))
            scored = scored[last_m[scored["event"].to_numpy()] != scored["m"].to_numpy()]
        scored = scored.sort_values(["event", "score", "m"], ascending=[True, False, True], kind="stable")
        scored["rank"] = scored.groupby("event").cumcount() + 1
        top = scored[scored["rank"] <= k].copy()
        facts = X.loc[top.index, ["lead_count", "prev_same_model", "prev_same_body", "pop_age"]]
        top = top.join(facts)
        # never nothing: an event whose candidates were all filtered gets the overall most popular
        missing = sorted(set(range(len(ev))) - set(top["event"]))
        if missing:
            pop = [m for m in self.popularity_.index if m in set(self.models_)][:k]
            idx = pd.Index(self.models_).get_indexer(pop)
            fill = pd.DataFrame(
                [
                    {"event": e, "m": m, "score": 0.0, "rank": r + 1, "pop_rank": r + 1}
                    for e in missing
                    for r, m in enumerate(idx)
                ]
            )
            top = pd.concat([top, fill], ignore_index=True)
        top["customer_id"] = ev["customer_id"].to_numpy()[top["event"].to_numpy()]
        top["model"] = self.models_[top["m"].to_numpy()]
        if population is not None:
            shares = population.segment_shares
        else:
            shares = segment_shares(history, data.segments) if data.segments is not None else None
        top["region"] = profile_field(ev, data.customers, "region").to_numpy(dtype=object)[top["event"].to_numpy()]
        # Rows with the same facts share their wording: build each distinct reason once.
        wording: dict[tuple, tuple[str, str]] = {}
        reasons = []
        for row in top.itertuples():
            key = self._reason_facts(row, data, shares)
            if key not in wording:
                wording[key] = self._reason_text(*key)
            reasons.append(wording[key])
        top["reason_ko"] = [r[0] for r in reasons]
        top["reason_en"] = [r[1] for r in reasons]
        return top[["customer_id", "rank", "model", "score", "reason_ko", "reason_en"]].reset_index(drop=True)

    def _reason_facts(self, row, data: RecData, shares) -> tuple:
        """What one recommendation's reason says, as a hashable tuple for :meth:`_reason_text`.

        How often similar customers chose the model (segment share, else age-band share, in whole
        percent), the strongest fact for it (a recent lead, the last car, the region) with what that
        fact names, and the model's popularity rank.
        """
        seg = data.segments.get(row.customer_id) if data.segments is not None else None
        share = shares.get((int(seg), row.model)) if shares and seg is not None and seg == seg else None
        age_share = getattr(row, "pop_age", None)
        lead = getattr(row, "lead_type", None)
        facts = {
            "lead": (getattr(row, "lead_count", 0) or 0) > 0 and isinstance(lead, str),
            "history": getattr(row, "prev_same_model", 0) == 1 or getattr(row, "prev_same_body", 0) == 1,
            "region": isinstance(getattr(row, "region", None), str) and (getattr(row, "region_rank", 99) or 99) <= 3,
        }
        fact = next((g for g in getattr(self, "reason_order_", ("lead", "history", "region")) if facts.get(g)), None)
        if share is not None and share >= 0.01:
            similar = ("segment_share", round(100 * share))
        elif age_share is not None and age_share == age_share and age_share >= 0.01:
            similar = ("age_share", round(100 * age_share))
        else:
            similar = None
        if fact == "lead":
            detail = (lead,)
        elif fact == "history":
            body = self.vehicle_.at[row.model, "body_type"] if row.model in self.vehicle_.index else None
            same = "same_model" if getattr(row, "prev_same_model", 0) == 1 else "same_body"
            detail = (row.model, body if isinstance(body, str) else None, same)
        elif fact == "region":
            detail = (row.region, int(row.region_rank))
        else:
            detail = ()
        rank = getattr(row, "pop_rank", None)
        rank = int(rank) if rank is not None and rank == rank else None
        return similar, fact, detail, rank

    def _reason_text(self, similar, fact, detail, rank) -> tuple[str, str]:
        """One line in Korean and English: how often similar customers chose the model, then the fact."""
        out = []
        for lang in ("ko", "en"):
            texts = []
            if similar is not None:
                texts.append(t(f"recommend.reason.{similar[0]}", lang, pct=similar[1]))
            if fact == "lead" and detail[0] == "interest":
                texts.append(t("recommend.reason.interest", lang))
            elif fact == "lead":
                word = t(f"recommend.lead.{detail[0]}", lang)
                if word.startswith("recommend.lead."):
                    word = t("recommend.lead.other", lang)
                texts.append(t("recommend.reason.recent_lead", lang, lead=word))
            elif fact == "history":
                model, body, key = detail
                word = t(f"segment.level.body_type.{body}", lang) if body is not None else model
                texts.append(t(f"recommend.reason.{key}", lang, body=word, model=model))
            elif fact == "region":
                region = t(f"segment.level.region.{detail[0]}", lang)
                region = detail[0] if region.startswith("segment.level.") else region
                texts.append(t("recommend.reason.region_popular", lang, region=region, rank=detail[1]))
            if not texts or (fact is None and rank is not None and rank <= 5):
                texts.append(t("recommend.reason.popular", lang, rank=rank or 1))
            out.append(" · ".join(texts))
        return out[0], out[1]


def customers_to_recommend(data: RecData) -> list:
    """Whom :meth:`VehicleRecommender.recommend` recommends to by default, in its order.

    Every customer with a purchase in ``data``, and every customer of its customers table.
    """
    ids = set(data.purchases["customer_id"])
    if data.customers is not None:
        ids |= set(data.customers.index)
    return sorted(ids)


def segment_shares(purchases: pd.DataFrame, segments: pd.Series) -> dict:
    """(segment, model) → share of that segment's purchases that were that model."""
    seg = purchases["customer_id"].map(segments)
    frame = pd.DataFrame({"segment": seg, "model": purchases["model"]}).dropna()
    if frame.empty:
        return {}
    counts = frame.groupby(["segment", "model"]).size()
    totals = counts.groupby(level=0).transform("sum")
    return {(int(s), m): float(v) for (s, m), v in (counts / totals).items()}


def sample_negatives(
    X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, negatives: int, random_state: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Each purchase's bought model and at most ``negatives`` of the others, drawn at random.

    Parameters
    ----------
    X : DataFrame
        Candidate rows, grouped by purchase (consecutive rows, sizes in ``groups``).
    y : ndarray
        1 for the bought model, 0 for the others.
    groups : ndarray
        Rows per purchase, in order.
    negatives : int
        Models not bought kept per purchase.
    random_state : int
        Seed of the draw.

    Returns
    -------
    tuple
        The kept rows, their labels and the new group sizes (same order).
    """
    if negatives < 1:
        raise InputError(f"negatives_per_purchase={negatives} must be at least 1", expected="a positive whole number")
    group = np.repeat(np.arange(len(groups)), groups)
    draw = np.random.default_rng(random_state).random(len(y))
    # Within each purchase the negatives in random order: lexsort by (draw, purchase).
    order = np.lexsort((draw, y, group))  # per group: negatives (y=0) first, in random order
    starts = np.repeat(np.cumsum(groups) - groups, groups)
    position = np.empty(len(y), dtype=np.int64)
    position[order] = np.arange(len(y)) - starts
    keep = (y == 1) | (position < negatives)
    kept_groups = np.bincount(group[keep], minlength=len(groups))
    return X[keep].reset_index(drop=True), y[keep], kept_groups
