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
