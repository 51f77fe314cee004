"""VoC fast filtering: "top keywords for model X, topic Y between dates A and B" over 1M consultations,
answered from the daily pre-aggregate (voc_keyword_daily) with an Ibis query; p50/p95 over random
queries, and the ratio against scanning and re-tokenising the raw (masked) text.

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/voc_query.py [--n 1000000] [--queries 200]
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

from _common import goal, write_result  # noqa: E402


def _random_filters(rng, models, topics, first, days) -> dict:
    filters = {}
    if rng.random() < 0.7:
        filters["model"] = str(rng.choice(models))
    if rng.random() < 0.6:
        filters["topic"] = str(rng.choice(topics))
    if rng.random() < 0.8:
        start = int(rng.integers(0, days - 7))
        length = int(rng.integers(7, days - start + 1))
        filters["start"] = (first + pd.Timedelta(days=start)).date()
        filters["end"] = (first + pd.Timedelta(days=start + length - 1)).date()
    return filters


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scans", type=int, default=5)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()

    from carsight.demo.text import generate_consultation_texts
    from carsight.voc.aggregate import build_daily, top_keywords, top_keywords_scan
    from carsight.voc.normalise import clean_and_mask
    from carsight.voc.tokenise import Tokenizer
    from carsight.warehouse import connect
    from carsight.warehouse import results_voc as R

    timings = {}
    start = time.perf_counter()
    frame = generate_consultation_texts(args.n, seed=42)
    rng = np.random.default_rng(42)
    first = pd.Timestamp("2024-01-01")
    frame["consulted_at"] = first + pd.to_timedelta(rng.integers(0, args.days * 86400, args.n), unit="s")
    frame["date"] = frame["consulted_at"].dt.normalize().dt.date
    frame["topic"] = frame.pop("category")
    timings["generate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    frame["text_masked"] = [clean_and_mask(t) for t in frame["text"]]
    timings["mask_s"] = time.perf_counter() - start
    tokenizer = Tokenizer()
    start = time.perf_counter()
    tokens = tokenizer.tokenize_many(frame["text_masked"].tolist())
    timings["tokenise_s"] = time.perf_counter() - start
    start = time.perf_counter()
    keyword_daily, topic_daily = build_daily(frame, tokens)
    timings["aggregate_s"] = time.perf_counter() - start
    del tokens
    print({k: round(v, 1) for k, v in timings.items()}, f"{len(keyword_daily):,} aggregate rows")

    with tempfile.TemporaryDirectory() as tmp, connect(str(Path(tmp) / "bench.duckdb"), init=True) as wh:
        frame["consultation_id"] = [f"Q{i:09d}" for i in range(args.n)]
        frame["channel"], frame["category"], frame["confidence"] = "phone", None, 1.0
        frame["needs_review"], frame["lang"] = False, "ko"
        start = time.perf_counter()
        wh.replace(R.VOC_CONSULTATIONS, frame[[c.name for c in R.VOC_CONSULTATIONS.columns]])
        wh.replace(R.VOC_KEYWORD_DAILY, keyword_daily)
        wh.replace(R.VOC_TOPIC_DAILY, topic_daily)
        timings["write_s"] = time.perf_counter() - start
        models = sorted(frame["model"].unique())
        topics = sorted(frame["topic"].unique())
        del frame

        qrng = np.random.default_rng(7)
        top_keywords(wh, n=20)  # first query opens the table
        latencies = []
        for _ in range(args.queries):
            filters = _random_filters(qrng, models, topics, first, args.days)
            start = time.perf_counter()
            top_keywords(wh, n=20, **filters)
            latencies.append(time.perf_counter() - start)
        latencies_ms = np.array(latencies) * 1000
        p50, p95 = float(np.percentile(latencies_ms, 50)), float(np.percentile(latencies_ms, 95))

        scan_fast, scan_slow, equal = [], [], 0
        for _ in range(args.scans):
            filters = _random_filters(qrng, models, topics, first, args.days)
            start = time.perf_counter()
            fast = top_keywords(wh, n=20, **filters)
            scan_fast.append(time.perf_counter() - start)
            start = time.perf_counter()
            slow = top_keywords_scan(wh, tokenizer, n=20, **filters)
            scan_slow.append(time.perf_counter() - start)
            equal += int(fast.reset_index(drop=True).equals(slow.reset_index(drop=True)))
        ratio = float(np.mean(scan_slow) / np.mean(scan_fast))
    print(f"p50 {p50:.1f} ms p95 {p95:.1f} ms; raw scan {np.mean(scan_slow):.2f} s, {ratio:,.0f}x slower")

    write_result(
        "voc_query",
        description="top_keywords(model, topic, start, end) over the daily aggregate of 1M consultations",
        data={
            "consultations": args.n,
            "days": args.days,
            "aggregate_rows": len(keyword_daily),
            "queries": args.queries,
            "query_mix": "70% one model, 60% one topic, 80% a random date range of 7+ days",
            "scans": args.scans,
        },
        metrics={
            "p50_ms": p50,
            "p95_ms": p95,
            "max_ms": float(latencies_ms.max()),
            "raw_scan_mean_s": float(np.mean(scan_slow)),
            "scan_over_aggregate_ratio": ratio,
            "scan_answers_equal": f"{equal}/{args.scans}",
            **{k: round(v, 2) for k, v in timings.items()},
        },
        goals={"p95_ms": goal(p95, 100.0, "<=")},
        baselines={"raw scan (read masked text, tokenise, count)": {"mean_s": float(np.mean(scan_slow))}},
        notes="Latency is wall-clock from the Python call to the pandas result (Ibis compile + DuckDB). "
        "The raw scan is measured on fewer queries because each takes seconds; its answers are checked "
        "equal to the aggregate's.",
    )


if __name__ == "__main__":
    main()
