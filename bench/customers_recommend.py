"""Vehicle recommendation quality: hit@3 and NDCG@5 of the learned ranker against global popularity
and the per-segment most-popular list, on each customer's latest purchase held out in time.

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/customers_recommend.py
       [--customers 50000] [--demo-dir DIR --warehouse FILE]
Without --demo-dir/--warehouse a demo business is generated and loaded first. Everything (the
ranker, both baselines and the segments the per-segment baseline uses) learns only from purchases
before the cutoff. Writes bench/results/customers_recommend.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pandas as pd  # noqa: E402

from _common import goal, write_result  # noqa: E402
from carsight.customers.recommend_data import RecData  # noqa: E402
from carsight.customers.recommend_eval import evaluate_recommenders, holdout_cutoff  # noqa: E402
from carsight.customers.segments import CustomerSegmenter  # noqa: E402
from carsight.customers.segments_features import segment_frame  # noqa: E402
from carsight.warehouse import connect  # noqa: E402

TARGET_RELATIVE_GAIN = 0.20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--demo-dir")
    parser.add_argument("--warehouse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carsight-bench-rec-") as tmp:
        if args.demo_dir and args.warehouse:
            wh_path = Path(args.warehouse)
        else:
            from carsight.demo import build_demo

            wh_path = Path(tmp) / "demo.duckdb"
            with connect(str(wh_path), init=True) as wh:
                build_demo(wh, Path(tmp) / "demo", args.customers, args.seed)
        with connect(str(wh_path), read_only=True) as wh:
            data = RecData.from_warehouse(wh)
            cutoff = holdout_cutoff(data.purchases)
            past = segment_frame(wh.table("customers"), wh.table("purchases"), wh.table("vehicles"), as_of=cutoff)
            n_customers = wh.count("customers")
    start = time.perf_counter()
    segmenter = CustomerSegmenter().fit(past)
    data.segments = pd.Series(segmenter.predict(past), index=past.index)
    table, model = evaluate_recommenders(data, cutoff=cutoff)
    seconds = time.perf_counter() - start
    scores = table.set_index("method")
    best_baseline = scores.drop(index="learned")["hit_at_3"].idxmax()
    gain = scores.loc["learned", "hit_at_3"] / scores.loc[best_baseline, "hit_at_3"] - 1
    write_result(
        "customers_recommend",
        description="Learned vehicle recommender vs popularity baselines on held-out latest purchases",
        data={
            "customers": n_customers,
            "cutoff": str(cutoff),
            "train_purchases": int(model.n_train_events_),
            "held_out": int(scores.loc["learned", "n"]),
            "segments_k": int(segmenter.k_),
            "candidates_per_purchase": len(model.models_),
        },
        metrics={
            "hit_at_3": round(float(scores.loc["learned", "hit_at_3"]), 4),
            "ndcg_at_5": round(float(scores.loc["learned", "ndcg_at_5"]), 4),
            "relative_hit_at_3_gain_over_best_baseline": round(float(gain), 4),
            "best_baseline": best_baseline,
            "seconds_segment_fit_evaluate": round(seconds, 1),
        },
        goals={"relative_hit_at_3_gain_over_best_baseline": goal(round(float(gain), 4), TARGET_RELATIVE_GAIN, ">=")},
        baselines={
            method: {"hit_at_3": round(float(row.hit_at_3), 4), "ndcg_at_5": round(float(row.ndcg_at_5), 4)}
            for method, row in scores.drop(index="learned").iterrows()
        },
        notes=(
            "Held out: the latest purchase of every customer whose latest purchase is on/after the cutoff (the 80th "
            "percentile of latest-purchase dates); the ranker, both baselines and the segments learn only from "
            "purchases before it. popularity = most bought in the 12 months before the cutoff; segment_popularity = "
            "most bought in the customer's segment (segments fitted on pre-cutoff data)."
        ),
    )
    print(table.to_string(index=False))
    print(f"relative hit@3 gain over {best_baseline}: {gain:+.1%}")


if __name__ == "__main__":
    main()
