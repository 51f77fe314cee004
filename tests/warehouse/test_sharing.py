"""Readers never wait for writers: writers publish snapshots, readers open the newest one read-only.

Known answers on small files: what a reader sees before, during and after writes by another process,
that an old snapshot a reader holds keeps working when a newer one replaces it, and that publishing
keeps the writer's lock (so no second writer gets in)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pandas as pd
import pytest

from carsight.warehouse import NotPublishedYet, Warehouse, open_reader, reading_stamp
from carsight.warehouse import reading as reading_module
from carsight.warehouse.sharing import latest_publication, published_dir


def _count(reader) -> int:
    return int(reader.con.con.execute("SELECT COUNT(*) FROM t").fetchone()[0])


def _other_process_opens(path) -> bool:
    code = f"import duckdb; duckdb.connect({str(path)!r}, read_only=True)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_a_writer_publishes_when_it_closes_and_readers_read_that(tmp_path):
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT * FROM range(3)")
    publication = latest_publication(path)
    assert publication is not None and publication.writer == "write"
    with open_reader(str(path)) as r:
        assert r.published and r.publication == publication
        assert _count(r) == 3
        assert r.read_only
    # One snapshot on disk: the older ones go when a newer one is named.
    assert sorted(p.suffix for p in published_dir(path).iterdir()) == [".duckdb", ".json"]


def test_a_connection_that_changed_nothing_publishes_nothing_new(tmp_path):
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT 1 AS a")
    first = latest_publication(path)
    with Warehouse(str(path)) as wh:
        assert wh.count("t") == 1
    assert latest_publication(path) == first


def test_nothing_published_reads_the_warehouse_itself_and_says_so(tmp_path):
    path = tmp_path / "old.duckdb"
    with Warehouse(str(path), publishes=False) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT * FROM range(2)")
    assert latest_publication(path) is None
    with open_reader(str(path)) as r:
        assert not r.published and r.publication is None
        assert _count(r) == 2
    assert reading_stamp(str(path)).startswith("unpublished:")


def test_readers_keep_reading_the_last_snapshot_while_another_process_writes(tmp_path, holding):
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT * FROM range(5)")
    with holding(path, read_only=False):  # a pipeline run or a load holds the file
        with pytest.raises(Exception, match="lock"):
            Warehouse(str(path), read_only=True)
        with open_reader(str(path)) as r:  # no wait, no "busy"
            assert _count(r) == 5


def test_a_reader_started_in_the_first_write_finds_the_snapshot_published_at_open(tmp_path):
    path = tmp_path / "new.duckdb"
    writer = Warehouse(str(path))  # a new file: published at once, empty
    try:
        assert latest_publication(path).writer == "open"
        with open_reader(str(path)) as r:
            assert r.published and "t" not in r.con.list_tables()
    finally:
        writer.close()


def test_a_reader_of_a_held_file_with_nothing_published_says_so(tmp_path, holding, monkeypatch):
    path = tmp_path / "held.duckdb"
    with Warehouse(str(path), publishes=False) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT 1 AS a")
    monkeypatch.setattr(reading_module, "FIRST_PUBLICATION_WAIT_S", 0.5)
    with holding(path, read_only=False), pytest.raises(NotPublishedYet, match="published nothing yet"):
        open_reader(str(path))


def test_an_open_snapshot_survives_a_newer_one_and_a_new_reader_gets_the_new_one(tmp_path):
    """DuckDB shares one database per path inside a process, so snapshots are never written over a
    path a reader may have open: each has its own name and the old file is only unlinked."""
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT * FROM range(10)")
    old = open_reader(str(path))
    try:
        with Warehouse(str(path)) as wh:
            wh.con.raw_sql("INSERT INTO t SELECT * FROM range(5)")
        assert not (published_dir(path) / old.publication.file).exists()  # deleted, but held open
        assert _count(old) == 10  # the holder keeps its consistent snapshot
        with open_reader(str(path)) as new:
            assert new.publication != old.publication
            assert _count(new) == 15
    finally:
        old.close()


def test_a_reader_whose_snapshot_was_just_replaced_reads_the_newer_one(tmp_path):
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT 1 AS a")
    seen = latest_publication(path)  # looked up by a page run…
    with Warehouse(str(path)) as wh:  # …and replaced before it opened it
        wh.con.raw_sql("INSERT INTO t VALUES (2)")
    with open_reader(str(path), publication=seen) as r:
        assert r.publication == latest_publication(path) != seen
        assert _count(r) == 2


def test_publishing_keeps_the_writer_lock(tmp_path):
    """A copy made in this process would drop DuckDB's lock on the file (POSIX record locks go with
    any closed descriptor): another process could then open it while it is being written."""
    path = tmp_path / "held.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT 1 AS a")
        wh.publish(writer="pipeline", detail="1/2 market")
        assert not _other_process_opens(path)  # still held by this writer
        publication = latest_publication(path)
        assert (publication.writer, publication.detail) == ("pipeline", "1/2 market")
        assert _other_process_opens(published_dir(path) / publication.file)


def test_the_pointer_names_only_a_complete_snapshot(tmp_path):
    """Readers polling the pointer while a writer publishes again and again always open a whole file
    with every row a publication had committed (never a half-copied one)."""
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t (n BIGINT)")
    code = textwrap.dedent(f"""
        from carsight.warehouse import Warehouse
        with Warehouse({str(path)!r}) as wh:
            for i in range(1, 16):
                wh.con.raw_sql(f"INSERT INTO t SELECT {{i}} FROM range(1000)")
                wh.publish(writer="pipeline", detail=str(i))
    """)
    writer = subprocess.Popen([sys.executable, "-c", code])
    counts, errors = [], []
    while writer.poll() is None:
        try:
            with open_reader(str(path)) as r:
                n, batches = r.con.con.execute("SELECT COUNT(*), COUNT(DISTINCT n) FROM t").fetchone()
                detail = r.publication.detail
            counts.append((n, batches, detail))
        except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
            errors.append(exc)
    assert writer.returncode == 0 and not errors
    assert counts, "the reader never ran while the writer published"
    for n, batches, detail in counts:
        assert n == 1000 * batches  # whole batches only
        if detail.isdigit():
            assert batches == int(detail)  # the pointer's words match the file it names
    with open_reader(str(path)) as r:
        assert _count(r) == 15_000
    assert json.loads((published_dir(path) / "current.json").read_text())["detail"] == "15"


def test_publishing_happens_after_a_failed_block_too_and_the_error_wins(tmp_path):
    path = tmp_path / "wh.duckdb"
    with pytest.raises(RuntimeError, match="later failure"), Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT * FROM range(4)")
        raise RuntimeError("later failure")
    with open_reader(str(path)) as r:  # what was committed is published
        assert _count(r) == 4


def test_concurrent_readers_in_threads_during_publishes(tmp_path):
    """The dashboard's sessions read in threads of one process while its desk saves (and publishes)."""
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.upsert("customers", pd.DataFrame({"customer_id": ["C0"], "name": ["a"]}))
    stop, errors, seen = threading.Event(), [], set()

    def read() -> None:
        while not stop.is_set():
            try:
                with open_reader(str(path)) as r:
                    seen.add(r.count("customers"))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(1, 8):
        with Warehouse(str(path)) as wh:
            wh.upsert("customers", pd.DataFrame({"customer_id": [f"C{i}"], "name": ["b"]}))
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors and seen and seen <= set(range(1, 9))  # whole saves only
    with open_reader(str(path)) as r:
        assert r.count("customers") == 8


def test_a_server_warehouse_is_read_live_through_the_same_path(tmp_path):
    """Backends with concurrent readers of their own (here SQLite through Ibis) publish nothing."""
    location = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    with Warehouse(location) as wh:
        assert not wh.publishes
        wh.upsert("customers", pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["a", "b"]}))
    reader = open_reader(location)
    try:
        assert reader.publication is None and reader.count("customers") == 2
        assert reading_stamp(location).startswith("live:")
    finally:
        reader.close()
    assert not list(tmp_path.glob("*.published"))


def test_a_completed_load_publishes_what_it_loaded(tmp_path):
    """`carsight ingest` holds the file for as long as a file takes: readers see each file once it
    is completely loaded."""
    from carsight.ingest import load_file

    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,name\nC1,가\nC2,나\nC3,다\n", encoding="utf-8")
    path = tmp_path / "wh.duckdb"
    with Warehouse(str(path)) as wh:
        wh.init()
        load_file(wh, "customers", csv, output_dir=tmp_path / "out")
        publication = latest_publication(path)
        assert (publication.writer, publication.detail) == ("load", "customers customers.csv")
        with open_reader(str(path)) as r:  # while the loader still holds the file
            assert r.count("customers") == 3
        load_file(wh, "customers", csv, output_dir=tmp_path / "out", dry_run=True)
        assert latest_publication(path) == publication  # a dry run writes and publishes nothing
