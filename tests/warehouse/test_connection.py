"""Opening the warehouse: a reader never creates what it reads."""

from __future__ import annotations

import pytest

from carsight.errors import WarehouseError
from carsight.warehouse import Warehouse


def test_opening_a_missing_warehouse_read_only_creates_no_folder(tmp_path):
    missing = tmp_path / "not-yet" / "deeper" / "carsight.duckdb"
    with pytest.raises(WarehouseError, match="does not exist yet"):
        Warehouse(str(missing), read_only=True)
    assert not (tmp_path / "not-yet").exists()


def test_opening_for_writing_creates_the_folder(tmp_path):
    path = tmp_path / "new" / "carsight.duckdb"
    Warehouse(str(path)).close()
    assert path.is_file()


def test_a_writer_waits_for_a_reader_to_let_go(tmp_path, holding):
    import threading

    path = tmp_path / "shared.duckdb"
    Warehouse(str(path)).close()
    with holding(path, read_only=True) as reader:
        with pytest.raises(WarehouseError, match="lock"):
            Warehouse(str(path), wait_s=0)
        # The reader lets go a moment later; a writer that waits gets the file.
        threading.Timer(1.0, reader.stdin.close).start()
        Warehouse(str(path), wait_s=30).close()


def test_publishing_the_reading_copy_keeps_the_writer_lock(tmp_path):
    """A copy made in this process would drop DuckDB's lock on the file (POSIX record locks go with
    any closed descriptor): another process could then open it while it is being written."""
    import subprocess
    import sys

    from carsight.warehouse.sharing import publish_reading_copy, reading_copy_path

    def other_process_opens(p) -> bool:
        code = f"import duckdb; duckdb.connect({str(p)!r}, read_only=True)"
        return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0

    path = tmp_path / "held.duckdb"
    with Warehouse(str(path)) as wh:
        wh.con.raw_sql("CREATE TABLE t AS SELECT 1 AS a")
        copy = publish_reading_copy(wh, path)
        assert not other_process_opens(path)  # still held by this writer
        assert other_process_opens(copy)
    assert copy == reading_copy_path(path)
