"""Event-aware forecasts: the error in the months of a declared event, with and without the events,
against Prophet with the same events as holidays.

Collections:
* ``unrelated`` and ``employment`` (``bench/_market_data.py``): public series with an effect
  injected at known months. Every series gets its own uplift, drawn between +15% and +40%, in six
  irregular months of its history (the past occurrences to learn from) and in one month of each
  held-out window (the occurrence to forecast); the events file declares those months, as a planner
  would declare a recurring sales campaign. Series are cut to their last 120 months. The unrelated
  series end in different years, so each has its own campaign, counted back from its own last month
  and declared with the series as its scope (one event per series and month: learnt from that series
  alone); the employment series share one campaign (learnt by pooling across them).
* ``demo``: the demo's sales (seed 42) with its planted domestic incentive (× 1.25 in seven
  irregular months in Korea) and its 2021 supply shock, declared by the demo's own events file
  (``carsight.demo.market.events_frame``, read through ``carsight.ingest``).

Windows: 3 origins 12 months apart, h = 12 months held out after each; every method sees only the
months before the origin. Each window holds exactly one (injected) event month, or, in the demo,
the campaign of that year. Error: MAE over the in-sample seasonal-naive MAE (MASE), separately for
the event months of the series an event covers and for all other held-out months. Prophet (default
settings, with and without the events as holidays: a recurring event as one holiday) runs on a
sample of 12 series per collection (the demo: Korean series); carsight's numbers on the same sample
are beside it.

No M-competition or tourism data. Run: ``flock /tmp/carsight-heavy.lock .venv/bin/python
bench/market_events.py`` (``--prophet-sample N``; ``--only NAME``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import _market_data as D  # noqa: E402
from _common import goal, write_result  # noqa: E402
from carsight.market.backtest import naive_scale  # noqa: E402
from carsight.market.events import check_events, month_number, prophet_holidays, read_events  # noqa: E402
from carsight.market.forecast import Forecaster  # noqa: E402

M = 12
H = 12
ORIGINS = 3
STEP = 12
MONTHS = 120
# Past occurrences, in months before the end of the data (irregular, so no season absorbs them),
# and the one occurrence inside each origin's held-out window (origin k holds out the 12 months
# ending 12·k months before the end).
PAST = (40, 53, 67, 78, 95, 107)
HELD_OUT = (4, 20, 26)  # end-4 in window 0, end-20 in window 1, end-26 in window 2


def _month(number: int) -> pd.Timestamp:
    return pd.Timestamp(year=int(number) // 12, month=int(number) % 12 + 1, day=1)


def injected(
    frame: pd.DataFrame, seed: int = 0, per_series: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, dict[str, float]]:
    """The series (last 120 months, never negative ones only) with an uplift in the event months,
    the events file that declares them, the series' id parts (None without scope) and each series'
    true uplift.

    ``per_series``: every series has its own campaign in the months counted back from its own last
    month, declared with the series as its ``model`` scope (unrelated series end in different years);
    otherwise one campaign, counted back from the last month of all, covers every series.
    """
    rng = np.random.default_rng(seed)
    parts, uplift = [], {}
    for _, g in frame.groupby("unique_id", sort=True):
        g = g.sort_values("ds").iloc[-MONTHS:].copy()
        if len(g) < MONTHS or (g["y"] < 0).any():
            continue
        parts.append(g)
    data = pd.concat(parts, ignore_index=True)
    end_all = int(month_number(data["ds"]).max())
    out, rows = [], []
    for uid, g in data.groupby("unique_id", sort=True):
        u = float(rng.uniform(0.15, 0.40))
        uplift[uid] = u
        end = int(month_number(g["ds"]).max()) if per_series else end_all
        months = sorted(end - k for k in (*PAST, *HELD_OUT))
        on = np.isin(month_number(g["ds"]), months)
        out.append(g.assign(y=np.where(on, g["y"] * (1 + u), g["y"])))
        if per_series or not rows:
            scope = {"model": uid} if per_series else {}
            rows += [{"name": "campaign", "start": _month(m), "end": _month(m), "kind": "incentive"} | scope
                     for m in months]  # fmt: skip
    keys = pd.DataFrame({"unique_id": sorted(uplift), "model": sorted(uplift)}) if per_series else None
    return pd.concat(out, ignore_index=True), pd.DataFrame(rows), keys, uplift


def demo() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict, pd.DataFrame]:
    """The demo's series, its events file read as a user's file is, the series' id parts, the
    season groups, and the series' true means (the planted truth, aggregated the same way)."""
    from carsight.demo.market import events_frame, sales_frame
    from carsight.demo.truth import expected_sales
    from carsight.market.hierarchy import aggregate, season_groups

    levels = [("total", []), ("brand", ["brand"]), ("market", ["market"])]
    frames = []
    for sales in (sales_frame(42), expected_sales(42)):
        sales = sales.rename(columns={"month": "ds", "units": "y"})
        sales["ds"] = pd.to_datetime(sales["ds"])
        frames.append(aggregate(sales, ["brand", "model", "market"], levels))
    (Y_df, _, meta), (truth, _, _) = frames
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        events_frame().to_csv(path, index=False)
        events = read_events(path)
    return Y_df, events, meta, season_groups(meta, "market"), truth


def prophet_forecast(train: pd.DataFrame, h: int, holidays: pd.DataFrame | None) -> np.ndarray:
    from prophet import Prophet

    model = Prophet(weekly_seasonality=False, daily_seasonality=False, uncertainty_samples=0, holidays=holidays)
    model.fit(train[["ds", "y"]])
    future = pd.DataFrame({"ds": pd.date_range(train["ds"].max() + pd.offsets.MonthBegin(1), periods=h, freq="MS")})
    return model.predict(future)["yhat"].to_numpy()


def evaluate(frame, events, keys, groups, fill, label, prophet_ids, truth=None) -> pd.DataFrame:
    checked = check_events(events, keys)
    true_mean = {uid: g.set_index("ds")["y"] for uid, g in truth.groupby("unique_id")} if truth is not None else {}
    rows = []
    for k in range(ORIGINS):
        cut = {uid: g.iloc[: len(g) - k * STEP] for uid, g in frame.groupby("unique_id")}
        cut = {uid: g for uid, g in cut.items() if len(g) > H + 3}
        train = pd.concat([g.iloc[:-H] for g in cut.values()], ignore_index=True)
        start = time.perf_counter()
        f_ev = Forecaster(horizon=H, fill=fill, n_jobs=-1).fit(train, season_groups=groups, events=checked, keys=keys)
        seconds = time.perf_counter() - start
        f_no = Forecaster(horizon=H, fill=fill, n_jobs=-1).fit(train, season_groups=groups)
        with_ev = dict(tuple(f_ev.predict().groupby("unique_id")))
        without = dict(tuple(f_no.predict().groupby("unique_id")))
        covering = f_ev.events_.covering
        key_of = f_ev.events_.keys
        for uid, g in cut.items():
            y_tr, a = g["y"].to_numpy(float)[:-H], g["y"].to_numpy(float)[-H:]
            test_months = month_number(g["ds"].to_numpy()[-H:])
            scale = naive_scale(y_tr, M)
            which = covering.get(uid, np.zeros(0, int))
            first, last = checked["first"].to_numpy()[which], checked["last"].to_numpy()[which]
            on = ((test_months[:, None] >= first[None, :]) & (test_months[:, None] <= last[None, :])).any(axis=1)
            forecasts = {
                "carsight_events": with_ev[uid]["yhat"].to_numpy(float),
                "carsight": without[uid]["yhat"].to_numpy(float),
            }
            if uid in true_mean:
                forecasts["true_mean"] = true_mean[uid].reindex(g["ds"].to_numpy()[-H:]).to_numpy(float)
            if uid in prophet_ids:
                hist = g.iloc[:-H]
                holidays = prophet_holidays(checked, key_of.get(uid, {}))
                forecasts["Prophet"] = np.clip(prophet_forecast(hist, H, None), 0, None)
                forecasts["Prophet_holidays"] = np.clip(prophet_forecast(hist, H, holidays), 0, None)
            for month_on, a_m, idx in ((True, a[on], on), (False, a[~on], ~on)):
                if not idx.any():
                    continue
                row = {"set": label, "unique_id": uid, "origin": k, "event_months": month_on, "n": int(idx.sum()),
                       "covered": bool(len(which)), "seconds": seconds}  # fmt: skip
                for name, fc in forecasts.items():
                    row[name] = float(np.mean(np.abs(a_m - fc[idx])) / scale)
                rows.append(row)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> dict:
    out = {}
    covered = df[df["covered"]]
    for part, name in ((True, "event"), (False, "other")):
        sub = covered[covered["event_months"] == part] if part else df[~df["event_months"]]
        out[f"{name}_months_mase_without"] = round(float(sub["carsight"].mean()), 4)
        out[f"{name}_months_mase_with"] = round(float(sub["carsight_events"].mean()), 4)
        out[f"{name}_months_change_pct"] = round(
            100 * (out[f"{name}_months_mase_with"] / out[f"{name}_months_mase_without"] - 1), 1
        )
        if "true_mean" in sub:
            # The error of the planted means: what no forecast beats on average. The share of the
            # error above it that the events remove is what the events can be asked for.
            floor = round(float(sub["true_mean"].mean()), 4)
            out[f"{name}_months_mase_true_mean"] = floor
            out[f"{name}_months_best_possible_change_pct"] = round(
                100 * (floor / out[f"{name}_months_mase_without"] - 1), 1
            )
            above = out[f"{name}_months_mase_without"] - floor
            out[f"{name}_months_share_of_avoidable_error_removed_pct"] = (
                round(100 * (out[f"{name}_months_mase_without"] - out[f"{name}_months_mase_with"]) / above, 1)
                if above > 0
                else None
            )
        sample = sub.dropna(subset=["Prophet"]) if "Prophet" in sub else sub.iloc[:0]
        if len(sample):
            for col in ("Prophet", "Prophet_holidays", "carsight_events", "carsight"):
                out[f"{name}_months_mase_{col}_on_prophet_sample"] = round(float(sample[col].mean()), 4)
        out[f"{name}_values"] = int(sub["n"].sum())
    # The events' own part of the error: how much worse the event months are than the other held-out
    # months of the same (covered) series. The planted means show how much of it is only the larger
    # volume of a campaign month (noise grows with it), which no forecast removes.
    covered_other = covered[~covered["event_months"]]
    columns = ("carsight", "carsight_events", *(("true_mean",) if "true_mean" in df else ()))
    for col in columns:
        excess = float(covered[covered["event_months"]][col].mean() - covered_other[col].mean())
        out[f"event_months_excess_{col}"] = round(excess, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prophet-sample", type=int, default=12)
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    rng = np.random.default_rng(0)
    sets = {}
    if args.only in (None, "unrelated"):
        data, events, keys, _ = injected(D.unrelated_series(), seed=1, per_series=True)
        sets["unrelated"] = (data, events, keys, None, "interpolate", None)
    if args.only in (None, "employment"):
        data, events, _, _ = injected(D.employment_series(), seed=2)
        sets["employment"] = (data, events, None, None, "interpolate", None)
    if args.only in (None, "demo"):
        Y_df, events, meta, groups, truth = demo()
        sets["demo"] = (Y_df, events, meta, groups, "zero", truth)

    results, frames = {}, []
    for label, (frame, events, keys, groups, fill, truth) in sets.items():
        ids = sorted(frame["unique_id"].unique())
        if label == "demo":  # Prophet on series the campaign covers: Korean ones
            ids = [u for u in ids if "Korea" in u]
        sample = set(rng.choice(ids, size=min(args.prophet_sample, len(ids)), replace=False))
        df = evaluate(frame, events, keys, groups, fill, label, sample, truth)
        results[label] = summarise(df) | {"series": int(frame["unique_id"].nunique())}
        frames.append(df)
        print(label, results[label], flush=True)
    if args.only:
        return
    goals = {}
    for n, r in results.items():
        goals[f"{n}_event_months_error_reduction_pct"] = goal(-r["event_months_change_pct"], 30.0, ">=")
        goals[f"{n}_other_months_no_worse"] = goal(r["other_months_mase_with"], r["other_months_mase_without"], "<=")
        if "event_months_excess_true_mean" in r:
            # Reachable on planted data: the event months no worse, beyond the other months, than the
            # planted means are (the -30% above is out of reach there when even they do not get it).
            goals[f"{n}_event_months_excess_at_most_planted_means"] = goal(
                r["event_months_excess_carsight_events"], r["event_months_excess_true_mean"], "<="
            )
    write_result(
        "market_events",
        description="Event-aware forecasts: MASE in the months of declared events and in the other months, with "
        "and without the events, and Prophet with the same events as holidays",
        data={
            "unrelated": "26 public series (bench/_market_data.py), last 120 months, uplift U(15%, 40%) per series "
            f"in months end-{PAST} (past) and end-{HELD_OUT} (one per held-out window), counted from each series' own "
            "end and declared per series (scope model = the series)",
            "employment": "147 US employment series, the same injection in the same months for all, one campaign "
            "declared for all",
            "demo": "demo seed 42: domestic campaign × 1.25 in 7 irregular months (Korea), 2021 supply shock; "
            "the demo's events file",
            "windows": f"{ORIGINS} origins {STEP} months apart, h={H}",
            "prophet_sample_per_collection": args.prophet_sample,
        },
        metrics={f"{n}_{k}": v for n, r in results.items() for k, v in r.items()},
        goals=goals,
        baselines={"carsight without events": {n: r["event_months_mase_without"] for n, r in results.items()}},
        notes="MASE = MAE / in-sample seasonal-naive MAE, mean over series × origins; 'event months' are the "
        "held-out months in a declared event for the series it covers, 'other' every other held-out month. "
        "Prophet (and carsight beside it) on a sample of 12 series per collection. demo_*_true_mean: the MASE of "
        "the planted means (carsight.demo.truth.expected_sales), the error no forecast beats on average; "
        "best_possible_change_pct is that floor against carsight without events, and "
        "share_of_avoidable_error_removed_pct how much of the error above the floor the events remove. "
        "event_months_excess_*: MASE in event months minus MASE in the other held-out months of the same series "
        "(without events, with them, and of the planted means, whose excess is only a campaign month's larger "
        "noise).",
    )


if __name__ == "__main__":
    main()
