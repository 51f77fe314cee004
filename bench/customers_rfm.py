"""Time RFM (scores, grades, named segments, groups) for 1M customers with 10M purchases, computed
by one Ibis expression inside DuckDB and written to a table.

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/customers_rfm.py [--customers 1000000 --purchases 10000000]
The purchases are generated in DuckDB directly (random customers, dates 2016–2025, log-normal
amounts, 1% refunds, 0.5% zero amounts). Writes bench/results/customers_rfm.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import goal, timed, write_result  # noqa: E402
from carsight.customers.rfm import rfm_table  # noqa: E402

TARGET_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import ibis

    with tempfile.TemporaryDirectory(prefix="carsight-bench-rfm-") as root:
        con = ibis.duckdb.connect(str(Path(root) / "rfm.duckdb"))
        start = time.perf_counter()
        con.raw_sql(
            f"""
            CREATE TABLE purchases AS
            SELECT 'C' || lpad(CAST(CAST(floor(random() * {args.customers}) AS BIGINT) AS VARCHAR), 8, '0') AS customer_id,
                   DATE '2016-01-01' + CAST(floor(random() * 3650) AS INTEGER) AS purchase_date,
                   CASE WHEN r < 0.01 THEN -exp(17 + random()) WHEN r < 0.015 THEN 0.0 ELSE exp(16.5 + random() * 1.5) END AS amount
            FROM (SELECT random() AS r FROM range({args.purchases}))
            """
        )
        generated = time.perf_counter() - start
        purchases = con.table("purchases")
        as_of = dt.date(2026, 1, 1)

        def run():
            sql = con.compile(rfm_table(purchases, as_of))
            con.con.execute(f"CREATE OR REPLACE TABLE customer_rfm AS {sql}")
            return con.table("customer_rfm").count().to_pyarrow().as_py()

        median, timings, n_customers = timed(run, repeat=args.repeat)
        groups = con.table("customer_rfm").group_by("group").aggregate(n=ibis._.count()).to_pandas()
        grades = con.table("customer_rfm").group_by("grade").aggregate(n=ibis._.count()).to_pandas()
        con.disconnect()

    write_result(
        "customers_rfm",
        description="RFM scores, grades, named segments and groups for every customer, one Ibis expression in DuckDB",
        data={
            "customers": args.customers,
            "purchases": args.purchases,
            "scored_customers": int(n_customers),
            "generate_s": round(generated, 2),
            "groups": dict(zip(groups["group"], groups["n"].astype(int), strict=True)),
            "grades": dict(zip(grades["grade"], grades["n"].astype(int), strict=True)),
        },
        metrics={"seconds_median": round(median, 2), "seconds_all": [round(t, 2) for t in timings]},
        goals={"seconds_median": goal(round(median, 2), TARGET_SECONDS, "<=")},
        notes="Includes writing the result table (CREATE TABLE AS). Machine shared with other jobs.",
    )
    print(f"RFM of {n_customers:,} customers from {args.purchases:,} purchases: median {median:.2f} s ({timings})")


if __name__ == "__main__":
    main()
