"""Files that arrive after the demo's data ends, for monitoring (docs/demo-data.md, "Later files").

``purchases_2026q1.csv`` plants a **drift**: the purchases of 2025-10..12 again three months later,
with amounts × LATER_AMOUNT and LATER_ONLINE_SHARE of them sold online. ``sales_2026q1.csv`` plants
a **model decay**: 2026-01..03 sales as a year earlier, but every market outside Korea at
LATER_EXPORT_LEVEL of it (an export slump no forecast foresaw). Load them with
:func:`load_later` after a pipeline run and a first ``carsight monitor run``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from carsight.demo import config as C
from carsight.demo.market import sales_frame
from carsight.warehouse import schema as S

LATER = "later"
LATER_MONTHS = 3
LATER_AMOUNT = 1.5
LATER_ONLINE_SHARE = 0.6
LATER_EXPORT_LEVEL = 0.6


def write_later(out_dir: str | Path, seed: int = 42, *, to: str | Path | None = None) -> dict[str, Path]:
    """Write the later files of the demo generated in ``out_dir`` with ``seed``.

    They go to ``to`` (default ``<out_dir>/later``); returns table → file.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1A7E]))
    folder = Path(to) if to is not None else out / LATER
    folder.mkdir(parents=True, exist_ok=True)
    purchases = pd.concat(
        [pd.read_csv(p, dtype=str) for p in sorted((out / "purchases").glob("purchases_*.csv"))], ignore_index=True
    )
    dates = pd.to_datetime(purchases["purchase_date"], errors="coerce")
    start = pd.Timestamp(C.SALES_END) - pd.DateOffset(months=LATER_MONTHS - 1)
    recent = purchases[(dates >= start) & pd.to_numeric(purchases["amount"], errors="coerce").gt(0)].copy()
    shifted = pd.to_datetime(recent["purchase_date"]) + pd.DateOffset(months=LATER_MONTHS)
    recent["purchase_date"] = shifted.dt.strftime("%Y-%m-%d")
    recent["purchase_id"] = [f"L{i:09d}" for i in range(1, len(recent) + 1)]
    recent["amount"] = (pd.to_numeric(recent["amount"]) * LATER_AMOUNT).round(-4).astype("int64").astype(str)
    online = rng.random(len(recent)) < LATER_ONLINE_SHARE
    recent["channel"] = np.where(online, "online", recent["channel"])
    purchases_path = folder / "purchases_2026q1.csv"
    recent.to_csv(purchases_path, index=False)

    sales = sales_frame(seed)
    sales["month"] = pd.to_datetime(sales["month"])
    year_before = sales[sales["month"].between(start - pd.DateOffset(months=9), start - pd.DateOffset(months=7))]
    later = year_before.assign(month=year_before["month"] + pd.DateOffset(years=1))
    slump = np.where(later["market"] == "Korea", 1.0, LATER_EXPORT_LEVEL)
    later["units"] = rng.poisson(later["units"].to_numpy(float) * slump)
    later["month"] = later["month"].dt.strftime("%Y-%m-%d")
    sales_path = folder / "sales_2026q1.csv"
    later.to_csv(sales_path, index=False)
    return {S.PURCHASES.name: purchases_path, S.SALES_MONTHLY.name: sales_path}


def load_later(wh, files: dict[str, Path]) -> dict[str, object]:
    """Load the later files (``write_later``'s answer) through ``carsight.ingest``; table → report.

    As a user's next delivery would be loaded.
    """
    from carsight.ingest import load_file

    return {table: load_file(wh, table, path) for table, path in files.items()}
