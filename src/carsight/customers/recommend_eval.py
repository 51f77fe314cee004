"""The recommender against its baselines.

Each customer's latest purchase held out in time, and hit@3 / NDCG@5 of the learned ranker, global
popularity and the per-segment most-popular list on the same split.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from carsight.customers.recommend import VehicleRecommender
from carsight.customers.recommend_data import RecData
from carsight.errors import DataTooThinError, InputError


def holdout_cutoff(purchases: pd.DataFrame, test_share: float = 0.2) -> dt.date:
    """The date from which the latest purchases are held out.

    The latest purchases of the last ``test_share`` of customers (by the date of their latest
    purchase) are held out from it on.
    """
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
    fitted: VehicleRecommender | None = None,
) -> tuple[pd.DataFrame, VehicleRecommender]:
    """hit@3 and NDCG@5 of the learned ranker and the two baselines on the same split.

    Each customer's latest purchase on/after ``cutoff`` is held out; everything learns from
    purchases before ``cutoff`` only. ``data.segments`` must be segments computed from data before
    the cutoff (used by the per-segment baseline). Returns (table, the fitted estimator).

    Parameters
    ----------
    data : RecData
        The purchases (and optional tables) to split.
    cutoff : datetime.date, optional
        The holdout date (default: :func:`holdout_cutoff` of ``test_share``).
    test_share : float
        Share of buyers whose latest purchase is held out when ``cutoff`` is not given.
    estimator : VehicleRecommender, optional
        The unfitted ranker to fit before ``cutoff`` (default settings when None).
    fitted : VehicleRecommender, optional
        A ranker already fitted on ``data`` with ``cutoff=cutoff`` (e.g. beside other work), used as
        it is instead of fitting one here.

    Raises
    ------
    InputError
        When ``fitted`` was fitted with another cutoff.
    """
    p = data.purchases
    cutoff = cutoff or holdout_cutoff(p, test_share)
    cut = pd.Timestamp(cutoff)
    latest = p.sort_values("purchase_date", kind="stable").groupby("customer_id").tail(1)
    test = latest[latest["purchase_date"] >= cut].reset_index(drop=True)
    train = p[p["purchase_date"] < cut]
    if len(test) < 20:
        raise DataTooThinError(f"only {len(test)} held-out purchases after {cutoff}: too few to evaluate")
    if fitted is None:
        model = (estimator or VehicleRecommender()).fit(data, cutoff=cutoff)
    elif getattr(fitted, "cutoff_", None) != cut.date():
        raise InputError(
            f"the fitted recommender learned before {getattr(fitted, 'cutoff_', None)}, not before {cut.date()}",
            column="fitted",
            expected=f"a recommender fitted with cutoff={cut.date()}",
        )
    else:
        model = fitted
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
