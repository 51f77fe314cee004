"""Where the pipeline's time goes at 50,000 customers: wall and CPU seconds per step, the floor that
the machine's cores put under the wall time, and what running independent steps side by side gains.

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/pipeline_cpu.py [--customers 50000]

One demo warehouse is generated and loaded, then two runs, each in fresh processes on its own copy
of that warehouse with an empty model folder (Kiwi's word cache cold, as on a first run):

1. ``sequential``: every step in pipeline order, one after the other, as ``carsight pipeline run``
   does. Per step: wall seconds, and CPU seconds of the process and of its finished children (the
   fits that run in processes of their own, :mod:`carsight.apart`).
2. ``two_chains`` (the peer): the same steps as two chains in two processes side by side, the steps
   that read only source tables (market, voc) in one and the others (customers, propensity,
   triggers, drivers) in the other: what a scheduler of whole steps could gain on this machine.

``floor_s`` = CPU seconds of the sequential run / cores: no schedule finishes sooner on this machine
without doing less work. ``work_cut_needed_pct``: the share of that CPU time the pipeline would have
to shed to meet the issue's 120 s even with every core busy all the time.
Writes bench/results/pipeline_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import goal, write_result  # noqa: E402

# The promise (issue 19): the pipeline at the default 50,000 customers within 2 minutes.
PIPELINE_S = 120.0
ORDER = ["customers", "propensity", "market", "voc", "triggers", "drivers"]
# Steps that read only source tables (no other step's results) and write only their own tables.
SIDE_CHAIN = ["market", "voc"]


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_chain(steps: list[str], warehouse: Path, model_dir: Path) -> None:
    """Run ``steps`` in order on ``warehouse``; print one JSON line per step (wall and CPU seconds)."""
    from carsight.config import Settings
    from carsight.pipeline import run_pipeline
    from carsight.warehouse import connect

    settings = Settings(
        warehouse=str(warehouse),
        model_dir=model_dir,
        output_dir=model_dir.parent / "out",
        data_dir=model_dir.parent / "data",
    )
    with connect(str(warehouse), init=True) as wh:
        for step in steps:
            wall, cpu = time.perf_counter(), _cpu_seconds()
            [result] = run_pipeline(wh, settings, steps=[step])
            print(
                json.dumps(
                    {
                        "step": step,
                        "status": result.status,
                        "wall_s": round(time.perf_counter() - wall, 1),
                        "cpu_s": round(_cpu_seconds() - cpu, 1),
                    }
                ),
                flush=True,
            )


def _start_chain(steps: list[str], base: Path, root: Path, name: str) -> subprocess.Popen:
    copy = root / f"{name}.duckdb"
    shutil.copy(base, copy)
    return subprocess.Popen(
        [sys.executable, __file__, "--chain", ",".join(steps), "--warehouse", str(copy), "--models", str(root / name)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> list[dict]:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"a chain failed (exit {process.returncode})")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    # Internal: one chain of steps, run in a process of its own.
    parser.add_argument("--chain", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chain:
        run_chain(args.chain.split(","), args.warehouse, args.models)
        return

    from carsight.demo import generate, load_demo
    from carsight.warehouse import connect

    root = Path(tempfile.mkdtemp(prefix="carsight-pipeline-cpu-"))
    try:
        generate(root / "demo", customers=args.customers, seed=args.seed)
        base = root / "base.duckdb"
        with connect(str(base), init=True) as wh:
            load_demo(wh, root / "demo")

        start = time.perf_counter()
        sequential = _finish(_start_chain(ORDER, base, root, "sequential"))
        sequential_wall = time.perf_counter() - start

        main_chain = [s for s in ORDER if s not in SIDE_CHAIN]
        start = time.perf_counter()
        side = _start_chain(SIDE_CHAIN, base, root, "side")
        rest = _start_chain(main_chain, base, root, "main")
        chains = _finish(rest) + _finish(side)
        two_chains_wall = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)

    cpus = os.cpu_count() or 1
    cpu = sum(s["cpu_s"] for s in sequential)
    wall = sum(s["wall_s"] for s in sequential)
    metrics = {
        "sequential_wall_s": round(sequential_wall, 1),
        "steps_wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cores_busy": round(cpu / wall, 2),
        "floor_s": round(cpu / cpus, 1),
        "two_chains_wall_s": round(two_chains_wall, 1),
        "two_chains_ratio_to_sequential": round(two_chains_wall / sequential_wall, 3),
        "work_cut_needed_pct": round(max(0.0, 1 - PIPELINE_S * cpus / cpu) * 100, 1),
    }
    per_step = {s["step"]: {k: s[k] for k in ("wall_s", "cpu_s")} for s in sequential}
    print(metrics, per_step, flush=True)
    write_result(
        "pipeline_cpu",
        description=(
            f"The pipeline at {args.customers:,} customers: wall and CPU seconds per step, the floor the cores put "
            "under the wall time, and two chains of steps side by side."
        ),
        data={
            "customers": args.customers,
            "seed": args.seed,
            "cpus": cpus,
            "per_step": per_step,
            "two_chains": {
                "side": SIDE_CHAIN,
                "main": main_chain,
                "per_step": {s["step"]: {k: s[k] for k in ("wall_s", "cpu_s")} for s in chains},
            },
            "failed_steps": [s["step"] for s in sequential + chains if s["status"] != "done"],
        },
        metrics=metrics,
        goals={"steps_wall_s": goal(metrics["steps_wall_s"], PIPELINE_S, "<=")},
        baselines={
            "two chains side by side": {
                "two_chains_wall_s": metrics["two_chains_wall_s"],
                "how": "market and voc in one process, the other steps in another, each on its own copy",
            }
        },
        notes=(
            "Each run in fresh processes on its own copy of one warehouse, model folder empty (first run). CPU "
            "seconds include finished child processes (the fits run apart). floor_s = cpu_s / cores; "
            "work_cut_needed_pct = the share of cpu_s to shed for 120 s with every core busy. Where the CPU goes "
            "inside the steps: py-spy record --subprocesses --format raw on the sequential chain (closing note of "
            "issue 19)."
        ),
    )


if __name__ == "__main__":
    main()
