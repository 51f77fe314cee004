"""Shared by every benchmark: a machine description, medians, and one JSON result per benchmark."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    info = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    try:
        with open("/proc/meminfo") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 1024**2, 1)
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def timed(func: Callable[[], object], repeat: int = 5) -> tuple[float, list[float], object]:
    """Run ``func`` ``repeat`` times; return the median seconds, all timings and the last result."""
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), timings, result


def write_result(
    name: str,
    *,
    description: str,
    data: dict,
    metrics: dict,
    goals: dict | None = None,
    baselines: dict | None = None,
    notes: str = "",
) -> Path:
    """Write ``bench/results/<name>.json``.

    ``goals`` maps a metric to {"target": value, "op": "<=" | ">=", "met": bool}; ``baselines`` names
    the baseline(s) and their metrics on the same split.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    payload = {
        "name": name,
        "description": description,
        "command": f".venv/bin/python {Path(sys.argv[0]).as_posix()} " + " ".join(sys.argv[1:]),
        "run_at": dt.datetime.now().isoformat(timespec="seconds"),
        "commit": commit,
        "machine": machine(),
        "data": data,
        "metrics": metrics,
        "goals": goals or {},
        "baselines": baselines or {},
        "notes": notes,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    return path


def goal(value: float, target: float, op: str) -> dict:
    met = value <= target if op == "<=" else value >= target
    return {"value": value, "target": target, "op": op, "met": bool(met)}
