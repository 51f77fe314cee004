"""Lifetime value on a holdout period: BG/NBD + Gamma-Gamma against the LightGBM hurdle model and a
naive baseline (each customer's past purchase rate and mean spend), on CDNOW (the classic 39 + 39
weeks) and on the 50k demo's car purchases (calibration to 2025-01-01, 365 days ahead).

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/value_clv.py [--customers 50000]
Metrics: AUROC for "any purchase in the holdout", MAE of the number of purchases, MAE of the value,
and the total predicted against the total observed. Writes bench/results/value_clv.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))

from _common import write_result  # noqa: E402
from carsight.customers.clv import HurdleCLV, clv_bgnbd, holdout_outcomes, summarise_transactions  # noqa: E402


def _cdnow() -> pd.DataFrame:
    spec = importlib.util.find_spec("lifetimes")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_master.txt"
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=0,
        names=["customer_id", "date", "cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    return pd.DataFrame(
        {"customer_id": raw.customer_id, "date": pd.to_datetime(raw.date, format="%Y%m%d"), "amount": raw.amount}
    )


def _demo(customers: int, seed: int, root: Path) -> pd.DataFrame:
    from carsight.demo import generate, load_demo
    from carsight.warehouse import connect

    generate(root / "demo", customers=customers, seed=seed)
    with connect(str(root / "demo.duckdb"), init=True) as wh:
        load_demo(wh, root / "demo")
        pur = wh.table("purchases")
        tx = pur.filter(pur.amount > 0).select("customer_id", date=pur.purchase_date, amount=pur.amount).to_pandas()
    tx["date"] = pd.to_datetime(tx.date)
    return tx


def evaluate(tx: pd.DataFrame, calibration_end: str, horizon_days: int) -> dict:
    start = time.perf_counter()
    bg, info = clv_bgnbd(tx, calibration_end, horizon_days)
    bg_s = time.perf_counter() - start
    start = time.perf_counter()
    hurdle = HurdleCLV(horizon_days=horizon_days).fit(tx, calibration_end).predict(tx, calibration_end)
    hurdle_s = time.perf_counter() - start
    summary = summarise_transactions(tx, calibration_end)
    actual = holdout_outcomes(tx, calibration_end, horizon_days)
    frame = (
        bg.merge(hurdle, on="customer_id")
        .merge(actual, on="customer_id", how="left")
        .merge(summary[["customer_id", "n_purchases", "first_date"]], on="customer_id")
    )
    frame[["actual_purchases", "actual_value"]] = frame[["actual_purchases", "actual_value"]].fillna(0)
    # Naive: the customer's past purchase-occasion rate since their first purchase, and their mean spend.
    days = (pd.Timestamp(calibration_end) - frame.first_date).dt.days.clip(lower=1)
    mean_spend = tx[tx.date < pd.Timestamp(calibration_end)].groupby("customer_id").amount.mean()
    frame["naive_purchases"] = frame.n_purchases / days * horizon_days
    frame["naive_value"] = frame.naive_purchases * frame.customer_id.map(mean_spend)
    bought = (frame.actual_purchases > 0).astype(int)

    def mae(col, target):
        return float(np.mean(np.abs(frame[col] - frame[target])))

    return {
        "customers": int(len(frame)),
        "buyers_in_holdout": int(bought.sum()),
        "bgnbd_params": {k: round(v, 4) for k, v in info["bgnbd"].items()},
        "gamma_gamma_params": {k: round(v, 4) for k, v in info.get("gamma_gamma", {}).items()},
        "auroc_any_purchase": {
            "bgnbd": round(roc_auc_score(bought, frame.p_any_purchase), 4),
            "hurdle": round(roc_auc_score(bought, frame.hurdle_p_any), 4),
            "naive_rate": round(roc_auc_score(bought, frame.naive_purchases), 4),
        },
        "mae_purchases": {
            "bgnbd": round(mae("expected_purchases", "actual_purchases"), 4),
            "naive_rate": round(mae("naive_purchases", "actual_purchases"), 4),
        },
        "mae_value": {
            "bgnbd_gamma_gamma": round(mae("expected_value", "actual_value"), 2),
            "hurdle": round(mae("hurdle_expected_value", "actual_value"), 2),
            "naive": round(mae("naive_value", "actual_value"), 2),
        },
        "total_purchases": {
            "actual": float(frame.actual_purchases.sum()),
            "bgnbd": round(float(frame.expected_purchases.sum()), 1),
            "naive": round(float(frame.naive_purchases.sum()), 1),
        },
        "total_value": {
            "actual": round(float(frame.actual_value.sum()), 0),
            "bgnbd_gamma_gamma": round(float(frame.expected_value.sum()), 0),
            "hurdle": round(float(frame.hurdle_expected_value.sum()), 0),
            "naive": round(float(frame.naive_value.sum()), 0),
        },
        "seconds": {"bgnbd_gamma_gamma": round(bg_s, 2), "hurdle": round(hurdle_s, 2)},
        "notes": info["notes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    results = {"cdnow": evaluate(_cdnow(), "1998-01-01", 181)}
    root = Path(tempfile.mkdtemp(prefix="carsight-bench-clv-"))
    try:
        results["demo"] = evaluate(_demo(args.customers, args.seed, root), "2025-01-01", 365)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_result(
        "value_clv",
        description="CLV on a holdout period: BG/NBD + Gamma-Gamma vs the LightGBM hurdle model vs a naive past-rate baseline.",
        data={
            "cdnow": "CDNOW master (23,570 customers), calibration 1997-01-01..1997-12-31, holdout 181 days (to 1998-06-30; the hurdle model needs one horizon of calibration history to learn from)",
            "demo": f"demo {args.customers} customers seed {args.seed}, purchases with amount > 0, calibration to 2025-01-01, holdout 365 days",
        },
        metrics=results,
        baselines={
            name: {
                "naive past rate": {
                    k: v.get("naive_rate", v.get("naive"))
                    for k, v in r.items()
                    if isinstance(v, dict) and ("naive_rate" in v or "naive" in v)
                }
            }
            for name, r in results.items()
        },
        notes="The hurdle model learns from the calibration period itself (labels = the last horizon before the calibration end).",
    )


if __name__ == "__main__":
    main()
