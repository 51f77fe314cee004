"""Monthly sales per brand × model × market × kind, 2019-01..2025-12, and the events file.

Trend, yearly seasonality, launches (short series), discontinued models (intermittent tails), zeros
in small markets, one supply shock, a recurring domestic incentive, and planted "sells unusually
well here" affinities (config.MARKET_AFFINITY).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from carsight.demo import config as C
from carsight.demo import vehicles as V

# Monthly units of our line-up sold in each market outside Korea (exports and local plants together).
MARKET_SIZE: dict[str, float] = {
    "USA": 62_000,
    "Canada": 9_000,
    "Germany": 12_000,
    "UK": 6_000,
    "France": 3_000,
    "Australia": 6_500,
    "Saudi Arabia": 4_500,
    "Brazil": 1_200,
    "India": 22_000,
    "Turkey": 1_100,
}

_EU = [
    "Kona",
    "Tucson",
    "Santa Fe",
    "IONIQ",
    "IONIQ 5",
    "IONIQ 6",
    "EV6",
    "EV9",
    "Sportage",
    "Sorento",
    "GV60",
    "G80",
    "GV70",
    "Stinger",
]
# Which models each market buys (Korea: the whole line-up, kind domestic).
ASSORTMENT: dict[str, list[str]] = {
    "Korea": list(V.MODEL_NAMES),
    "USA": [
        "Avante",
        "Sonata",
        "Kona",
        "Tucson",
        "Santa Fe",
        "Palisade",
        "IONIQ",
        "IONIQ 5",
        "IONIQ 6",
        "K5",
        "Seltos",
        "Sportage",
        "Sorento",
        "Carnival",
        "EV6",
        "EV9",
        "Stinger",
        "G70",
        "G80",
        "G90",
        "GV70",
        "GV80",
        "GV60",
    ],
    "Canada": [
        "Avante",
        "Kona",
        "Tucson",
        "Santa Fe",
        "Palisade",
        "IONIQ 5",
        "IONIQ 6",
        "K5",
        "Seltos",
        "Sportage",
        "Sorento",
        "Carnival",
        "EV6",
        "EV9",
        "G70",
        "G80",
        "GV70",
        "GV80",
        "GV60",
    ],
    "Germany": _EU,
    "UK": _EU,
    "France": ["Kona", "Tucson", "IONIQ", "IONIQ 5", "IONIQ 6", "EV6", "EV9", "Sportage", "Sorento"],
    "Australia": [
        "Avante",
        "Kona",
        "Tucson",
        "Santa Fe",
        "Palisade",
        "IONIQ 5",
        "IONIQ 6",
        "Staria",
        "Seltos",
        "Sportage",
        "Sorento",
        "Carnival",
        "EV6",
        "EV9",
        "Stinger",
        "G70",
        "G80",
        "GV70",
        "GV80",
        "GV60",
    ],
    "Saudi Arabia": [
        "Avante",
        "Sonata",
        "Grandeur",
        "Tucson",
        "Santa Fe",
        "Palisade",
        "Staria",
        "K5",
        "K8",
        "Sportage",
        "Sorento",
        "Carnival",
        "Seltos",
        "G70",
        "G80",
        "G90",
        "GV70",
        "GV80",
    ],
    "Brazil": ["Tucson", "Santa Fe", "Sportage", "Sorento", "Carnival", "Staria"],
    "India": ["IONIQ 5", "EV6", "Carnival", "Kona", "Tucson", "Seltos"],
    "Turkey": ["Avante", "Kona", "Tucson", "IONIQ 5", "EV6", "Sportage", "Sorento"],
}
# Share of a model's units in a market built in a local plant (kind overseas_plant; the rest is
# exported from Korea), and from when the plant builds it.
LOCAL_PLANT: dict[tuple[str, str], tuple[float, dt.date]] = {
    ("Sonata", "USA"): (0.7, C.SALES_START),
    ("Tucson", "USA"): (0.5, C.SALES_START),
    ("Santa Fe", "USA"): (0.6, C.SALES_START),
    ("Sportage", "USA"): (0.5, C.SALES_START),
    ("Sorento", "USA"): (0.6, C.SALES_START),
    ("EV9", "USA"): (0.8, dt.date(2024, 6, 1)),
    ("IONIQ 5", "USA"): (1.0, dt.date(2024, 10, 1)),  # US-bound exports stop when the US plant starts
    ("Seltos", "India"): (1.0, C.SALES_START),
    ("Kona", "India"): (1.0, C.SALES_START),
    ("Tucson", "India"): (0.6, C.SALES_START),
    ("Carnival", "India"): (0.5, C.SALES_START),
    ("Tucson", "Germany"): (0.7, C.SALES_START),
    ("Kona", "Germany"): (0.7, C.SALES_START),
    ("Sportage", "Germany"): (0.8, C.SALES_START),
}
EXPORT_LAG_MONTHS = 4  # sales of a new model abroad start this many months after the Korean launch

SEASONALITY: dict[str, list[float]] = {
    "Korea": [0.90, 0.85, 1.05, 1.02, 1.03, 1.05, 0.98, 0.90, 1.00, 1.00, 1.05, 1.17],
    "USA": [0.80, 0.90, 1.10, 1.02, 1.10, 1.05, 1.00, 1.05, 0.98, 0.97, 0.95, 1.08],
    "Canada": [0.75, 0.85, 1.10, 1.10, 1.15, 1.10, 1.00, 1.00, 0.95, 0.95, 0.95, 1.10],
    "UK": [0.70, 0.60, 1.80, 0.80, 0.85, 0.95, 0.70, 0.50, 1.70, 0.85, 0.85, 0.70],
    "Germany": [0.90, 0.95, 1.10, 1.00, 1.00, 1.05, 0.95, 0.85, 1.00, 1.05, 1.05, 1.10],
    "France": [0.90, 0.95, 1.15, 1.00, 1.00, 1.10, 0.95, 0.70, 1.05, 1.05, 1.05, 1.10],
    "Australia": [0.85, 0.95, 1.05, 0.95, 1.00, 1.25, 0.90, 0.95, 0.95, 1.00, 1.00, 1.15],
    "Saudi Arabia": [1.05, 1.00, 1.00, 0.90, 0.90, 0.95, 1.00, 1.00, 1.05, 1.05, 1.05, 1.05],
    "Brazil": [0.90, 0.90, 1.00, 0.95, 1.00, 1.00, 1.00, 1.05, 1.00, 1.05, 1.05, 1.10],
    "India": [1.00, 0.95, 1.00, 0.90, 0.90, 0.90, 0.95, 1.00, 1.05, 1.25, 1.15, 0.95],
    "Turkey": [0.85, 0.90, 1.00, 1.00, 1.05, 1.10, 1.00, 0.95, 1.00, 1.00, 1.05, 1.10],
}
MARKETS = (
    "Korea",
    "USA",
    "Canada",
    "Germany",
    "UK",
    "France",
    "Australia",
    "Saudi Arabia",
    "Brazil",
    "India",
    "Turkey",
)
NB_SIZE = 25.0  # negative-binomial dispersion of monthly units (smaller = noisier)


def months() -> pd.DatetimeIndex:
    """The months of the demo's monthly sales, first days."""
    return pd.date_range(C.SALES_START, C.SALES_END, freq="MS")


def _shock(month: pd.Timestamp) -> float:
    start, end, rec = (pd.Timestamp(x) for x in (C.SHOCK_START, C.SHOCK_END, C.SHOCK_RECOVERED))
    if start <= month <= end:
        return C.SHOCK_DEPTH
    if end < month < rec:
        frac = (month - end).days / (rec - end).days
        return C.SHOCK_DEPTH + (1 - C.SHOCK_DEPTH) * frac
    return 1.0


def _incentive(idx: pd.DatetimeIndex, market: str) -> np.ndarray:
    """× INCENTIVE_UPLIFT in the months of the domestic sales campaign, in its market."""
    if market != C.INCENTIVE_MARKET:
        return np.ones(len(idx))
    months = pd.DatetimeIndex(pd.to_datetime(list(C.INCENTIVE_MONTHS)))
    return np.where(idx.isin(months), C.INCENTIVE_UPLIFT, 1.0)


def events_frame() -> pd.DataFrame:
    """The events file as a planner would keep it, with Korean headers and kinds.

    Every campaign month (the next one too, after the data ends) and the supply shock.
    """
    month = "%Y-%m"
    rows = [
        {"이벤트명": C.INCENTIVE_NAME, "시작월": m.strftime(month), "종료월": m.strftime(month), "유형": "인센티브",
         "국가": C.INCENTIVE_MARKET}
        for m in (*C.INCENTIVE_MONTHS, C.INCENTIVE_NEXT)
    ]  # fmt: skip
    last_shock_month = (pd.Timestamp(C.SHOCK_RECOVERED) - pd.DateOffset(months=1)).strftime(month)
    rows.append(
        {"이벤트명": C.SHOCK_NAME, "시작월": C.SHOCK_START.strftime(month), "종료월": last_shock_month,
         "유형": "쇼크", "국가": ""}
    )  # fmt: skip
    return pd.DataFrame(rows).sort_values("시작월", kind="stable").reset_index(drop=True)


def global_weight(model: V.Model) -> float:
    """A model's weight outside Korea: its domestic volume without the Korean affinity."""
    return model.korea_monthly / C.MARKET_AFFINITY.get((model.model, "Korea"), 1.0)


def sales_frame(seed: int, *, expected: bool = False) -> pd.DataFrame:
    """The whole sales_monthly table (canonical columns), deterministic for ``seed``.

    With ``expected`` the ``units`` are the negative-binomial means the counts were drawn from (floats,
    same rows and random stream): the planted truth that :func:`carsight.demo.truth.expected_sales`
    hands to benchmarks.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A1E5]))
    idx = months()
    month_no = idx.month.to_numpy() - 1
    t_years = ((idx.year - C.SALES_START.year) * 12 + idx.month - 1).to_numpy() / 12.0
    shock = np.array([_shock(m) for m in idx])
    # Per-model trend: EVs grow fast until 2023 then flatten; others drift a few % a year.
    trend = {}
    for m in V.LINEUP:
        if m.powertrain == "EV":
            g = np.where(t_years < 4.5, 0.25, 0.02)
            trend[m.model] = np.exp(np.cumsum(np.log1p(g) / 12.0))
        else:
            trend[m.model] = np.exp(np.log1p(rng.normal(0.01, 0.04)) * t_years)
    frames = []
    for market, assortment in ASSORTMENT.items():
        season = np.array(SEASONALITY[market])
        season = season / season.mean()
        incentive = _incentive(idx, market)
        models = [V.LINEUP[V.MODEL_INDEX[name]] for name in assortment]
        total_w = sum(global_weight(m) for m in models)
        for model in models:
            aff = C.MARKET_AFFINITY.get((model.model, market), 1.0)
            if market == "Korea":
                level = float(model.korea_monthly)
            else:
                level = MARKET_SIZE[market] * global_weight(model) * aff / total_w
            start = pd.Timestamp(model.launch)
            if market != "Korea" and start >= pd.Timestamp(C.SALES_START):
                start = start + pd.DateOffset(months=EXPORT_LAG_MONTHS)
            end = pd.Timestamp(model.discontinued) if model.discontinued else idx[-1]
            live = (idx >= start) & (idx <= end)
            if not live.any():
                continue
            mu = level * season[month_no] * shock * incentive * trend[model.model]
            # Launch ramp over the first three months on sale.
            age = np.cumsum(live) - 1
            mu = mu * np.where(age == 0, 0.3, np.where(age == 1, 0.6, np.where(age == 2, 0.85, 1.0)))
            if model.discontinued:
                # Fading out: a quarter of normal volume, then a trickle of stock sales in the last
                # six months (intermittent demand, many zeros).
                to_end = ((end.year - idx.year) * 12 + end.month - idx.month).to_numpy()
                mu = mu * np.where(to_end < 6, 0.003, np.where(to_end < 11, 0.25, 1.0))
            plant_share, plant_from = LOCAL_PLANT.get((model.model, market), (0.0, C.SALES_START))
            plant = np.where(idx >= pd.Timestamp(plant_from), plant_share, 0.0)
            kinds = (
                [("domestic", np.ones(len(idx)))]
                if market == "Korea"
                else [("export", 1.0 - plant), ("overseas_plant", plant)]
            )
            for kind, part in kinds:
                rows = live & (part > 0)
                if not rows.any():
                    continue
                lam = rng.gamma(NB_SIZE, np.maximum(mu * part, 1e-9) / NB_SIZE)
                units = rng.poisson(lam)
                if expected:
                    units = mu * part
                frames.append(
                    pd.DataFrame(
                        {
                            "brand": model.brand,
                            "model": model.model,
                            "market": market,
                            "kind": kind,
                            "month": idx[rows].date,
                            "units": units[rows] if expected else units[rows].astype(np.int64),
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


MESSY_HEADERS = ["브랜드", "모델", "국가명"] + [f"{m}월" for m in range(1, 13)]


def _fmt_units(values: np.ndarray) -> np.ndarray:
    """How IR spreadsheets print numbers: ' 4,120 ', and '-' for zero."""
    text = np.array([f" {v:,} " for v in values], dtype=object)
    return np.where(values == 0, "-", text)


def messy_wide(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    """One year of one kind as a wide table (Korean headers, 1월..12월, formatted numbers, a 합계 row).

    Months a model was not on sale print as '-' like the real files, so they load as 0 units.
    """
    part = frame[pd.to_datetime(frame["month"]).dt.year == year].copy()
    part["m"] = pd.to_datetime(part["month"]).dt.month
    wide = part.pivot_table(
        index=["brand", "model", "market"], columns="m", values="units", aggfunc="sum", fill_value=0
    ).reindex(columns=range(1, 13), fill_value=0)
    wide = wide.reset_index()
    total = wide[list(range(1, 13))].sum().to_numpy()
    out = pd.DataFrame({"브랜드": wide["brand"], "모델": wide["model"], "국가명": wide["market"]})
    for m in range(1, 13):
        out[f"{m}월"] = _fmt_units(wide[m].to_numpy())
    subtotal = {"브랜드": "합계", "모델": "", "국가명": ""} | {
        f"{m}월": _fmt_units(total[m - 1 : m])[0] for m in range(1, 13)
    }
    return pd.concat([out, pd.DataFrame([subtotal])], ignore_index=True)[MESSY_HEADERS]
