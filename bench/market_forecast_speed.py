"""Speed of the full forecast (3-window rolling backtest, choice, conformal intervals, 18-month
forecast) on 1,000 monthly series of 60 months, and Prophet's time for the same work.

Prophet is timed on a sample of series (4 fits each: 3 backtest windows and the final fit) and
extrapolated linearly to 1,000 series; the result says so. The series are synthetic (levels from
10 to 10,000 units, trends, seasonality of varying strength, noise, 10% intermittent), generated
with a fixed seed. The statsforecast models are compiled by a warm-up run on 20 series first, as
they would be in a running service (the compiled code is cached on disk).

Run: ``flock /tmp/carsight-heavy.lock .venv/bin/python bench/market_forecast_speed.py``
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import goal, write_result  # noqa: E402
from carsight.market.forecast import Forecaster  # noqa: E402


def synthetic(n: int, months: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    ds = pd.date_range("2020-01-01", periods=months, freq="MS")
    parts = []
    for i in range(n):
        if rng.random() < 0.1:
            y = rng.poisson(rng.uniform(0.2, 1.5), months).astype(float)
        else:
            level = np.exp(rng.uniform(np.log(10), np.log(10_000)))
            growth = rng.normal(0.005, 0.01)
            season = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * (t + rng.integers(12)) / 12)
            y = level * np.exp(growth * t) * season * rng.lognormal(0, rng.uniform(0.03, 0.2), months)
            y = np.round(y)
        parts.append(pd.DataFrame({"unique_id": f"s{i:04d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--prophet-sample", type=int, default=20)
    parser.add_argument("--models", default="standard")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("cmdstanpy").disabled = True

    data = synthetic(args.series)
    Forecaster(horizon=18, models=args.models).fit(data[data.unique_id < "s0020"])  # compile / load the cache

    cpu0, start = cpu_seconds(), time.perf_counter()
    f = Forecaster(horizon=18, n_windows=3, models=args.models, n_jobs=args.n_jobs).fit(data)
    fc = f.predict()
    wall = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    assert fc["unique_id"].nunique() == args.series

    from prophet import Prophet

    ids = sorted(data.unique_id.unique())[: args.prophet_sample]
    start = time.perf_counter()
    for uid in ids:
        g = data[data.unique_id == uid][["ds", "y"]]
        for cut in (len(g) - 30, len(g) - 24, len(g) - 18, len(g)):
            m = Prophet(weekly_seasonality=False, daily_seasonality=False)
            m.fit(g.iloc[:cut])
            m.predict(m.make_future_dataframe(periods=18, freq="MS").tail(18))
    prophet_sample = time.perf_counter() - start
    prophet_est = prophet_sample / len(ids) * args.series

    choice = f.choice_
    print(f"forecaster: {wall:.1f} s wall, {cpu:.1f} s CPU; prophet est. {prophet_est:.0f} s")
    print(choice["model_name"].str.replace(r"Combo\(.*\)", "Combo", regex=True).value_counts().to_string())
    write_result(
        "market_forecast_speed",
        description=f"Backtest (3 windows) + choice + intervals + 18-month forecast of {args.series} monthly series × 60 months",
        data={
            "series": args.series,
            "months": 60,
            "horizon": 18,
            "windows": 3,
            "candidates": args.models,
            "n_jobs": args.n_jobs,
            "load_average_at_start": os.getloadavg()[0],
        },  # fmt: skip
        metrics={
            "seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1),
            "prophet_seconds_estimated": round(prophet_est, 1),
            "prophet_sample_series": len(ids),
            "prophet_sample_seconds": round(prophet_sample, 1),
            "speedup_vs_prophet": round(prophet_est / wall, 1),
            "chosen_models": choice["model_name"]
            .str.replace(r"Combo\(.*\)", "Combo", regex=True)
            .value_counts()
            .to_dict(),
        },
        goals={"seconds": goal(round(wall, 1), 120, "<=")},
        baselines={"Prophet (extrapolated from the sample, 4 fits per series)": round(prophet_est, 1)},
        notes="The machine is shared: cpu_seconds (this process and its workers) is the stable number when wall time "
        "is inflated by other jobs. Prophet's time is extrapolated linearly from the sample.",
    )


if __name__ == "__main__":
    main()
