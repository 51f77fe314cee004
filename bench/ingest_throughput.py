"""Ingest throughput: rows per second for a clean 5-million-row purchases CSV (UTF-8, canonical
English headers), cold load and idempotent re-load, and for a 1-million-row messy CP949 file
(Korean headers, " 4,120,000 " amounts, 2024.03.05 dates, Korean payment types, a subtotal row).

Run alone (heavy: wrap in the shared lock):
    flock /tmp/carsight-heavy.lock .venv/bin/python bench/ingest_throughput.py [--rows 5000000] [--messy-rows 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

sys.path.insert(0, str(Path(__file__).parent))
from _common import goal, write_result  # noqa: E402

TARGET_ROWS_PER_S = 300_000
MODELS = np.array(["Avante", "Sonata", "Grandeur", "Tucson", "Santa Fe", "Palisade", "Kona", "Ioniq 5", "G70", "GV80"])
BRANDS = np.array(["Hyundai"] * 8 + ["Genesis"] * 2)
PAYMENTS = np.array(["cash", "installment", "lease", "rent"])
PAYMENTS_KO = np.array(["일시불", "할부", "리스", "장기렌트"])
DEALERS = np.array([f"Dealer {i:03d}" for i in range(300)])
CHANNELS = np.array(["showroom", "web", "referral", "fleet"])


def _columns(rows: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = rng.integers(0, len(MODELS), rows)
    days = rng.integers(0, 5 * 365, rows)
    return {
        "id": np.arange(rows),
        "customer": rng.integers(0, rows // 3 + 1, rows),
        "date": np.datetime64("2019-01-01") + days.astype("timedelta64[D]"),
        "model": model,
        "amount": (rng.normal(40_000_000, 12_000_000, rows).clip(9_000_000) // 10_000 * 10_000).astype("int64"),
        "payment": rng.integers(0, 4, rows),
        "dealer": rng.integers(0, len(DEALERS), rows),
        "channel": rng.integers(0, len(CHANNELS), rows),
    }


def write_clean(path: Path, rows: int, seed: int = 1) -> None:
    c = _columns(rows, seed)
    table = pa.table(
        {
            "purchase_id": pa.array(np.char.add("P", c["id"].astype("U9"))),
            "customer_id": pa.array(np.char.add("C", c["customer"].astype("U9"))),
            "purchase_date": pa.array(c["date"]),
            "brand": pa.array(BRANDS[c["model"]]),
            "model": pa.array(MODELS[c["model"]]),
            "amount": pa.array(c["amount"]),
            "payment_type": pa.array(PAYMENTS[c["payment"]]),
            "dealer": pa.array(DEALERS[c["dealer"]]),
            "channel": pa.array(CHANNELS[c["channel"]]),
        }
    )
    pcsv.write_csv(table, path)


def write_messy(path: Path, rows: int, seed: int = 2) -> None:
    c = _columns(rows, seed)
    dates = pd.Series(c["date"]).dt.strftime("%Y.%m.%d")
    amounts = pd.Series(c["amount"]).map("{:,}".format)
    frame = pd.DataFrame(
        {
            "계약번호": np.char.add("계약-", c["id"].astype("U9")),
            "고객번호": np.char.add("", (c["customer"] + 10_000_000).astype("U9")),
            "구매일자": dates,
            "브랜드": BRANDS[c["model"]],
            "차종": MODELS[c["model"]],
            "거래 금액": " " + amounts + " ",
            "결제방식": PAYMENTS_KO[c["payment"]],
            "지점": DEALERS[c["dealer"]],
            "채널": CHANNELS[c["channel"]],
        }
    )
    total = {k: "" for k in frame.columns}
    total["계약번호"] = "합계"
    total["거래 금액"] = f"{int(c['amount'].sum()):,}"
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    frame.to_csv(path, index=False, encoding="cp949")


def _load(table: str, path: Path, wh_path: Path):
    from carsight.ingest import load_file
    from carsight.warehouse import connect

    with connect(str(wh_path), init=True) as wh:
        start = time.perf_counter()
        report = load_file(wh, table, path, output_dir=wh_path.parent / "out")
        return time.perf_counter() - start, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--messy-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carsight-bench-ingest-") as tmp:
        root = Path(tmp)
        clean = root / "purchases.csv"
        messy = root / "구매내역.csv"
        t0 = time.perf_counter()
        write_clean(clean, args.rows)
        write_messy(messy, args.messy_rows)
        gen_s = time.perf_counter() - t0

        cold, reload_, reports = [], [], []
        for i in range(args.repeat):
            wh_path = root / f"clean-{i}.duckdb"
            seconds, report = _load("purchases", clean, wh_path)
            cold.append(seconds)
            assert report.inserted == args.rows, report
            seconds, again = _load("purchases", clean, wh_path)
            reload_.append(seconds)
            assert again.inserted == 0 and again.updated == 0 and again.unchanged == args.rows, again
            reports.append((report, again))
            wh_path.unlink()
        messy_times = []
        for i in range(max(1, args.repeat - 1)):
            wh_path = root / f"messy-{i}.duckdb"
            seconds, messy_report = _load("purchases", messy, wh_path)
            messy_times.append(seconds)
            assert messy_report.inserted == args.messy_rows and messy_report.subtotals == 1, messy_report
            wh_path.unlink()

        cold_s, reload_s, messy_s = (statistics.median(x) for x in (cold, reload_, messy_times))
        metrics = {
            "clean_rows": args.rows,
            "clean_file_mb": round(clean.stat().st_size / 1e6, 1),
            "cold_load_s": round(cold_s, 2),
            "cold_rows_per_s": round(args.rows / cold_s),
            "reload_s": round(reload_s, 2),
            "reload_rows_per_s": round(args.rows / reload_s),
            "messy_rows": args.messy_rows,
            "messy_file_mb": round(messy.stat().st_size / 1e6, 1),
            "messy_load_s": round(messy_s, 2),
            "messy_rows_per_s": round(args.messy_rows / messy_s),
            "cold_all_s": [round(x, 2) for x in cold],
            "reload_all_s": [round(x, 2) for x in reload_],
            "messy_all_s": [round(x, 2) for x in messy_times],
            "generate_s": round(gen_s, 1),
        }
    path = write_result(
        "ingest_throughput",
        description="carsight ingest rows/s: clean 5M-row purchases CSV (cold + idempotent re-load), messy 1M-row CP949 CSV",
        data={
            "clean": f"{args.rows} rows, UTF-8, canonical headers",
            "messy": f"{args.messy_rows} rows, CP949, Korean headers",
        },
        metrics=metrics,
        goals={"cold_rows_per_s": goal(metrics["cold_rows_per_s"], TARGET_ROWS_PER_S, ">=")},
        notes=f"median of {args.repeat} (messy: {max(1, args.repeat - 1)}); times include reading, cleaning, "
        "validation, upsert into DuckDB, quarantine and load_log; the machine is shared, so numbers are noisy",
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
