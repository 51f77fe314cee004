"""The features of a purchase event for each candidate model, computed from data strictly before the event.

The customer's profile, their previous car, their leads on the candidate, and how popular the
candidate was before that month overall and among similar customers (age band, gender, region, the
same previous model). :func:`candidate_pairs` builds the rows the ranker learns from and scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from carsight.customers.recommend_data import RecData, month_index, profile_field

if TYPE_CHECKING:
    from carsight.customers.recommend import VehicleRecommender

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


def purchase_events(p: pd.DataFrame, data: RecData) -> pd.DataFrame:
    """One row per purchase with the customer's state just before it."""
    ev = p[["customer_id", "purchase_date", "model", "amount"]].copy()
    if "payment_type" in p.columns:
        ev["payment_type"] = p["payment_type"]
    ev["date"] = ev["purchase_date"]
    ev = ev.reset_index(drop=True)
    return ev


def _prev_state(ev: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
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


def popularity_tables(model: VehicleRecommender, history: pd.DataFrame, data: RecData, months_end: int) -> dict:
    """Cumulative purchase counts per month and model.

    Also per age band, gender, region and previous model, so an event in month m sees only months
    before m.
    """
    m_index = {m: i for i, m in enumerate(model.models_)}
    h = history[history["model"].isin(m_index)]
    model_idx = h["model"].map(m_index).to_numpy()
    month = month_index(h["purchase_date"])
    month0 = int(month.min()) if len(month) else months_end
    n_months = max(months_end - month0 + 2, 2)
    mon = np.clip(month - month0, 0, n_months - 2)
    M = len(model.models_)

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
        genders = model.categories_["cust_gender"]
        pops["gender"] = cumulative(
            np.array([genders.index(x) if isinstance(x, str) and x in genders else -1 for x in g]),
            max(len(genders), 1),
        )
    if cust is not None and "region" in cust:
        r = h["customer_id"].map(cust["region"]).astype("string")
        pops["region"] = cumulative(
            np.array([model.regions_.index(x) if isinstance(x, str) and x in model.regions_ else -1 for x in r]),
            max(len(model.regions_), 1),
        )
    # Transitions: previous model → this model, for customers with a previous purchase.
    hs = h.sort_values("purchase_date", kind="stable")
    prev = hs.groupby("customer_id")["model"].shift(1)
    keys = prev.map(m_index).fillna(-1).astype(int).reindex(h.index).to_numpy()
    pops["after_prev"] = cumulative(keys, M)
    return pops


def _share(
    model: VehicleRecommender, pops: dict, name: str, keys: np.ndarray, months: np.ndarray, window: int | None = None
) -> np.ndarray:
    """Share of each model among purchases with this key before this month.

    Smoothed towards the overall share, so a thin key does not swing to 0 or 1.
    """
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
    overall = (overall + 1) / (overall.sum(axis=1, keepdims=True) + len(model.models_))
    return (counts + 5 * overall) / (total + 5)


def candidate_pairs(
    model: VehicleRecommender, ev: pd.DataFrame, data: RecData, history: pd.DataFrame, *, with_labels: bool, pops=None
):
    """Candidate rows (event × models on sale at the event date) with features.

    ``pops``: the :func:`popularity_tables` of ``history`` up to the latest event's month, when
    computed beforehand (over more customers than the events are about).
    """
    months = month_index(ev["date"])
    if pops is None:
        pops = popularity_tables(model, history, data, int(months.max()))
    E = len(ev)
    v = model.vehicle_
    launch = v["launch"].to_numpy(dtype="datetime64[ns]")
    end = v["end"].to_numpy(dtype="datetime64[ns]")
    dates = ev["date"].to_numpy(dtype="datetime64[ns]")
    on_sale = (np.isnat(launch)[None, :] | (launch[None, :] <= dates[:, None])) & (
        np.isnat(end)[None, :] | (end[None, :] >= dates[:, None] - np.timedelta64(31, "D"))
    )
    if with_labels:
        # the bought model is always a candidate (it was on sale, whatever the catalogue says)
        bought = pd.Index(model.models_).get_indexer(ev["model"])
        on_sale[np.arange(E)[bought >= 0], bought[bought >= 0]] = True
    e_idx, m_idx = np.nonzero(on_sale)
    prev = _prev_state(ev, history)
    cust = data.customers
    f: dict[str, np.ndarray] = {}
    f["cand_logprice"] = np.log(v["price"].to_numpy(dtype=float))[m_idx]
    launch_m = month_index(v["launch"].fillna(pd.Timestamp("1900-01-01")))
    f["cand_age_months"] = np.where(v["launch"].isna().to_numpy()[m_idx], np.nan, (months[e_idx] - launch_m[m_idx]))
    cid = ev["customer_id"]
    age = np.full(E, np.nan)
    if cust is not None and "birth_year" in cust:
        age = pd.DatetimeIndex(ev["date"]).year.to_numpy() - cid.map(cust["birth_year"]).astype(float).to_numpy()
    if "age" in ev:  # typed in for a new customer
        age = np.where(ev["age"].notna(), ev["age"].astype(float), age)
    gender, region, channel = (profile_field(ev, cust, name) for name in ("gender", "region", "channel"))
    f["cust_age"] = age[e_idx]
    f["n_prev"] = prev["n_prev"].fillna(0).to_numpy(dtype=float)[e_idx]
    f["months_since_prev"] = ((ev["date"] - prev["prev_date"]).dt.days / 30.4).to_numpy(dtype=float)[e_idx]
    prev_model = prev["prev_model"].to_numpy(dtype=object)
    has_prev = pd.notna(prev_model)
    pm = pd.Index(model.models_).get_indexer(pd.Series(prev_model).fillna("\0"))
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
    f.update(_lead_features(model, ev, data, e_idx, m_idx))
    f["pop_recent"] = _share(model, pops, "all", np.zeros(E, dtype=int), months, window=12)[e_idx, m_idx]
    f["pop_all"] = _share(model, pops, "all", np.zeros(E, dtype=int), months)[e_idx, m_idx]
    if "age" in pops:
        band = np.where(np.isnan(age), -1, np.clip(np.nan_to_num(age) // 10, 1, 8) - 1).astype(int)
        f["pop_age"] = _share(model, pops, "age", band, months)[e_idx, m_idx]
    if "gender" in pops:
        genders = model.categories_["cust_gender"]
        gk = np.array([genders.index(x) if isinstance(x, str) and x in genders else -1 for x in gender])
        f["pop_gender"] = _share(model, pops, "gender", gk, months)[e_idx, m_idx]
    if "region" in pops:
        rk = np.array([model.regions_.index(x) if isinstance(x, str) and x in model.regions_ else -1 for x in region])
        f["pop_region"] = _share(model, pops, "region", rk, months)[e_idx, m_idx]
    f["pop_after_prev"] = np.where(has_prev[e_idx], _share(model, pops, "after_prev", pm, months)[e_idx, m_idx], np.nan)

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
        X[name] = pd.Categorical(cat_values[name], categories=model.categories_[name])
    if not with_labels:
        return X, e_idx, m_idx, f.get("_lead_type")
    y = (pd.Index(model.models_).get_indexer(ev["model"])[e_idx] == m_idx).astype(int)
    groups = np.bincount(e_idx, minlength=E)
    keep = groups > 0
    if not keep.all():  # events with no candidate cannot be learned from
        X = X[keep[e_idx]].reset_index(drop=True)
        y = y[keep[e_idx]]
        groups = groups[keep]
    return X, y, groups


def _lead_features(
    model: VehicleRecommender, ev: pd.DataFrame, data: RecData, e_idx: np.ndarray, m_idx: np.ndarray
) -> dict:
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
    window = pd.Timedelta(days=model.lead_window_days)
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
    j["m"] = pd.Index(model.models_).get_indexer(j["model"].astype(str))
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
    # kept for reasons: the latest lead type per (event, model); two on the same day, the first by name
    # (not by row order, which differs between the warehouse's reads and a distributed group's rows)
    latest = j.sort_values(["days", "lead_type"], kind="stable").drop_duplicates(["event", "m"])
    latest = latest.set_index(["event", "m"])["lead_type"]
    out["_lead_type"] = latest.reindex(key).to_numpy(dtype=object)
    return out
