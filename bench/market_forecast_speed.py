"""Speed of the whole ``carsight forecast`` command (reading the file, 3-window rolling backtest,
scheme choice, conformal intervals, 18-month forecast, writing the file), against what a user would
otherwise run: a script that reads the same file and fits and forecasts statsforecast's AutoETS,
AutoTheta and SeasonalNaive once (``bench/_statsforecast_peer.py``).

Both are timed as whole processes, cold (no result cache; each starts Python and imports its
libraries), both on all the machine's cores, side by side in one run: A B A B …, the ratio taken
pair by pair so a machine whose speed drifts (it is shared) affects both alike. The median ratio
is the result.

Data: 1,400 synthetic monthly series × 100 months (fixed seed): levels from 10 to 100,000, growth,
damped and reversing trends, additive and multiplicative seasons of varying strength, level shifts,
noise from 2% to 30%, and 7% intermittent series.

Run: ``flock /tmp/carsight-heavy.lock .venv/bin/python bench/market_forecast_speed.py [--pairs 3]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _common import goal, write_result  # noqa: E402

HORIZON = 18


def synthetic(n: int = 1400, months: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    ds = pd.date_range("2016-01-01", periods=months, freq="MS")
    parts = []
    for i in range(n):
        if rng.random() < 0.07:
            y = rng.poisson(rng.uniform(0.2, 2.0), months).astype(float)
        else:
            level = np.exp(rng.uniform(np.log(10), np.log(100_000)))
            kind = rng.integers(4)
            slope = rng.normal(0.004, 0.008)
            if kind == 0:  # steady growth
                trend = np.exp(slope * t)
            elif kind == 1:  # damped: growth that fades
                trend = np.exp(slope * 40 * (1 - 0.97**t))
            elif kind == 2:  # reversal halfway
                trend = np.exp(slope * np.minimum(t, months / 2) - slope * np.maximum(t - months / 2, 0))
            else:  # a level shift
                trend = np.where(t < rng.integers(30, 90), 1.0, rng.uniform(0.6, 1.5))
            amp = rng.uniform(0, 0.4)
            season = np.sin(2 * np.pi * (t + rng.integers(12)) / 12) + 0.5 * np.sin(4 * np.pi * t / 12)
            noise = rng.normal(0, rng.uniform(0.02, 0.3), months)
            if rng.random() < 0.5:
                y = level * trend * (1 + amp * season) * np.exp(noise)
            else:
                y = level * (trend + amp * season + noise)
            y = np.round(np.maximum(y, 0), 1)
        parts.append(pd.DataFrame({"unique_id": f"s{i:04d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its workers) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--series", type=int, default=1400)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "series.csv"
        data = synthetic(args.series)
        data.to_csv(source, index=False)
        carsight = [str(bin_dir / "carsight"), "forecast", "-i", str(source), "--id-col", "unique_id",
                    "--date-col", "ds", "--value-col", "y", "--horizon", str(HORIZON), "-o", str(Path(tmp) / "a.csv")]  # fmt: skip
        peer = [
            sys.executable,
            str(HERE / "_statsforecast_peer.py"),
            str(source),
            str(Path(tmp) / "b.csv"),
            str(HORIZON),
        ]
        runs = []
        for k in range(args.pairs):
            a, b = timed(carsight), timed(peer)
            runs.append({"carsight_wall": a[0], "carsight_cpu": a[1], "peer_wall": b[0], "peer_cpu": b[1]})
            print(f"pair {k + 1}: carsight {a[0]:.1f} s, peer {b[0]:.1f} s, ratio {a[0] / b[0]:.2f}", flush=True)
        out = pd.read_csv(Path(tmp) / "a.csv")
        assert out["unique_id"].nunique() == args.series
    ratios = [r["carsight_wall"] / r["peer_wall"] for r in runs]
    ratio = round(statistics.median(ratios), 3)
    write_result(
        "market_forecast_speed",
        description=f"Whole `carsight forecast` (backtest included, cold) vs a script fitting statsforecast "
        f"AutoETS + AutoTheta + SeasonalNaive once: {args.series} series × 100 months, h={HORIZON}",
        data={
            "series": args.series,
            "months": 100,
            "horizon": HORIZON,
            "windows": 3,
            "pairs": args.pairs,
            "cores": os.cpu_count(),
            "load_average_at_start": os.getloadavg()[0],
        },  # fmt: skip
        metrics={
            "ratio_wall_median": ratio,
            "ratios": [round(r, 3) for r in ratios],
            "carsight_wall_median": round(statistics.median(r["carsight_wall"] for r in runs), 1),
            "peer_wall_median": round(statistics.median(r["peer_wall"] for r in runs), 1),
            "carsight_cpu_median": round(statistics.median(r["carsight_cpu"] for r in runs), 1),
            "peer_cpu_median": round(statistics.median(r["peer_cpu"] for r in runs), 1),
        },
        goals={"ratio_wall_vs_statsforecast": goal(ratio, 1.5, "<=")},
        baselines={
            "statsforecast AutoETS+AutoTheta+SeasonalNaive, one fit (bench/_statsforecast_peer.py)": round(
                statistics.median(r["peer_wall"] for r in runs), 1
            )
        },  # fmt: skip
        notes="Both whole processes, both on all cores (statsforecast n_jobs=-1; carsight --jobs -1, its default). "
        "Ratios are per pair, A then B; the machine is shared, so CPU seconds are given too.",
    )


if __name__ == "__main__":
    main()
