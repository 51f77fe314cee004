"""Vehicle recommendation learned from purchase history: a LightGBM ranker over customer ×
candidate-model pairs, evaluated on each customer's latest purchase held out in time against
two named baselines (global popularity and the per-segment most-popular list).

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

from carsight.errors import DataTooThinError, InputError, ModelError
from carsight.i18n import t

# Fewer training purchases than this and the learned model is not trusted (popularity is used).
MIN_TRAIN_EVENTS = 200
_NUMERIC = (
    "cand_logprice",
    "cand_age_months",
    "cust_age",
    "n_prev",
    "months_since_prev",
    "prev_same_model",
    "prev_same_body",
    "prev_same_power",
    "prev_same_brand",
    "price_step",
    "lead_count",
    "lead_days_since",
    "lead_test_drive",
    "leads_any",
    "pop_recent",
    "pop_all",
    "pop_age",
    "pop_gender",
    "pop_region",
    "pop_after_prev",
)
_CATEGORICAL = ("cand_body", "cand_power", "cand_brand", "cust_gender", "cust_channel", "prev_payment")
FEATURES = _NUMERIC + _CATEGORICAL
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


@dataclass
class RecData:
    """The tables a recommender reads, as pandas frames (only ``purchases`` is required).

    purchases: customer_id, purchase_date, model, amount (payment_type optional).
    vehicles: model, brand, body_type, powertrain, base_price, launch_month, discontinued_month.
    customers: customer_id, birth_year, gender, region, channel.
    leads: customer_id, lead_date, lead_type, model.
    segments: customer_id → segment_id (as of the date the recommendations are for).
    """

    purchases: pd.DataFrame
    vehicles: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    leads: pd.DataFrame | None = None
    segments: pd.Series | None = None

    def __post_init__(self) -> None:
        p = self.purchases
        missing = [c for c in ("customer_id", "purchase_date", "model", "amount") if c not in p.columns]
        if missing:
            raise InputError(
                f"transactions lack column(s) {', '.join(missing)}",
                expected="customer_id, purchase_date, model, amount",
            )
        p = p.loc[(p["amount"].astype(float) > 0) & p["model"].notna()].copy()
        p["customer_id"] = p["customer_id"].astype(str)
        p["purchase_date"] = pd.to_datetime(p["purchase_date"]).astype("datetime64[ns]")
        p["model"] = p["model"].astype(str)
        self.purchases = p.sort_values(["purchase_date", "customer_id"], kind="stable").reset_index(drop=True)
        if self.customers is not None:
            c = self.customers.copy()
            if "customer_id" not in c.columns:  # already indexed by customer (dataclasses.replace)
                c = c.reset_index()
            c["customer_id"] = c["customer_id"].astype(str)
            self.customers = c.drop_duplicates("customer_id").set_index("customer_id")
        if self.leads is not None:
            leads = self.leads.dropna(subset=["customer_id", "model"]).copy()
            leads["customer_id"] = leads["customer_id"].astype(str)
            leads["lead_date"] = pd.to_datetime(leads["lead_date"]).astype("datetime64[ns]")
            self.leads = leads
        if self.segments is not None:
            self.segments = self.segments.copy()
            self.segments.index = self.segments.index.astype(str)

    def before(self, as_of: dt.date) -> RecData:
        """The same data as it stood on ``as_of``: purchases and leads from that day on left out, so a
        back-dated run learns nothing from its own future."""
        cut = pd.Timestamp(as_of)
        leads = None if self.leads is None else self.leads[self.leads["lead_date"] < cut]
        return replace(self, purchases=self.purchases[self.purchases["purchase_date"] < cut], leads=leads)

    @classmethod
    def from_warehouse(cls, wh, segments: pd.Series | None = None) -> RecData:
        from carsight.warehouse import schema as S

        def frame(table, columns):
            if not wh.has_table(table.name):
                return None
            t_ = wh.table(table.name)
            if int(t_.count().to_pyarrow().as_py()) == 0:
                return None
            return t_.select(*[c for c in columns if c in t_.columns]).to_pandas()

        purchases = frame(S.PURCHASES, ["customer_id", "purchase_date", "model", "amount", "payment_type"])
        if purchases is None:
            raise DataTooThinError("there are no purchases in the warehouse to learn recommendations from")
        return cls(
            purchases=purchases,
            vehicles=frame(S.VEHICLES, S.VEHICLES.column_names),
            customers=frame(S.CUSTOMERS, ["customer_id", "birth_year", "gender", "region", "channel"]),
            leads=frame(S.LEADS, ["customer_id", "lead_date", "lead_type", "model"]),
            segments=segments,
        )


def _profile(ev: pd.DataFrame, customers: pd.DataFrame | None, name: str) -> pd.Series:
    """A profile field per event: typed in on the event (a new customer) or from the customers table."""
    values = pd.Series(np.nan, index=ev.index, dtype=object)
    if customers is not None and name in customers:
        values = ev["customer_id"].map(customers[name]).astype(object)
    if name in ev:
        values = ev[name].astype(object).where(ev[name].notna(), values)
    return values.where(values.notna(), None)


def _month(values) -> np.ndarray:
    ts = pd.DatetimeIndex(pd.to_datetime(values))
    return (ts.year * 12 + ts.month - 1).to_numpy()


class VehicleRecommender(BaseEstimator):
    """Top-k vehicle models per customer from a LightGBM lambdarank model.

    Args:
        n_estimators, learning_rate, num_leaves, min_child_samples: LightGBM settings.
        lead_window_days: how far back a lead on a model counts as interest.
        random_state: seed.

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
        random_state: int = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.lead_window_days = lead_window_days
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
        events = self._events(p, data)
        self.n_train_events_ = len(events)
        self.popularity_ = p["model"].value_counts()
        self.ranker_ = None
        if len(events) < MIN_TRAIN_EVENTS:
            self.note_ = f"only {len(events)} purchases to learn from (< {MIN_TRAIN_EVENTS}): ranked by popularity"
            return self
        X, y, groups = self._pairs(events, data, p, with_labels=True)
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

    # -- events and pairs ---------------------------------------------------------------------
    @staticmethod
    def _events(p: pd.DataFrame, data: RecData) -> pd.DataFrame:
        """One row per purchase with the customer's state just before it."""
        ev = p[["customer_id", "purchase_date", "model", "amount"]].copy()
        if "payment_type" in p.columns:
            ev["payment_type"] = p["payment_type"]
        ev["date"] = ev["purchase_date"]
        ev = ev.reset_index(drop=True)
        return ev

    def _prev_state(self, ev: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
        """The customer's latest purchase strictly before each event date, and how many before it."""
        h = history[["customer_id", "purchase_date", "model", "amount"]].copy()
        if "payment_type" in history.columns:
            h["payment_type"] = history["payment_type"]
        else:
            h["payment_type"] = np.nan
        h = h.sort_values("purchase_date", kind="stable")
        h["n_prev"] = h.groupby("customer_id").cumcount() + 1
        h = h.rename(
            columns={
                "purchase_date": "prev_date",
                "model": "prev_model",
                "amount": "prev_amount",
                "payment_type": "prev_payment",
            }
        )
        left = ev[["customer_id", "date"]].reset_index().sort_values("date", kind="stable")
        merged = pd.merge_asof(
            left,
            h,
            left_on="date",
            right_on="prev_date",
            by="customer_id",
            allow_exact_matches=False,
            direction="backward",
        )
        return merged.set_index("index").sort_index()

    def _popularity(self, history: pd.DataFrame, data: RecData, months_end: int):
        """Cumulative purchase counts per month and model (and per age band/gender/region/previous
        model), so an event in month m sees only months before m."""
        m_index = {m: i for i, m in enumerate(self.models_)}
        h = history[history["model"].isin(m_index)]
        model_idx = h["model"].map(m_index).to_numpy()
        month = _month(h["purchase_date"])
        month0 = int(month.min()) if len(month) else months_end
        n_months = max(months_end - month0 + 2, 2)
        mon = np.clip(month - month0, 0, n_months - 2)
        M = len(self.models_)

        def cumulative(keys: np.ndarray, n_keys: int) -> np.ndarray:
            counts = np.zeros((n_keys, n_months, M))
            ok = keys >= 0
            np.add.at(counts, (keys[ok], mon[ok] + 1, model_idx[ok]), 1.0)
            return counts.cumsum(axis=1)  # [key, m] = purchases in months before m

        pops = {"month0": month0, "all": cumulative(np.zeros(len(h), dtype=int), 1)}
        cust = data.customers
        if cust is not None and "birth_year" in cust:
            by = h["customer_id"].map(cust["birth_year"]).astype(float).to_numpy()
            age = pd.DatetimeIndex(h["purchase_date"]).year.to_numpy() - by
            band = np.where(np.isnan(age), -1, np.clip(age // 10, 1, 8) - 1).astype(int)
            pops["age"] = cumulative(band, 8)
        if cust is not None and "gender" in cust:
            g = h["customer_id"].map(cust["gender"]).astype("string")
            genders = self.categories_["cust_gender"]
            pops["gender"] = cumulative(
                np.array([genders.index(x) if isinstance(x, str) and x in genders else -1 for x in g]),
                max(len(genders), 1),
            )
        if cust is not None and "region" in cust:
            r = h["customer_id"].map(cust["region"]).astype("string")
            pops["region"] = cumulative(
                np.array([self.regions_.index(x) if isinstance(x, str) and x in self.regions_ else -1 for x in r]),
                max(len(self.regions_), 1),
            )
        # Transitions: previous model → this model, for customers with a previous purchase.
        hs = h.sort_values("purchase_date", kind="stable")
        prev = hs.groupby("customer_id")["model"].shift(1)
        keys = prev.map(m_index).fillna(-1).astype(int).reindex(h.index).to_numpy()
        pops["after_prev"] = cumulative(keys, M)
        return pops

    def _share(
        self, pops: dict, name: str, keys: np.ndarray, months: np.ndarray, window: int | None = None
    ) -> np.ndarray:
        """Share of each model among purchases with this key before this month (smoothed towards
        the overall share, so a thin key does not swing to 0 or 1)."""
        table = pops[name]
        months = np.clip(months - pops["month0"], 0, table.shape[1] - 1)
        ok = keys >= 0
        k = np.where(ok, keys, 0)
        counts = table[k, months]
        if window:
            counts = counts - table[k, np.clip(months - window, 0, None)]
        counts = np.where(ok[:, None], counts, 0.0)
        total = counts.sum(axis=1, keepdims=True)
        overall = pops["all"][0, months]
        overall = (overall + 1) / (overall.sum(axis=1, keepdims=True) + len(self.models_))
        return (counts + 5 * overall) / (total + 5)

    def _pairs(self, ev: pd.DataFrame, data: RecData, history: pd.DataFrame, *, with_labels: bool, pops=None):
        """Candidate rows (event × models on sale at the event date) with features."""
        months = _month(ev["date"])
        if pops is None:
            pops = self._popularity(history, data, int(months.max()))
        E = len(ev)
        v = self.vehicle_
        launch = v["launch"].to_numpy(dtype="datetime64[ns]")
        end = v["end"].to_numpy(dtype="datetime64[ns]")
        dates = ev["date"].to_numpy(dtype="datetime64[ns]")
        on_sale = (np.isnat(launch)[None, :] | (launch[None, :] <= dates[:, None])) & (
            np.isnat(end)[None, :] | (end[None, :] >= dates[:, None] - np.timedelta64(31, "D"))
        )
        if with_labels:
            # the bought model is always a candidate (it was on sale, whatever the catalogue says)
            bought = pd.Index(self.models_).get_indexer(ev["model"])
            on_sale[np.arange(E)[bought >= 0], bought[bought >= 0]] = True
        e_idx, m_idx = np.nonzero(on_sale)
        prev = self._prev_state(ev, history)
        cust = data.customers
        f: dict[str, np.ndarray] = {}
        f["cand_logprice"] = np.log(v["price"].to_numpy(dtype=float))[m_idx]
        launch_m = _month(v["launch"].fillna(pd.Timestamp("1900-01-01")))
        f["cand_age_months"] = np.where(v["launch"].isna().to_numpy()[m_idx], np.nan, (months[e_idx] - launch_m[m_idx]))
        cid = ev["customer_id"]
        age = np.full(E, np.nan)
        if cust is not None and "birth_year" in cust:
            age = pd.DatetimeIndex(ev["date"]).year.to_numpy() - cid.map(cust["birth_year"]).astype(float).to_numpy()
        if "age" in ev:  # typed in for a new customer
            age = np.where(ev["age"].notna(), ev["age"].astype(float), age)
        gender, region, channel = (_profile(ev, cust, name) for name in ("gender", "region", "channel"))
        f["cust_age"] = age[e_idx]
        f["n_prev"] = prev["n_prev"].fillna(0).to_numpy(dtype=float)[e_idx]
        f["months_since_prev"] = ((ev["date"] - prev["prev_date"]).dt.days / 30.4).to_numpy(dtype=float)[e_idx]
        prev_model = prev["prev_model"].to_numpy(dtype=object)
        has_prev = pd.notna(prev_model)
        pm = pd.Index(self.models_).get_indexer(pd.Series(prev_model).fillna("\0"))
        cand = v.reset_index(drop=True)
        for name, col in (
            ("prev_same_body", "body_type"),
            ("prev_same_power", "powertrain"),
            ("prev_same_brand", "brand"),
        ):
            values = cand[col].astype(object).to_numpy()
            pv = np.where(pm >= 0, values[np.clip(pm, 0, None)], None)
            same = (pv[e_idx] == values[m_idx]) & pd.notna(values[m_idx])
            f[name] = np.where(has_prev[e_idx], same.astype(float), np.nan)
        f["prev_same_model"] = np.where(has_prev[e_idx], (pm[e_idx] == m_idx).astype(float), np.nan)
        prev_amount = prev["prev_amount"].to_numpy(dtype=float)
        if "budget" in ev:
            prev_amount = np.where(np.isnan(prev_amount), ev["budget"].astype(float).to_numpy(), prev_amount)
        f["price_step"] = f["cand_logprice"] - np.log(prev_amount)[e_idx]
        f.update(self._lead_features(ev, data, e_idx, m_idx))
        f["pop_recent"] = self._share(pops, "all", np.zeros(E, dtype=int), months, window=12)[e_idx, m_idx]
        f["pop_all"] = self._share(pops, "all", np.zeros(E, dtype=int), months)[e_idx, m_idx]
        if "age" in pops:
            band = np.where(np.isnan(age), -1, np.clip(np.nan_to_num(age) // 10, 1, 8) - 1).astype(int)
            f["pop_age"] = self._share(pops, "age", band, months)[e_idx, m_idx]
        if "gender" in pops:
            genders = self.categories_["cust_gender"]
            gk = np.array([genders.index(x) if isinstance(x, str) and x in genders else -1 for x in gender])
            f["pop_gender"] = self._share(pops, "gender", gk, months)[e_idx, m_idx]
        if "region" in pops:
            rk = np.array([self.regions_.index(x) if isinstance(x, str) and x in self.regions_ else -1 for x in region])
            f["pop_region"] = self._share(pops, "region", rk, months)[e_idx, m_idx]
        f["pop_after_prev"] = np.where(
            has_prev[e_idx], self._share(pops, "after_prev", pm, months)[e_idx, m_idx], np.nan
        )

        X = pd.DataFrame({name: f.get(name, np.full(len(e_idx), np.nan)) for name in _NUMERIC})
        cat_values = {
            "cand_body": cand["body_type"].astype(object).to_numpy()[m_idx],
            "cand_power": cand["powertrain"].astype(object).to_numpy()[m_idx],
            "cand_brand": cand["brand"].astype(object).to_numpy()[m_idx],
            "cust_gender": gender.to_numpy(dtype=object)[e_idx],
            "cust_channel": channel.to_numpy(dtype=object)[e_idx],
            "prev_payment": prev["prev_payment"].to_numpy(dtype=object)[e_idx],
        }
        for name in _CATEGORICAL:
            X[name] = pd.Categorical(cat_values[name], categories=self.categories_[name])
        if not with_labels:
            return X, e_idx, m_idx, f.get("_lead_type")
        y = (pd.Index(self.models_).get_indexer(ev["model"])[e_idx] == m_idx).astype(int)
        groups = np.bincount(e_idx, minlength=E)
        keep = groups > 0
        if not keep.all():  # events with no candidate cannot be learned from
            X = X[keep[e_idx]].reset_index(drop=True)
            y = y[keep[e_idx]]
            groups = groups[keep]
        return X, y, groups

    def _lead_features(self, ev: pd.DataFrame, data: RecData, e_idx: np.ndarray, m_idx: np.ndarray) -> dict:
        n = len(e_idx)
        out = {
            "lead_count": np.zeros(n),
            "lead_days_since": np.full(n, np.nan),
            "lead_test_drive": np.zeros(n),
            "leads_any": np.zeros(n),
        }
        leads = data.leads
        extra = ev[["interest_model"]].dropna() if "interest_model" in ev else None
        if (leads is None or leads.empty) and extra is None:
            return out
        window = pd.Timedelta(days=self.lead_window_days)
        frames = []
        if leads is not None and not leads.empty:
            left = ev[["customer_id", "date"]].reset_index().rename(columns={"index": "event"})
            j = left.merge(leads, on="customer_id", how="inner")
            j = j[(j["lead_date"] < j["date"]) & (j["lead_date"] >= j["date"] - window)]
            frames.append(j[["event", "model", "lead_date", "lead_type", "date"]])
        if extra is not None and len(extra):
            frames.append(
                pd.DataFrame(
                    {
                        "event": extra.index,
                        "model": extra["interest_model"].astype(str).to_numpy(),
                        "lead_date": ev.loc[extra.index, "date"].to_numpy(),
                        "lead_type": "interest",
                        "date": ev.loc[extra.index, "date"].to_numpy(),
                    }
                )
            )
        if not frames:
            return out
        j = pd.concat(frames, ignore_index=True)
        if j.empty:
            return out
        j["m"] = pd.Index(self.models_).get_indexer(j["model"].astype(str))
        j["days"] = (j["date"] - j["lead_date"]).dt.days
        j["td"] = (j["lead_type"] == "test_drive").astype(float)
        any_per_event = j.groupby("event").size()
        j = j[j["m"] >= 0]
        agg = j.groupby(["event", "m"]).agg(count=("days", "size"), days=("days", "min"), td=("td", "max"))
        key = pd.MultiIndex.from_arrays([e_idx, m_idx])
        agg = agg.reindex(key)
        out["lead_count"] = agg["count"].fillna(0).to_numpy()
        out["lead_days_since"] = agg["days"].to_numpy(dtype=float)
        out["lead_test_drive"] = agg["td"].fillna(0).to_numpy()
        out["leads_any"] = any_per_event.reindex(e_idx).fillna(0).to_numpy(dtype=float)
        # kept for reasons: the latest lead type per (event, model)
        latest = j.sort_values("days").drop_duplicates(["event", "m"]).set_index(["event", "m"])["lead_type"]
        out["_lead_type"] = latest.reindex(key).to_numpy(dtype=object)
        return out

    # -- scoring ------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "models_"):
            raise ModelError("the recommender is not fitted")

    def score_events(self, ev: pd.DataFrame, data: RecData, history: pd.DataFrame | None = None):
        """Scores of every candidate for each event (rows of ``ev``: customer_id, date); returns
        (frame of event, model index, score, popularity and region ranks, lead type; the features)."""
        self._check()
        history = data.purchases if history is None else history
        if self.cutoff_ is not None:
            history = history[history["purchase_date"] < pd.Timestamp(self.cutoff_)]
        X, e_idx, m_idx, lead_type = self._pairs(ev, data, history, with_labels=False)
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

    def recommend(
        self,
        data: RecData,
        *,
        customer_ids=None,
        as_of: dt.date | None = None,
        k: int = 5,
        exclude_last: bool = False,
    ) -> pd.DataFrame:
        """Top ``k`` models for existing customers (default: everyone in ``data.purchases``, plus
        customers without purchases). Columns: customer_id, rank, model, score, reason_ko, reason_en."""
        self._check()
        if k < 1:
            raise InputError(f"k={k} must be at least 1", column="k", expected="a positive whole number")
        p = data.purchases
        if as_of is None:
            as_of = (p["purchase_date"].max() + pd.Timedelta(days=1)).date() if len(p) else dt.date.today()
        if customer_ids is None:
            ids = set(p["customer_id"])
            if data.customers is not None:
                ids |= set(data.customers.index)
            customer_ids = sorted(ids)
        ev = pd.DataFrame({"customer_id": [str(c) for c in customer_ids], "date": pd.Timestamp(as_of)})
        ev["date"] = ev["date"].astype("datetime64[ns]")
        history = p[p["purchase_date"] < pd.Timestamp(as_of)]
        return self._top_k(ev, data, history, k=k, exclude_last=exclude_last)

    def recommend_profile(
        self, data: RecData, fields: dict, *, k: int = 5, as_of: dt.date | None = None, segment: int | None = None
    ) -> pd.DataFrame:
        """Top ``k`` models for a brand-new customer (profile only). ``fields``: age, gender,
        region, channel, interest_model (treated as a lead today), budget (stands in for the
        price of a previous car)."""
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
        self, ev: pd.DataFrame, data: RecData, history: pd.DataFrame, *, k: int, exclude_last: bool
    ) -> pd.DataFrame:
        scored, X = self.score_events(ev, data, history)
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
        shares = segment_shares(history, data.segments) if data.segments is not None else None
        top["region"] = _profile(ev, data.customers, "region").to_numpy(dtype=object)[top["event"].to_numpy()]
        reasons = [self._reason(r, data, shares) for r in top.itertuples()]
        top["reason_ko"] = [r[0] for r in reasons]
        top["reason_en"] = [r[1] for r in reasons]
        return top[["customer_id", "rank", "model", "score", "reason_ko", "reason_en"]].reset_index(drop=True)

    def _reason(self, row, data: RecData, shares) -> tuple[str, str]:
        """One line: how often similar customers chose the model, then the strongest fact for it."""
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
        out = []
        for lang in ("ko", "en"):
            texts = []
            if share is not None and share >= 0.01:
                texts.append(t("recommend.reason.segment_share", lang, pct=round(100 * share)))
            elif age_share is not None and age_share == age_share and age_share >= 0.01:
                texts.append(t("recommend.reason.age_share", lang, pct=round(100 * age_share)))
            if fact == "lead" and lead == "interest":
                texts.append(t("recommend.reason.interest", lang))
            elif fact == "lead":
                word = t(f"recommend.lead.{lead}", lang)
                if word.startswith("recommend.lead."):
                    word = t("recommend.lead.other", lang)
                texts.append(t("recommend.reason.recent_lead", lang, lead=word))
            elif fact == "history":
                body = self.vehicle_.at[row.model, "body_type"] if row.model in self.vehicle_.index else None
                word = t(f"segment.level.body_type.{body}", lang) if isinstance(body, str) else row.model
                key = "same_model" if getattr(row, "prev_same_model", 0) == 1 else "same_body"
                texts.append(t(f"recommend.reason.{key}", lang, body=word, model=row.model))
            elif fact == "region":
                region = t(f"segment.level.region.{row.region}", lang)
                region = row.region if region.startswith("segment.level.") else region
                texts.append(t("recommend.reason.region_popular", lang, region=region, rank=int(row.region_rank)))
            rank = getattr(row, "pop_rank", None)
            rank = int(rank) if rank is not None and rank == rank else None
            if not texts or (fact is None and rank is not None and rank <= 5):
                texts.append(t("recommend.reason.popular", lang, rank=rank or 1))
            out.append(" · ".join(texts))
        return out[0], out[1]


def segment_shares(purchases: pd.DataFrame, segments: pd.Series) -> dict:
    """(segment, model) → share of that segment's purchases that were that model."""
    seg = purchases["customer_id"].map(segments)
    frame = pd.DataFrame({"segment": seg, "model": purchases["model"]}).dropna()
    if frame.empty:
        return {}
    counts = frame.groupby(["segment", "model"]).size()
    totals = counts.groupby(level=0).transform("sum")
    return {(int(s), m): float(v) for (s, m), v in (counts / totals).items()}


# ---------------------------------------------------------------------------------------------
# Evaluation against baselines
# ---------------------------------------------------------------------------------------------
def holdout_cutoff(purchases: pd.DataFrame, test_share: float = 0.2) -> dt.date:
    """The date from which the latest purchases of the last ``test_share`` of customers (by the
    date of their latest purchase) are held out."""
    last = pd.to_datetime(purchases.groupby("customer_id")["purchase_date"].max())
    if len(last) < 50:
        raise DataTooThinError(f"{len(last)} buyers are too few to hold purchases out for evaluation")
    return pd.Timestamp(last.quantile(1 - test_share)).normalize().date()


def _metrics(ranks: np.ndarray) -> dict:
    """ranks: 1-based rank of the bought model in each list (inf when absent)."""
    ranks = np.asarray(ranks, dtype=float)
    return {
        "hit_at_3": float(np.mean(ranks <= 3)),
        "ndcg_at_5": float(np.mean(np.where(ranks <= 5, 1.0 / np.log2(ranks + 1), 0.0))),
        "n": int(len(ranks)),
    }


def evaluate_recommenders(
    data: RecData,
    *,
    cutoff: dt.date | None = None,
    test_share: float = 0.2,
    estimator: VehicleRecommender | None = None,
) -> tuple[pd.DataFrame, VehicleRecommender]:
    """hit@3 and NDCG@5 of the learned ranker and the two baselines on the same split: each
    customer's latest purchase on/after ``cutoff`` is held out; everything learns from purchases
    before ``cutoff`` only. ``data.segments`` must be segments computed from data before the cutoff
    (used by the per-segment baseline). Returns (table, the fitted estimator)."""
    p = data.purchases
    cutoff = cutoff or holdout_cutoff(p, test_share)
    cut = pd.Timestamp(cutoff)
    latest = p.sort_values("purchase_date", kind="stable").groupby("customer_id").tail(1)
    test = latest[latest["purchase_date"] >= cut].reset_index(drop=True)
    train = p[p["purchase_date"] < cut]
    if len(test) < 20:
        raise DataTooThinError(f"only {len(test)} held-out purchases after {cutoff}: too few to evaluate")
    model = (estimator or VehicleRecommender()).fit(data, cutoff=cutoff)
    ev = pd.DataFrame({"customer_id": test["customer_id"], "date": test["purchase_date"]})
    scored, _ = model.score_events(ev, data, train)
    truth = pd.Index(model.models_).get_indexer(test["model"])

    def ranks_from(score_col: str, frame: pd.DataFrame) -> np.ndarray:
        frame = frame.sort_values(["event", score_col, "m"], ascending=[True, False, True], kind="stable")
        frame = frame.assign(rank=frame.groupby("event").cumcount() + 1)
        hit = frame[frame["m"].to_numpy() == truth[frame["event"].to_numpy()]]
        r = np.full(len(test), np.inf)
        r[hit["event"].to_numpy()] = hit["rank"].to_numpy()
        return r

    # Baseline 1: most purchased models in the 12 months before the cutoff (among models on sale).
    recent = train[train["purchase_date"] >= cut - pd.DateOffset(months=12)]
    pop = recent["model"].value_counts() + 1e-6 * train["model"].value_counts().reindex(
        recent["model"].unique()
    ).fillna(0)
    pop = pop.reindex(model.models_).fillna(0).to_numpy()
    scored["pop"] = pop[scored["m"].to_numpy()]
    # Baseline 2: most purchased models in the customer's segment (segments as of the cutoff).
    rows = []
    if data.segments is not None:
        seg_of = train["customer_id"].map(data.segments)
        seg_counts = pd.DataFrame({"s": seg_of, "model": train["model"]}).dropna().groupby(["s", "model"]).size()
        event_seg = test["customer_id"].map(data.segments).to_numpy()
        lookup = {(int(s), m): c for (s, m), c in seg_counts.items()}
        seg_score = np.array(
            [
                lookup.get((int(event_seg[e]), model.models_[m]), 0.0) if event_seg[e] == event_seg[e] else 0.0
                for e, m in zip(scored["event"].to_numpy(), scored["m"].to_numpy(), strict=True)
            ]
        )
        scored["seg"] = seg_score + 1e-6 * scored["pop"]  # ties and unknown segments fall back to popularity
        rows.append({"method": "segment_popularity", **_metrics(ranks_from("seg", scored))})
    rows.insert(0, {"method": "popularity", **_metrics(ranks_from("pop", scored))})
    rows.insert(0, {"method": "learned", **_metrics(ranks_from("score", scored))})
    table = pd.DataFrame(rows)
    table.attrs.update(cutoff=str(cutoff), n_train_events=int(model.n_train_events_), n_test=int(len(test)))
    return table, model
