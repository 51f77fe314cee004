"""Shared fixtures: small, deterministic demo warehouses built once per test session.

- ``demo_files``: the demo business written as files (the messy ones included).
- ``demo_wh_path``: a DuckDB file loaded from those files through ingest. Treat as read-only;
  use ``demo_wh_copy`` for a private, writable copy.
- ``pipeline_wh_path``: the same after ``run_pipeline`` (result tables present), for the dashboard,
  API and report tests. Read-only as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

# Small enough for 2 cores, large enough for the planted structure to show.
DEMO_CUSTOMERS = int(os.environ.get("CARSIGHT_TEST_DEMO_CUSTOMERS", "3000"))
DEMO_SEED = 7


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """No test reads the developer's carsight.toml or writes into the working tree."""
    from carsight.config import reset_settings_cache

    monkeypatch.setenv("CARSIGHT_CONFIG", str(tmp_path / "no-such-carsight.toml"))
    monkeypatch.setenv("CARSIGHT_WAREHOUSE", str(tmp_path / "test.duckdb"))
    monkeypatch.setenv("CARSIGHT_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CARSIGHT_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("CARSIGHT_DATA_DIR", str(tmp_path / "data"))
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture
def tmp_warehouse(tmp_path):
    """An empty, initialised warehouse in a temporary DuckDB file."""
    from carsight.warehouse import connect

    wh = connect(str(tmp_path / "wh.duckdb"), init=True)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> Path:
    from carsight.demo import generate

    out = tmp_path_factory.mktemp("demo-files")
    generate(out, customers=DEMO_CUSTOMERS, seed=DEMO_SEED)
    return out


@pytest.fixture(scope="session")
def demo_wh_path(tmp_path_factory, demo_files) -> Path:
    from carsight.demo import load_demo
    from carsight.warehouse import connect

    path = tmp_path_factory.mktemp("demo-wh") / "demo.duckdb"
    with connect(str(path), init=True) as wh:
        load_demo(wh, demo_files)
    return path


@pytest.fixture
def demo_wh_copy(tmp_path, demo_wh_path) -> Path:
    target = tmp_path / "demo-copy.duckdb"
    shutil.copy(demo_wh_path, target)
    return target


@pytest.fixture(scope="session")
def pipeline_wh_path(tmp_path_factory, demo_wh_path) -> Path:
    from carsight.config import Settings
    from carsight.pipeline import run_pipeline
    from carsight.warehouse import connect

    root = tmp_path_factory.mktemp("pipeline-wh")
    path = root / "pipeline.duckdb"
    shutil.copy(demo_wh_path, path)
    settings = Settings(warehouse=str(path), model_dir=root / "models", output_dir=root / "out", data_dir=root / "data")
    with connect(str(path), init=True) as wh:
        results = run_pipeline(wh, settings)
    done = [{"name": r.name, "status": r.status, "seconds": r.seconds, "summary": r.summary} for r in results]
    (root / "results.json").write_text(json.dumps(done, default=str, ensure_ascii=False))
    return path


@pytest.fixture(scope="session")
def pipeline_results(pipeline_wh_path) -> dict:
    """What each step of the ``pipeline_wh_path`` run did (its ``StepResult``), by step name. Its
    models are in ``pipeline_wh_path.parent / "models"``."""
    from carsight.pipeline import StepResult

    done = json.loads((pipeline_wh_path.parent / "results.json").read_text())
    return {r["name"]: StepResult(**r) for r in done}


@contextmanager
def _holding(path: Path, *, read_only: bool = False):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(path)!r}, read_only={read_only!r})
            print("holding", flush=True)
            sys.stdin.read()
            """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.fixture
def holding():
    """``with holding(path, read_only=False):`` another process holds the DuckDB file at ``path``
    (writing, or reading) until the block ends; yields the process."""
    return _holding
