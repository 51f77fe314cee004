"""Ingest throughput: rows per second for a clean purchases CSV (UTF-8, canonical English headers),
cold load and idempotent re-load, against DuckDB's own ``CREATE TABLE … AS SELECT * FROM read_csv(…)``
on the same file in the same run (the practical limit: carsight reads a UTF-8 CSV with that same
reader, then validates every value, quarantines bad rows and upserts by key); a messy CP949 file
(Korean headers, " 4,120,000 " amounts, 2024.03.05 dates, Korean payment types, a subtotal row),
which DuckDB does not read, so it goes through the chunked reader; and the peak memory of a load at
two file sizes, each in a process of its own, to show that memory is bounded as the file grows
(DuckDB's memory is held to a budget during a load, and spills beyond it).

Run alone (heavy: wrap in the shared lock):
    flock /tmp/carsight-heavy.lock .venv/bin/python bench/ingest_throughput.py [--rows 2000000] \
        [--messy-rows 1000000] [--memory-rows 1000000 4000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
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
TARGET_RATIO_VS_DUCKDB = 0.5
# Peak memory of a load of the larger file over that of the smaller one: flat means close to 1.
TARGET_MEMORY_GROWTH = 1.25
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


def _duckdb_read_csv(path: Path, db_path: Path) -> float:
    """DuckDB alone: the file into a table of a DuckDB file, types sniffed, nothing validated."""
    import duckdb

    con = duckdb.connect(str(db_path))
    try:
        start = time.perf_counter()
        con.execute("CREATE TABLE purchases AS SELECT * FROM read_csv(?)", [str(path)])
        seconds = time.perf_counter() - start
        assert con.execute("SELECT COUNT(*) FROM purchases").fetchone()[0] > 0
        return seconds
    finally:
        con.close()


def _peak_rss_mb(what: str, path: Path, db_path: Path) -> dict:
    """Load ``path`` in a fresh process (``what``: carsight or duckdb); its peak resident memory."""
    out = subprocess.run(
        [sys.executable, __file__, "--one-load", what, str(path), str(db_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _high_water_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def _one_load(what: str, path: Path, db_path: Path) -> None:
    """The child of :func:`_peak_rss_mb`: memory before the load (libraries imported) and at its peak."""
    import duckdb  # noqa: F401  (imported before the baseline, like carsight's own libraries)

    from carsight.ingest import load_file  # noqa: F401
    from carsight.warehouse import connect

    base = _high_water_mb()
    if what == "carsight":
        cpu = _cpu_s()
        seconds, report = _load("purchases", path, db_path)
        rows = report.inserted
    else:
        connect(str(db_path), init=True).close()  # the same warehouse file, for the same imports
        cpu = _cpu_s()
        seconds, rows = _duckdb_read_csv(path, db_path.with_name(db_path.stem + "-duck.duckdb")), None
    cpu = _cpu_s() - cpu
    peak = _high_water_mb()
    print(json.dumps({"peak_rss_mb": round(peak), "before_load_mb": round(base), "seconds": round(seconds, 2),
                      "cpu_s": round(cpu, 2), "rows": rows}))  # fmt: skip


def _cpu_s() -> float:
    """CPU seconds of this process so far, every thread (DuckDB's too): user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--messy-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-rows", type=int, nargs=2, default=[1_000_000, 4_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one-load", nargs=3, metavar=("WHAT", "FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_load:
        what, path, db_path = args.one_load
        _one_load(what, Path(path), Path(db_path))
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="carsight-bench-ingest-") as tmp:
        root = Path(tmp)
        clean = root / "purchases.csv"
        messy = root / "구매내역.csv"
        t0 = time.perf_counter()
        write_clean(clean, args.rows)
        write_messy(messy, args.messy_rows)
        gen_s = time.perf_counter() - t0

        # carsight and DuckDB take turns on the same file, so a busy moment of the shared machine
        # slows both rather than one.
        cold, reload_, duck = [], [], []
        for i in range(args.repeat):
            duck.append(_duckdb_read_csv(clean, root / f"duck-{i}.duckdb"))
            (root / f"duck-{i}.duckdb").unlink()
            wh_path = root / f"clean-{i}.duckdb"
            seconds, report = _load("purchases", clean, wh_path)
            cold.append(seconds)
            assert report.inserted == args.rows and report.rejected == 0, report
            seconds, again = _load("purchases", clean, wh_path)
            reload_.append(seconds)
            assert again.inserted == 0 and again.updated == 0 and again.unchanged == args.rows, again
            wh_path.unlink()
        messy_times = []
        for i in range(max(1, args.repeat - 1)):
            wh_path = root / f"messy-{i}.duckdb"
            seconds, messy_report = _load("purchases", messy, wh_path)
            messy_times.append(seconds)
            assert messy_report.inserted == args.messy_rows and messy_report.subtotals == 1, messy_report
            wh_path.unlink()
        clean_mb = round(clean.stat().st_size / 1e6, 1)
        messy_mb = round(messy.stat().st_size / 1e6, 1)
        clean.unlink()
        messy.unlink()

        memory = {}
        for rows in args.memory_rows:
            path = root / f"purchases-{rows}.csv"
            write_clean(path, rows, seed=3)
            for what in ("carsight", "duckdb"):
                result = _peak_rss_mb(what, path, root / f"memory-{what}-{rows}.duckdb")
                if what == "carsight":
                    assert result["rows"] == rows, result
                memory[f"{what}_{rows}"] = result
            path.unlink()

    cold_s, reload_s, messy_s, duck_s = (statistics.median(x) for x in (cold, reload_, messy_times, duck))
    # Each DuckDB run and the carsight load after it share the machine's state of the moment.
    ratios = [d / c for d, c in zip(duck, cold, strict=True)]
    small, large = args.memory_rows
    growth = memory[f"carsight_{large}"]["peak_rss_mb"] / memory[f"carsight_{small}"]["peak_rss_mb"]
    metrics = {
        "clean_rows": args.rows,
        "clean_file_mb": clean_mb,
        "cold_load_s": round(cold_s, 2),
        "cold_rows_per_s": round(args.rows / cold_s),
        "duckdb_read_csv_s": round(duck_s, 2),
        "duckdb_rows_per_s": round(args.rows / duck_s),
        "ratio_vs_duckdb": round(statistics.median(ratios), 3),
        "ratio_all": [round(r, 3) for r in ratios],
        "reload_s": round(reload_s, 2),
        "reload_rows_per_s": round(args.rows / reload_s),
        "messy_rows": args.messy_rows,
        "messy_file_mb": messy_mb,
        "messy_load_s": round(messy_s, 2),
        "messy_rows_per_s": round(args.messy_rows / messy_s),
        # The same loads in fresh processes, one after the other: wall time, and CPU time (all threads),
        # which a busy shared machine disturbs less than wall time.
        **{
            f"ratio_vs_duckdb_fresh_{rows}": round(
                memory[f"duckdb_{rows}"]["seconds"] / memory[f"carsight_{rows}"]["seconds"], 3
            )
            for rows in args.memory_rows
        },
        **{
            f"ratio_vs_duckdb_cpu_{rows}": round(
                memory[f"duckdb_{rows}"]["cpu_s"] / memory[f"carsight_{rows}"]["cpu_s"], 3
            )
            for rows in args.memory_rows
        },
        f"peak_rss_mb_{small}": memory[f"carsight_{small}"]["peak_rss_mb"],
        f"peak_rss_mb_{large}": memory[f"carsight_{large}"]["peak_rss_mb"],
        "peak_rss_growth": round(growth, 3),
        "memory_runs": memory,
        "cold_all_s": [round(x, 2) for x in cold],
        "reload_all_s": [round(x, 2) for x in reload_],
        "duckdb_all_s": [round(x, 2) for x in duck],
        "messy_all_s": [round(x, 2) for x in messy_times],
        "generate_s": round(gen_s, 1),
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    path = write_result(
        "ingest_throughput",
        description=(
            f"carsight ingest rows/s on a clean {args.rows:,}-row purchases CSV (cold + idempotent re-load) "
            "against DuckDB's own read_csv into a table on the same file; messy CP949 CSV; peak memory of a "
            f"load of {small:,} and {large:,} rows"
        ),
        data={
            "clean": f"{args.rows} rows, UTF-8, canonical headers",
            "messy": f"{args.messy_rows} rows, CP949, Korean headers",
            "memory": f"clean files of {small} and {large} rows, one fresh process per load",
        },
        metrics=metrics,
        goals={
            "ratio_vs_duckdb": goal(metrics["ratio_vs_duckdb"], TARGET_RATIO_VS_DUCKDB, ">="),
            "cold_rows_per_s": goal(metrics["cold_rows_per_s"], TARGET_ROWS_PER_S, ">="),
            "peak_rss_growth": goal(metrics["peak_rss_growth"], TARGET_MEMORY_GROWTH, "<="),
        },
        baselines={
            "duckdb_read_csv": {
                "what": "CREATE TABLE purchases AS SELECT * FROM read_csv(FILE) into a DuckDB file",
                "seconds": metrics["duckdb_read_csv_s"],
                "rows_per_s": metrics["duckdb_rows_per_s"],
                f"peak_rss_mb_{small}": memory[f"duckdb_{small}"]["peak_rss_mb"],
                f"peak_rss_mb_{large}": memory[f"duckdb_{large}"]["peak_rss_mb"],
            }
        },
        notes=(
            f"median of {args.repeat} (messy: {max(1, args.repeat - 1)}); carsight and DuckDB alternate on the "
            "same file; the clean file is read by DuckDB's CSV reader inside carsight (carsight.ingest.sqlclean), "
            "the messy CP949 one in chunks; carsight's times include reading, cleaning, validation, subtotal and "
            "duplicate checks, "
            "the upsert by key into DuckDB, quarantine and load_log, in one transaction; DuckDB's include "
            "sniffing and parsing the CSV and writing the table. ratio_vs_duckdb = median over the repeats of "
            "carsight rows/s / DuckDB rows/s, each DuckDB run paired with the carsight load right after it; "
            "ratio_vs_duckdb_fresh_N and ratio_vs_duckdb_cpu_N compare one load of N rows in a fresh process each "
            "(wall seconds; CPU seconds of every thread). Peak RSS (VmHWM) of one load in a fresh process, "
            "libraries included; peak_rss_growth = "
            "peak at the larger file / peak at the smaller. The machine is shared, so times are noisy."
        ),
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
