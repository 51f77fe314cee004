"""The dashboard's data layer and form: cache keys that change when the warehouse publishes, a
reader that reads the published snapshot and never keeps the file from a writer, and form
validation per field."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from carsight.dashboard import data, forms
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S
from carsight.warehouse.reading import reading_stamp


def test_version_stamp_changes_when_a_write_is_published(small_wh_path, tmp_path):
    import shutil

    path = tmp_path / "w.duckdb"
    shutil.copy(small_wh_path, path)
    before = reading_stamp(str(path))
    assert reading_stamp(str(path)) == before  # stable while nothing changes
    with Warehouse(str(path)) as wh:
        wh.upsert(S.CUSTOMERS, forms.as_frame({"customer_id": "X1", "name": "새 고객", "marketing_opt_in": False}))
    assert reading_stamp(str(path)) != before


def test_reader_reads_the_newest_snapshot_while_a_writer_holds_the_file_and_after(small_wh_path, tmp_path, holding):
    """Before anything is published a page reads the file itself; a write publishes when it closes,
    and pages then read that snapshot, while another process holds the file and after it is done."""
    import shutil

    path = tmp_path / "w.duckdb"
    shutil.copy(small_wh_path, path)  # the file alone: nothing published
    with data.Reader(str(path)) as reader:
        assert reader.publication is None and reader.wh.count(S.CUSTOMERS.name) == 40
    with Warehouse(str(path)) as wh:
        wh.upsert(S.CUSTOMERS, forms.as_frame({"customer_id": "X9", "name": "나중 고객", "marketing_opt_in": False}))
    with holding(path), data.Reader(str(path)) as reader:
        assert reader.publication.writer == "write"
        assert reader.wh.count(S.CUSTOMERS.name) == 41
        assert reader.key.endswith(reader.publication.file)
    with data.Reader(str(path)) as reader:  # the snapshot stays: readers never need the writer's file
        assert reader.publication is not None and reader.wh.count(S.CUSTOMERS.name) == 41


def test_reader_releases_the_file_so_a_writer_can_open_it(small_wh_path, tmp_path):
    import shutil

    path = tmp_path / "w.duckdb"
    shutil.copy(small_wh_path, path)
    with data.Reader(str(path)) as reader:
        count = reader.wh.count(S.CUSTOMERS.name)
    assert count == 40
    # The dashboard holds nothing between page runs: the pipeline can write.
    with Warehouse(str(path)) as wh:
        wh.upsert(S.CUSTOMERS, forms.as_frame({"customer_id": "X2", "name": "또 다른 고객", "marketing_opt_in": True}))
        assert wh.count(S.CUSTOMERS.name) == 41


def test_missing_warehouse_is_a_clear_error(tmp_path):
    import pytest

    from carsight.errors import WarehouseError

    with pytest.raises(WarehouseError, match="carsight demo"), data.Reader(str(tmp_path / "none.duckdb")) as reader:
        _ = reader.wh


def test_form_reports_each_bad_field():
    result = forms.validate(
        {"customer_id": "bad id!", "name": "", "age": "twelve", "email": "no-at-sign", "phone": "call me"},
        "en",
        today=dt.date(2026, 1, 1),
    )
    assert set(result.errors) == {"customer_id", "name", "age", "email", "phone"}
    assert "number" in result.errors["age"]


def test_form_age_out_of_range_and_valid_values():
    young = forms.validate({"customer_id": "C1", "name": "A", "age": "12"}, "ko", today=dt.date(2026, 1, 1))
    assert list(young.errors) == ["age"]
    ok = forms.validate(
        {
            "customer_id": "C1",
            "name": "김하나",
            "age": "42",
            "gender": "F",
            "email": "a@b.kr",
            "marketing_opt_in": True,
        },
        "ko",
        today=dt.date(2026, 1, 1),
    )
    assert ok.ok
    assert ok.values["birth_year"] == 1984
    assert ok.profile["age"] == "42" and ok.profile["gender"] == "F"
    frame = forms.as_frame(ok.values)
    assert list(frame.columns) == S.CUSTOMERS.column_names
    assert isinstance(frame, pd.DataFrame) and len(frame) == 1


def test_overview_alerts_when_recent_purchases_shift(tmp_path):
    from carsight.dashboard import results
    from carsight.warehouse import connect

    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", "2025-12-31", freq="D")
    n = 3000
    dates = pd.to_datetime(rng.choice(days, n))
    recent = dates > pd.Timestamp("2025-09-30")
    # The recent quarter sells almost only EVs: the model mix has shifted.
    models = np.where(recent, rng.choice(["EV6", "IONIQ 5"], n), rng.choice(["Tucson", "Avante", "Sonata"], n))
    purchases = pd.DataFrame(
        {
            "purchase_id": [f"P{i}" for i in range(n)],
            "customer_id": [f"C{i % 900}" for i in range(n)],
            "purchase_date": dates.date,
            "brand": "Hyundai",
            "model": models,
            "amount": rng.normal(40e6, 5e6, n),
            "payment_type": rng.choice(["cash", "installment"], n),
            "dealer": "Gangnam",
            "channel": "showroom",
        }
    )
    path = tmp_path / "shift.duckdb"
    with connect(str(path), init=True) as wh:
        wh.upsert(S.PURCHASES, purchases)
    with data.Reader(str(path)) as reader:
        table = results.purchase_shift(reader)
        alerts = results.alerts(reader, "en")
    status = dict(zip(table.feature, table.status, strict=True))
    assert status["model"] == "shifted"
    assert status["payment_type"] == "stable" and status["amount"] == "stable"
    assert any(a["kind"] == "drift" and "model (PSI" in a["text"] for a in alerts)


def test_serve_command_serves_the_korean_font():
    from carsight.cli.serve import dashboard_command
    from carsight.dashboard import fonts

    command = dashboard_command(8765, "127.0.0.1")
    flags = dict(zip(command[5::2], command[6::2], strict=False))
    assert flags["--server.enableStaticServing"] == "true"
    assert flags["--server.port"] == "8765"
    assert flags["--theme.font"].startswith(fonts.FAMILY)
    for name in (fonts.REGULAR, fonts.BOLD):
        payload = (fonts.STATIC_DIR / name).read_bytes()
        assert payload[:4] == b"wOF2" and len(payload) > 100_000
    assert f"app/static/{fonts.REGULAR}" in fonts.css()
    # Every Hangul syllable and the Latin letters are in the served subset.
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(fonts.STATIC_DIR / fonts.REGULAR)).getBestCmap()
    assert all(code in cmap for code in range(0xAC00, 0xD7A4))
    assert all(code in cmap for code in range(0x20, 0x7F))
