"""Scoring API latency and throughput on loopback: GET /customers/{id} (existing customer) and
POST /segments/assign (new customer), one uvicorn worker in its own process; the customer lookup
with a dealer user's token (scoped to one dealer's customers: a token lookup in the access store
and the scope check) beside the bootstrap admin token; and the customer lookup's p99 while
`carsight pipeline run` writes the same warehouse, beside its p99 idle. Every customer lookup,
whatever the token, writes its audit row (carsight.access.audit).

Latency: sequential requests over one keep-alive connection with httpx (p50/p99). Throughput: a
bounded closed-loop load (``--concurrency`` raw keep-alive connections for ``--seconds``) with its
p99 under load. The data is
a demo warehouse after the pipeline (built in a temporary folder unless --warehouse is given).

During a run the API keeps answering from the last published results (readers never wait for
writers) and reloads in the background when a step publishes; the run takes CPU from the server on
the same two cores, which is part of what is measured.

Usage: .venv/bin/python bench/api_latency.py [--customers 3000] [--warehouse W --model-dir M]
       [--no-during-run]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import goal, write_result  # noqa: E402

TOKEN = "bench-token-" + "x" * 20
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _build(customers: int, root: Path) -> tuple[Path, Path]:
    from carsight.config import Settings
    from carsight.demo import build_demo
    from carsight.pipeline import run_pipeline
    from carsight.warehouse import connect

    path, models = root / "bench.duckdb", root / "models"
    settings = Settings(warehouse=str(path), model_dir=models, output_dir=root / "out", data_dir=root / "data")
    with connect(str(path), init=True) as wh:
        build_demo(wh, root / "files", customers, 7)
        run_pipeline(wh, settings)
    return path, models


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _profile(rng: random.Random) -> dict:
    return {
        "age": rng.randint(20, 75),
        "gender": rng.choice(["M", "F"]),
        "region": rng.choice(["서울", "경기", "부산", "대구"]),
        "budget": rng.choice([2.5e7, 3.5e7, 5e7, 8e7]),
        "channel": rng.choice(["showroom", "web"]),
    }


def _requests(kind: str, ids: list[str], rng: random.Random):
    if kind == "customer":
        return ("GET", f"/customers/{rng.choice(ids)}", None)
    return ("POST", "/segments/assign", _profile(rng))


def _sequential(base: str, kind: str, ids: list[str], n: int, headers: dict = HEADERS) -> list[float]:
    rng = random.Random(1)
    latencies = []
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for i in range(n + 50):
            method, url, body = _requests(kind, ids, rng)
            start = time.perf_counter()
            response = client.request(method, url, json=body)
            elapsed = time.perf_counter() - start
            response.raise_for_status()
            if i >= 50:  # the first requests warm caches and the connection
                latencies.append(elapsed * 1000)
    return latencies


async def _load(base: str, kind: str, ids: list[str], concurrency: int, seconds: float):
    """Closed-loop load over raw keep-alive HTTP/1.1 connections: a minimal client, so the load
    generator (which shares the machine with the server) takes as little CPU as possible."""
    host, port = base.rsplit("//", 1)[1].split(":")
    rng = random.Random(2)
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = 0
    auth = HEADERS["Authorization"]

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                method, url, body = _requests(kind, ids, rng)
                payload = json.dumps(body).encode() if body is not None else b""
                head = (
                    f"{method} {quote(url)} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
                )
                start = time.perf_counter()
                writer.write(head.encode() + payload)
                await writer.drain()
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - start) * 1000)
                errors += status >= 400
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return len(latencies), errors, latencies, elapsed


def _during_run(base: str, ids: list[str], env: dict, steps: list[str]) -> dict:
    """Sequential customer lookups for as long as `carsight pipeline run` (``steps``; all when empty) takes.

    Every answer must be a 200 from the last published results; the pipeline runs in its own
    process on the warehouse the API reads.
    """
    carsight = Path(sys.executable).with_name("carsight")
    run = subprocess.Popen(
        [str(carsight), "pipeline", "run", *(f"--step={step}" for step in steps)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    rng = random.Random(3)
    latencies, errors, stamps = [], 0, set()
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers=HEADERS, timeout=30) as client:
        while run.poll() is None:
            start = time.perf_counter()
            response = client.get(f"/customers/{rng.choice(ids)}")
            latencies.append((time.perf_counter() - start) * 1000)
            errors += response.status_code != 200
            stamps.add(response.headers.get("X-Carsight-Results-As-Of"))
    if run.returncode != 0:
        raise SystemExit(f"the pipeline run failed: {run.stderr.read().decode()[-2000:]}")
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "requests": len(latencies),
        "errors": errors,
        "run_s": round(time.perf_counter() - started, 1),
        "results_stamps_seen": len(stamps),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="load duration per endpoint (bounded)")
    parser.add_argument(
        "--during-run",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure GET /customers/{id} while `carsight pipeline run` writes the warehouse",
    )
    parser.add_argument(
        "--run-steps", nargs="*", default=[], help="pipeline steps the run during the measurement runs (default: all)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="carsight-bench-api-") as tmp:
        if args.warehouse and args.during_run:  # the run writes: measure on a private copy
            path, models = Path(tmp) / "bench.duckdb", Path(tmp) / "models"
            shutil.copy(args.warehouse, path)
            shutil.copytree(args.model_dir or args.warehouse.parent / "models", models)
        elif args.warehouse:
            path, models = args.warehouse, args.model_dir or args.warehouse.parent / "models"
        else:
            print(f"building a {args.customers}-customer demo warehouse and running the pipeline…", flush=True)
            path, models = _build(args.customers, Path(tmp))
        from carsight.warehouse import connect

        with connect(str(path), read_only=True) as wh:
            customers = wh.table("customers")
            if "dealer_code" not in customers.columns:
                raise SystemExit(
                    "the warehouse has no customers.dealer_code: rebuild the demo (dealers came in issue 15)"
                )
            owners = customers.select("customer_id", "dealer_code").to_pandas()
        ids = list(owners.customer_id)
        # The dealer user covers the dealer with the most customers (the scope check is the same for any).
        dealer = owners.dealer_code.dropna().value_counts().index[0]
        dealer_ids = list(owners.customer_id[owners.dealer_code == dealer])
        from argon2 import PasswordHasher
        from argon2.profiles import CHEAPEST

        from carsight.access.users import AccessStore

        access_store = Path(tmp) / "bench.access.sqlite"
        dealer_token = (
            AccessStore(access_store, hasher=PasswordHasher.from_parameters(CHEAPEST))
            .add("bench-dealer", "dealer", [dealer])
            .token
        )
        port = _free_port()
        env = dict(
            os.environ,
            CARSIGHT_WAREHOUSE=str(path),
            CARSIGHT_MODEL_DIR=str(models),
            CARSIGHT_API_TOKEN=TOKEN,
            CARSIGHT_ACCESS_STORE=str(access_store),
            CARSIGHT_CONFIG=os.devnull,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "carsight.api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
            env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    health = httpx.get(f"{base}/health", timeout=2).json()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the API did not start") from None
                    time.sleep(0.3)
            if not health["available"].get("segmenter"):
                raise SystemExit("no segmenter model: run the pipeline first")
            metrics, data = (
                {},
                {"customers": len(ids), "warehouse": str(args.warehouse or path), "concurrency": args.concurrency},
            )
            data["run_steps"] = args.run_steps or "all"
            for kind, label in (("customer", "get_customer"), ("assign", "segments_assign")):
                seq = _sequential(base, kind, ids, args.requests)
                n, errors, loaded, elapsed = asyncio.run(_load(base, kind, ids, args.concurrency, args.seconds))
                metrics[label] = {
                    "p50_ms": round(statistics.median(seq), 2),
                    "p99_ms": round(_percentile(seq, 0.99), 2),
                    "sequential_requests": len(seq),
                    "throughput_rps": round(n / elapsed, 1),
                    "p99_under_load_ms": round(_percentile(loaded, 0.99), 2),
                    "load_requests": n,
                    "load_errors": errors,
                }
                print(label, metrics[label], flush=True)
            scoped = _sequential(
                base, "customer", dealer_ids, args.requests, {"Authorization": f"Bearer {dealer_token}"}
            )
            metrics["get_customer_dealer_token"] = {
                "p50_ms": round(statistics.median(scoped), 2),
                "p99_ms": round(_percentile(scoped, 0.99), 2),
                "sequential_requests": len(scoped),
                "dealer_customers": len(dealer_ids),
                "p99_ratio_to_admin_token": round(_percentile(scoped, 0.99) / metrics["get_customer"]["p99_ms"], 2),
            }
            data["dealer"] = str(dealer)
            print("get_customer_dealer_token", metrics["get_customer_dealer_token"], flush=True)
            if args.during_run:
                metrics["get_customer_during_run"] = _during_run(base, ids, env, args.run_steps)
                metrics["get_customer_during_run"]["p99_ratio_to_idle"] = round(
                    metrics["get_customer_during_run"]["p99_ms"] / metrics["get_customer"]["p99_ms"], 2
                )
                print("get_customer_during_run", metrics["get_customer_during_run"], flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    goals = {}
    for label in ("get_customer", "segments_assign"):
        goals[f"{label}.p99_ms"] = goal(metrics[label]["p99_ms"], 25.0, "<=")
        goals[f"{label}.throughput_rps"] = goal(metrics[label]["throughput_rps"], 300.0, ">=")
    goals["get_customer_dealer_token.p99_ms"] = goal(metrics["get_customer_dealer_token"]["p99_ms"], 25.0, "<=")
    if "get_customer_during_run" in metrics:
        during = metrics["get_customer_during_run"]
        goals["get_customer_during_run.errors"] = goal(during["errors"], 0, "<=")
    path = write_result(
        "api_latency",
        description="Scoring API on loopback, one uvicorn worker: sequential p50/p99 and closed-loop throughput",
        data=data,
        metrics=metrics,
        goals=goals,
        notes="Client and server share the machine (the load generator takes CPU from the single worker); "
        "p99 under load includes queueing behind the other concurrent clients. get_customer uses the bootstrap "
        "admin token (CARSIGHT_API_TOKEN); get_customer_dealer_token a dealer user's token over that dealer's "
        "customers (token digest looked up in the SQLite access store on every request, scope checked); both "
        "write an audit row per lookup.",
    )
    print(f"wrote {path}")
    return 0 if all(g["met"] for g in goals.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
