"""Time generating the demo business and loading it through ingest, at 50k and at 1M customers.

Usage: .venv/bin/python bench/demo_generation.py [--sizes 50000 1000000]
Run it under ``flock /tmp/carsight-heavy.lock`` on a shared machine: the 1M run takes minutes and
a few GiB. Writes bench/results/demo_generation.json.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import goal, write_result  # noqa: E402
from carsight.demo import generate, load_demo  # noqa: E402
from carsight.warehouse import connect  # noqa: E402

# The brief: 50k customers generated and loaded in about a minute on 2 cores.
TARGET_50K_SECONDS = 75.0


def run(customers: int, seed: int, root: Path) -> dict:
    out = root / f"demo-{customers}"
    wh_path = root / f"demo-{customers}.duckdb"
    start = time.perf_counter()
    files = generate(out, customers=customers, seed=seed)
    generated = time.perf_counter()
    with connect(str(wh_path), init=True) as wh:
        summary = load_demo(wh, out)
    loaded = time.perf_counter()
    size = sum(p.stat().st_size for paths in files.values() for p in paths)
    rows = {table: row["inserted"] + row["updated"] + row["unchanged"] for table, row in summary.items()}
    return {
        "customers": customers,
        "generate_s": round(generated - start, 2),
        "load_s": round(loaded - generated, 2),
        "total_s": round(loaded - start, 2),
        "rows": rows,
        "rows_total": sum(rows.values()),
        "rejected": sum(row["rejected"] for row in summary.values()),
        "files_mb": round(size / 2**20, 1),
        "warehouse_mb": round(wh_path.stat().st_size / 2**20, 1),
        "load_seconds_by_table": {t: round(r["seconds"], 2) for t, r in summary.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="carsight-bench-demo-"))
    results = []
    try:
        for n in args.sizes:
            result = run(n, args.seed, root)
            result["peak_rss_mb_so_far"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
            print(result, flush=True)
            results.append(result)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    metrics = {f"total_s_{r['customers']}": r["total_s"] for r in results}
    metrics |= {f"generate_s_{r['customers']}": r["generate_s"] for r in results}
    metrics |= {f"load_s_{r['customers']}": r["load_s"] for r in results}
    goals = {}
    if "total_s_50000" in metrics:
        goals["total_s_50000"] = goal(metrics["total_s_50000"], TARGET_50K_SECONDS, "<=")
    write_result(
        "demo_generation",
        description="Generate the demo business as files and load them through ingest (one run per size).",
        data={"sizes": args.sizes, "seed": args.seed, "runs": results},
        metrics=metrics,
        goals=goals,
        notes=(
            "Single timed run per size (the 1M run is too long to repeat on a shared 2-core machine). "
            "Load time is ingest's (read, clean, upsert by key) and dominates; generation alone is "
            "generate_s. Peak RSS is cumulative over the runs in this process."
        ),
    )


if __name__ == "__main__":
    main()
