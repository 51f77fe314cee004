"""Replacing a result table is atomic on every backend: a reader sees the old rows or the new ones,
never an empty or half-written table, and a failed replace leaves the old rows.

Run on DuckDB (one transaction) and on SQLite through Ibis (write a new table, then swap names), the
one other Ibis backend that runs here without a server."""

from __future__ import annotations

import sqlite3
import threading

import duckdb
import ibis
import pandas as pd
import pytest

from carsight.warehouse import Warehouse
from carsight.warehouse.results_customers import SEGMENT_K_CURVE


def _curve(n: int, k0: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": range(k0, k0 + n),
            "inertia": [float(i) for i in range(n)],
            "silhouette": 0.5,
            "silhouette_se": 0.01,
            "elbow": False,
            "chosen": [i == 0 for i in range(n)],
        }
    )


@pytest.fixture(params=["duckdb", "sqlite"])
def backend(request, tmp_path):
    """(warehouse location, a function counting the table's rows from a separate connection)."""
    if request.param == "duckdb":
        path = tmp_path / "wh.duckdb"
        return str(path), path, request.param
    path = tmp_path / "wh.sqlite"
    return f"sqlite:///{path}", path, request.param


def _other_connection(kind, path):
    if kind == "sqlite":
        con = sqlite3.connect(path, timeout=30, check_same_thread=False)
        return con, lambda: con.execute(f"SELECT COUNT(*) FROM {SEGMENT_K_CURVE.name}").fetchone()[0]
    # DuckDB: another connection of the same database (another process cannot open a held file).
    return None, None


def test_replace_writes_exactly_the_new_rows_and_leaves_no_helper_tables(backend):
    location, path, kind = backend
    wh = Warehouse(location)
    try:
        assert wh.replace(SEGMENT_K_CURVE, _curve(5)) == 5
        assert wh.replace(SEGMENT_K_CURVE, _curve(3, k0=10)) == 3
        frame = wh.table(SEGMENT_K_CURVE.name).to_pandas().sort_values("k")
        assert frame.k.tolist() == [10, 11, 12]
        assert frame.chosen.astype(bool).tolist() == [True, False, False]
        assert not [t for t in wh.con.list_tables() if t.startswith(("_new_", "_old_"))]
    finally:
        wh.close()


def test_replace_with_an_expression_is_computed_in_the_warehouse(backend, monkeypatch):
    """An Ibis expression is written by SQL inside the warehouse, typed like the table (missing nullable
    columns empty, extra ones dropped), never fetched as rows; a failing one leaves the old rows."""
    location, path, kind = backend
    wh = Warehouse(location)
    try:
        wh.replace(SEGMENT_K_CURVE, _curve(6))
        stored = wh.table(SEGMENT_K_CURVE.name)
        expr = stored.filter(stored.k > 2).mutate(k=stored.k * 10, note=ibis.literal("extra")).drop("silhouette_se")
        monkeypatch.setattr(type(expr), "to_pyarrow", lambda *a, **k: pytest.fail("fetched to Python"))
        monkeypatch.setattr(type(expr), "to_pandas", lambda *a, **k: pytest.fail("fetched to Python"))
        assert wh.replace(SEGMENT_K_CURVE, expr) == 4
        monkeypatch.undo()
        frame = wh.table(SEGMENT_K_CURVE.name).to_pandas().sort_values("k")
        assert frame.k.tolist() == [30, 40, 50, 60]
        assert frame.silhouette_se.isna().all() and "note" not in frame.columns
        with pytest.raises(Exception, match="lacks columns: k"):
            wh.replace(SEGMENT_K_CURVE, wh.table(SEGMENT_K_CURVE.name).drop("k"))
        assert wh.count(SEGMENT_K_CURVE.name) == 4
        assert not [t for t in wh.con.list_tables() if t.startswith(("_new_", "_old_"))]
    finally:
        wh.close()


def test_a_failed_replace_leaves_the_old_rows(backend):
    location, path, kind = backend
    wh = Warehouse(location)
    try:
        wh.replace(SEGMENT_K_CURVE, _curve(4))
        bad = _curve(2).drop(columns=["k"])  # k is required: the write fails before any swap
        with pytest.raises(Exception, match="k"):
            wh.replace(SEGMENT_K_CURVE, bad)
        assert wh.count(SEGMENT_K_CURVE.name) == 4
        assert not [t for t in wh.con.list_tables() if t.startswith(("_new_", "_old_"))]
    finally:
        wh.close()


def test_a_reader_never_sees_an_empty_or_half_table_during_replaces(backend):
    location, path, kind = backend
    wh = Warehouse(location)
    wh.replace(SEGMENT_K_CURVE, _curve(100))
    if kind == "sqlite":
        con, count = _other_connection(kind, path)
    else:
        con = wh.con.con.cursor()  # a second connection to the same DuckDB database

        def count():
            return con.execute(f"SELECT COUNT(*) FROM {SEGMENT_K_CURVE.name}").fetchone()[0]

    seen, errors, stop = [], [], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                seen.append(count())
            except (sqlite3.OperationalError, duckdb.Error) as exc:
                if "locked" in str(exc):  # SQLite's reader waits out a commit: not a wrong answer
                    continue
                errors.append(exc)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(20):
            wh.replace(SEGMENT_K_CURVE, _curve(100 if i % 2 else 200))
    finally:
        stop.set()
        watcher.join()
        con.close()
        wh.close()
    assert not errors  # never "no such table"
    assert seen and set(seen) <= {100, 200}


def test_a_replace_that_fails_at_its_last_statement_leaves_the_old_rows(backend, monkeypatch):
    """The statement that puts the new rows in place fails after the old ones were taken away (DuckDB:
    the INSERT after the DELETE; elsewhere: the rename after the old table's): nothing of it stays."""
    location, path, kind = backend
    wh = Warehouse(location)
    try:
        wh.replace(SEGMENT_K_CURVE, _curve(4))
        execute = wh._execute
        last = f'INSERT INTO "{SEGMENT_K_CURVE.name}"' if kind == "duckdb" else f'RENAME TO "{SEGMENT_K_CURVE.name}"'

        def failing(sql: str) -> None:
            if last in sql:
                raise RuntimeError("the disk filled up")
            execute(sql)

        monkeypatch.setattr(wh, "_execute", failing)
        with pytest.raises(RuntimeError, match="disk filled up"):
            wh.replace(SEGMENT_K_CURVE, _curve(7))
        monkeypatch.setattr(wh, "_execute", execute)
        frame = wh.table(SEGMENT_K_CURVE.name).to_pandas()
        assert sorted(frame.k) == [1, 2, 3, 4]
        assert not [t for t in wh.con.list_tables() if t.startswith(("_new_", "_old_"))]
    finally:
        wh.close()
