"""How RFM, point-in-time features and scoring scale: DuckDB at 1M, 10M and 100M purchases, Spark
local[2] at 1M and 10M, side by side, each run in its own process with its peak memory (the process
and its children, the JVM included, sampled every 0.2 s).

Scoring is what the propensity step does for every customer once its model is fitted: today's
features, a score, a grade, the reasons (Korean and English) and the decile of every customer,
written to a table. The model (LightGBM and the logistic baseline, :class:`PropensityModel`) is
fitted before the clock starts on the features of the first 40,000 customers with a label drawn
from them (random weights on the standardised numeric features: a model of realistic size, not a
meaningful one). Both backends score as the pipeline's step does (``value_sampled``): today's
features of every customer computed once and kept by the warehouse; DuckDB then scores in this
process, one batch of customers at a time (``InBatches``), Spark on the executors (``OnExecutors``:
``mapInPandas``); deciles are ranked by the warehouse.

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/scale.py [--duckdb 1e6,1e7,1e8 --spark 1e6,1e7]

The data is generated in chunks of at most ``--chunk`` purchases straight to Parquet (never one
frame in memory), one customer per 10 purchases, laid out as a Spark warehouse folder (one version
per table, ``_CURRENT`` pointing at it): Spark opens it as it is, DuckDB reads the same files through
views. Leads, service visits, consultations and campaign contacts are empty, so the features are
the purchase and population part (the heaviest: the largest table, cross-joined with the cutoffs).
The generated folder is deleted at the end. Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from _common import write_result  # noqa: E402

AS_OF = dt.date(2026, 1, 1)
FIRST_DAY = dt.date(2016, 1, 1)
MODELS = [f"Model-{i:02d}" for i in range(24)]
REGIONS = ["Seoul", "Busan", "Incheon", "Daegu", "Gwangju", "Daejeon", "Ulsan", "Gyeonggi"]
VERSION = "v-20260101T000000.000000000-generated"  # a version name SparkWarehouse reads
RFM_GOAL_S, RFM_GOAL_GB = 60.0, 8.0


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def _write(root: Path, table, part: int, rows: pa.Table | None) -> None:
    from carsight.warehouse.spark import arrow_rows

    home = root / table.name / VERSION
    home.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow_rows(table, rows), home / f"part-{part:05d}.parquet", row_group_size=1 << 20)
    (root / table.name / "_CURRENT").write_text(VERSION)


def generate(root: Path, purchases: int, chunk: int, seed: int = 7) -> dict:
    """Customers and purchases as Parquet, chunk by chunk; every other source table empty."""
    from carsight.warehouse import schema as S

    rng = np.random.default_rng(seed)
    customers = max(purchases // 10, 1)
    days = (AS_OF - FIRST_DAY).days
    epoch = (FIRST_DAY - dt.date(1970, 1, 1)).days
    start = time.perf_counter()
    for part, first in enumerate(range(0, customers, chunk)):
        n = min(chunk, customers - first)
        numbers = np.arange(first, first + n)
        rows = pa.table(
            {
                "customer_id": _ids("C", numbers, 9),
                "gender": pa.array(np.where(rng.random(n) < 0.5, "M", "F")),
                "birth_year": pa.array(rng.integers(1950, 2005, n)),
                "region": pa.array(np.array(REGIONS)[rng.integers(0, len(REGIONS), n)]),
                "join_date": pa.array((epoch + rng.integers(-2000, days, n)).astype("int32"), pa.date32()),
                "channel": pa.array(np.where(rng.random(n) < 0.7, "showroom", "web")),
                "marketing_opt_in": pa.array(rng.random(n) < 0.6),
            }
        )
        _write(root, S.CUSTOMERS, part, rows)
    for part, first in enumerate(range(0, purchases, chunk)):
        n = min(chunk, purchases - first)
        kind = rng.random(n)
        amount = np.where(kind < 0.01, -np.exp(17 + rng.random(n)), np.exp(16.5 + rng.random(n) * 1.5))
        amount[(kind >= 0.01) & (kind < 0.015)] = 0.0
        rows = pa.table(
            {
                "purchase_id": _ids("P", np.arange(first, first + n), 10),
                # Skewed: a few customers buy often, most once or twice.
                "customer_id": _ids("C", (customers * rng.power(0.6, n)).astype(np.int64), 9),
                "purchase_date": pa.array((epoch + rng.integers(0, days, n)).astype("int32"), pa.date32()),
                "model": pa.array(np.array(MODELS)[rng.integers(0, len(MODELS), n)]),
                "amount": pa.array(amount),
                "payment_type": pa.array(np.where(kind < 0.5, "cash", "installment")),
            }
        )
        _write(root, S.PURCHASES, part, rows)
    for table in S.SOURCE_TABLES.values():
        if table.name not in (S.CUSTOMERS.name, S.PURCHASES.name):
            _write(root, table, 0, None)
    size = sum(f.stat().st_size for f in root.rglob("*.parquet"))
    return {
        "purchases": purchases,
        "customers": customers,
        "parquet_bytes": size,
        "generate_s": round(time.perf_counter() - start, 2),
    }


# ---- one timed step, in a child process -----------------------------------------------------------
def run_duckdb(root: Path, step: str, work: Path) -> dict:
    from carsight.customers.features import feature_expr
    from carsight.customers.rfm import rfm_table
    from carsight.warehouse import connect
    from carsight.warehouse import schema as S

    wh = connect(str(work / "scale.duckdb"))
    for table in S.SOURCE_TABLES.values():
        files = (root / table.name / VERSION / "*.parquet").as_posix()
        wh._execute(f"CREATE VIEW {table.name} AS SELECT * FROM read_parquet('{files}')")
    if step == "scoring":
        from carsight.customers.value_sampled import InBatches

        return score_everyone(wh, InBatches(wh, wh.count(S.CUSTOMERS.name)))
    start = time.perf_counter()
    expr = rfm_table(wh.table(S.PURCHASES.name), AS_OF) if step == "rfm" else feature_expr(wh, [AS_OF])
    wh.con.create_table("result", expr)  # CREATE TABLE AS, the expression's in-memory tables registered
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": wh.count("result")}


SCORING_FIT_CUSTOMERS = 40_000


def scoring_model(wh):
    """A propensity model fitted on the first customers' features (see the module's docstring)."""
    from carsight.customers import features as F
    from carsight.customers.propensity import PropensityModel

    rows = F.model_rows_expr(wh, AS_OF)
    first = F.typed_features(rows.filter(rows[F.ID] < f"C{SCORING_FIT_CUSTOMERS:09d}").to_pandas())
    cols = F.feature_columns(first)
    numeric = first[cols].select_dtypes("number").fillna(0.0)
    numeric = numeric.loc[:, numeric.std() > 0]
    rng = np.random.default_rng(0)
    z = ((numeric - numeric.mean()) / numeric.std()).to_numpy() @ rng.normal(size=numeric.shape[1])
    logit = z / np.sqrt(numeric.shape[1]) + rng.normal(size=len(z)) - 2.0
    label = (rng.random(len(z)) < 1 / (1 + np.exp(-logit))).astype(int)
    late = np.arange(len(first)) >= int(len(first) * 0.8)
    model = PropensityModel(candidates=("lightgbm",), random_state=0).fit(
        first.loc[~late, cols], label[~late], eval_set=(first.loc[late, cols], label[late])
    )
    return model, cols


def score_everyone(wh, scoring) -> dict:
    """Every customer scored, explained and ranked by ``scoring`` (as the pipeline's step does), written to a table."""
    from carsight.customers import features as F
    from carsight.customers import value_pipeline as V

    model, cols = scoring_model(wh)
    start = time.perf_counter()
    with scoring:
        now = scoring.today(F.model_rows_expr(wh, AS_OF))
        scoring.add_scores(now, {"model": model, "features": cols}, V.TARGETS[0], AS_OF, model.champion_, "ok")
        rows = scoring.write_scores()
    return {"seconds": time.perf_counter() - start, "rows": rows}


def run_spark(root: Path, step: str, work: Path) -> dict:
    from carsight.customers.features import feature_expr
    from carsight.customers.rfm import rfm_table
    from carsight.warehouse import connect
    from carsight.warehouse import schema as S
    from carsight.warehouse.results_customers import CUSTOMER_RFM
    from carsight.warehouse.spark import driver_collects

    conf = "master=local[2]&spark.driver.memory=5g&spark.sql.shuffle.partitions=8&spark.ui.enabled=false"
    wh = connect(f"spark://{root}?{conf}")
    wh.count(S.PURCHASES.name)  # the JVM is up and the files listed: time the step only
    start = time.perf_counter()
    if step == "scoring":
        from carsight.customers.value_on_spark import OnExecutors

        return score_everyone(wh, OnExecutors(wh))
    with driver_collects(100):  # nothing but counts comes to the driver
        if step == "rfm":
            rows = wh.replace(CUSTOMER_RFM, rfm_table(wh.table(S.PURCHASES.name), AS_OF).mutate(as_of=AS_OF))
        else:
            wh.con.to_parquet_dir(feature_expr(wh, [AS_OF]), work / "features")
            rows = wh.spark.read.parquet(str(work / "features")).count()
    return {"seconds": time.perf_counter() - start, "rows": rows}


def child(args) -> None:
    root, work = Path(args.root), Path(args.work)
    runner = run_duckdb if args.child == "duckdb" else run_spark
    print("RESULT " + json.dumps(runner(root, args.step, work)), flush=True)


def measure(backend: str, step: str, root: Path) -> dict:
    """Run one step in a child process; its result, wall time and peak memory (process tree)."""
    with tempfile.TemporaryDirectory(prefix="carsight-scale-", dir=root.parent) as work:
        cmd = [sys.executable, __file__, "--child", backend, "--step", step, "--root", str(root), "--work", work]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        watched = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)
        out = proc.stdout.read()
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        return {"backend": backend, "step": step, "error": f"exit {proc.returncode}: {out[-500:]}"}
    result = json.loads(line[len("RESULT ") :])
    return {
        "backend": backend,
        "step": step,
        "seconds": round(result["seconds"], 2),
        "rows": result["rows"],
        "peak_gb": round(peak / 1024**3, 2),
    }


def save(runs: list[dict], datasets: list[dict]) -> Path:
    """Write bench/results/scale.json from the runs so far (after each run: a long run keeps what it measured)."""
    metrics = {f"{r['backend']}_{r['step']}_{r['purchases']:.0e}_s": r.get("seconds") for r in runs}
    metrics.update({f"{r['backend']}_{r['step']}_{r['purchases']:.0e}_peak_gb": r.get("peak_gb") for r in runs})
    biggest = [r for r in runs if r["backend"] == "duckdb" and r["step"] == "rfm" and r["purchases"] >= 10**8]
    goals = {}
    if biggest and "seconds" in biggest[0]:
        r = biggest[0]
        goals["duckdb_rfm_1e+08_s"] = {"target": RFM_GOAL_S, "op": "<=", "met": r["seconds"] <= RFM_GOAL_S}
        goals["duckdb_rfm_1e+08_peak_gb"] = {"target": RFM_GOAL_GB, "op": "<=", "met": r["peak_gb"] <= RFM_GOAL_GB}
    ratios = {}
    for r in runs:
        if r["backend"] == "spark" and "seconds" in r:
            peer = next((d for d in runs if d["backend"] == "duckdb" and d["step"] == r["step"] and d["purchases"] == r["purchases"]), None)  # fmt: skip
            if peer and peer.get("seconds"):
                ratios[f"spark_over_duckdb_{r['step']}_{r['purchases']:.0e}"] = round(r["seconds"] / peer["seconds"], 2)
    metrics.update(ratios)
    path = write_result(
        "scale",
        description="RFM, point-in-time features and scoring of every customer over generated purchases: "
        "DuckDB and Spark local[2], seconds and peak memory of the process tree per step",
        data={"datasets": datasets, "runs": runs, "as_of": str(AS_OF)},
        metrics=metrics,
        goals=goals,
        baselines={"duckdb": "the same Ibis expression on DuckDB, same files, same machine, same run"},
        notes="Each step in a fresh process; Spark timings exclude JVM start-up and include writing the result "
        "as Parquet; DuckDB writes the result to a table. One customer per 10 purchases.",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duckdb", default="1e6,1e7,1e8", help="purchase counts run on DuckDB, in this order")
    parser.add_argument("--spark", default="1e6,1e7", help="purchase counts run on Spark local[2]")
    parser.add_argument("--steps", default="rfm,features,scoring")
    parser.add_argument("--chunk", type=float, default=5e6, help="purchases generated at a time")
    parser.add_argument("--dir", default=None, help="where the data is generated (default: a temp folder)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the runs of bench/results/scale.json that this run does not repeat (other steps or sizes)",
    )
    parser.add_argument("--child", choices=["duckdb", "spark"], help=argparse.SUPPRESS)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    on_duckdb = [int(float(x)) for x in args.duckdb.split(",") if x]
    on_spark = [int(float(x)) for x in args.spark.split(",") if x]
    steps = [s for s in args.steps.split(",") if s]
    runs, datasets = [], []
    kept_runs, kept_datasets = earlier_results() if args.merge else ([], [])
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="carsight-scale-data-"))
    base.mkdir(parents=True, exist_ok=True)
    for size in dict.fromkeys(on_duckdb + on_spark):  # in the order given
        root = base / f"p{size}"
        try:
            info = generate(root, size, int(args.chunk))
            datasets.append(info)
            print(json.dumps(info), flush=True)
            for backend in ("duckdb", "spark"):
                if size not in (on_duckdb if backend == "duckdb" else on_spark):
                    continue
                for step in steps:
                    row = {"purchases": size, **measure(backend, step, root)}
                    runs.append(row)
                    print(json.dumps(row), flush=True)
                    save(merged(kept_runs, runs), merged(kept_datasets, datasets))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if not args.dir:
        shutil.rmtree(base, ignore_errors=True)
    print(save(merged(kept_runs, runs), merged(kept_datasets, datasets)))


def earlier_results() -> tuple[list[dict], list[dict]]:
    """The runs and data sets of the last bench/results/scale.json (none when there is none)."""
    path = Path(__file__).parent / "results" / "scale.json"
    if not path.is_file():
        return [], []
    data = json.loads(path.read_text())["data"]
    return data["runs"], data["datasets"]


def merged(earlier: list[dict], now: list[dict]) -> list[dict]:
    """``now`` and the rows of ``earlier`` it does not repeat (same backend, step and size; same size)."""

    def key(row: dict) -> tuple:
        return (row.get("backend"), row.get("step"), row["purchases"])

    repeated = {key(r) for r in now}
    return [r for r in earlier if key(r) not in repeated] + now


if __name__ == "__main__":
    main()
