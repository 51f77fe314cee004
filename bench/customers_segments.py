"""Segmentation fit time at 50k and 1M customers, and recovery of the demo's planted types.

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/customers_segments.py
       [--customers 50000] [--big 1000000] [--demo-dir DIR --warehouse FILE]
Without --demo-dir/--warehouse a demo business of --customers is generated and loaded first.
The 1M frame is the 50k customer frame resampled with replacement (numbers jittered by 1% of
their spread), since a 1M demo takes minutes to build; the K search (k = 2–10) runs on a 50k
sample with silhouette on 5k, then the chosen K is fitted on all rows. Writes
bench/results/customers_segments.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from _common import goal, write_result  # noqa: E402
from carsight.customers.segments import CustomerSegmenter  # noqa: E402
from carsight.customers.segments_features import segment_frame  # noqa: E402
from carsight.warehouse import connect  # noqa: E402

TARGET_ARI = 0.8


def demo(args, root: Path) -> tuple[Path, Path]:
    if args.demo_dir and args.warehouse:
        return Path(args.demo_dir), Path(args.warehouse)
    from carsight.demo import build_demo

    out, wh_path = root / "demo", root / "demo.duckdb"
    with connect(str(wh_path), init=True) as wh:
        build_demo(wh, out, args.customers, args.seed)
    return out, wh_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--demo-dir")
    parser.add_argument("--warehouse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carsight-bench-seg-") as tmp:
        demo_dir, wh_path = demo(args, Path(tmp))
        with connect(str(wh_path), read_only=True) as wh:
            start = time.perf_counter()
            frame = segment_frame(wh.table("customers"), wh.table("purchases"), wh.table("vehicles"))
            frame_s = time.perf_counter() - start
        truth = pd.read_csv(demo_dir / "truth" / "customer_types.csv", dtype=str).set_index("customer_id")["true_type"]

        start = time.perf_counter()
        model = CustomerSegmenter().fit(frame)
        fit_s = time.perf_counter() - start
        ari = adjusted_rand_score(truth.loc[frame.index], model.predict(frame))
        fixed = CustomerSegmenter(k_range=(len(set(truth)), len(set(truth)))).fit(frame)
        ari_true_k = adjusted_rand_score(truth.loc[frame.index], fixed.predict(frame))

        rng = np.random.default_rng(0)
        big = frame.iloc[rng.integers(0, len(frame), size=args.big)].copy()
        numeric = big.select_dtypes("number").columns
        big[numeric] = (
            big[numeric] + rng.normal(0, 0.01, size=(len(big), len(numeric))) * frame[numeric].std().to_numpy()
        )
        big.index = [f"B{i:07d}" for i in range(len(big))]
        start = time.perf_counter()
        big_model = CustomerSegmenter().fit(big)
        big_fit_s = time.perf_counter() - start
        start = time.perf_counter()
        big_model.predict(big)
        big_predict_s = time.perf_counter() - start

    write_result(
        "customers_segments",
        description="Customer-type segmentation: fit time and recovery of the demo's planted types",
        data={
            "customers": len(frame),
            "big_customers": len(big),
            "features": list(frame.columns),
            "k_curve": model.k_curve_.round(4).to_dict(orient="records"),
            "profiles_en": model.profiles_["profile_en"].tolist(),
        },
        metrics={
            "frame_s": round(frame_s, 2),
            "fit_s": round(fit_s, 2),
            "k": int(model.k_),
            "ari": round(ari, 4),
            "ari_at_true_k": round(ari_true_k, 4),
            "big_fit_s": round(big_fit_s, 2),
            "big_k": int(big_model.k_),
            "big_predict_s": round(big_predict_s, 2),
        },
        goals={"ari": goal(round(ari, 4), TARGET_ARI, ">=")},
        baselines={"k_fixed_to_true_number_of_types": {"ari": round(ari_true_k, 4)}},
        notes=(
            "K chosen automatically (silhouette on 5k, elbow as tie-break) within 2–10; the K search runs on a 50k "
            "sample, then the chosen K is fitted on all rows. The 1M frame resamples the 50k one (jittered), so it "
            "times the method at scale but says nothing new about accuracy. Single-threaded BLAS on a shared machine."
        ),
    )
    print(f"{len(frame):,}: fit {fit_s:.1f} s, k={model.k_}, ARI {ari:.3f} (at true k {ari_true_k:.3f}); "
          f"{len(big):,}: fit {big_fit_s:.1f} s, predict {big_predict_s:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
