"""The warehouse core: schema creation, idempotent upsert, update on correction, status."""

from __future__ import annotations

import pandas as pd

from carsight.warehouse import schema as S


def _vehicles(price: int = 30_000_000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["Tucson", "Avante"],
            "brand": ["Hyundai", "Hyundai"],
            "segment": ["C-SUV", "C"],
            "body_type": ["suv", "sedan"],
            "powertrain": ["HEV", "ICE"],
            "launch_month": pd.to_datetime(["2021-01-01", "2020-04-01"]).date,
            "discontinued_month": [None, None],
            "base_price": [price, 20_000_000],
        }
    )


def test_init_creates_every_source_table(tmp_warehouse):
    tables = set(tmp_warehouse.con.list_tables())
    assert set(S.SOURCE_TABLES) <= tables
    assert tmp_warehouse.schema_version() == S.SCHEMA_VERSION
    assert tmp_warehouse.init() == []  # second init changes nothing


def test_upsert_is_idempotent_and_updates_corrections(tmp_warehouse):
    first = tmp_warehouse.upsert("vehicles", _vehicles())
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = tmp_warehouse.upsert("vehicles", _vehicles())
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    corrected = tmp_warehouse.upsert("vehicles", _vehicles(price=31_000_000))
    assert (corrected.inserted, corrected.updated, corrected.unchanged) == (0, 1, 1)
    prices = tmp_warehouse.table("vehicles").to_pandas().set_index("model").base_price
    assert prices["Tucson"] == 31_000_000
    assert tmp_warehouse.count("vehicles") == 2


def test_status_reports_rows_and_ranges(tmp_warehouse):
    tmp_warehouse.upsert("vehicles", _vehicles())
    status = tmp_warehouse.status().set_index("table")
    assert status.loc["vehicles", "rows"] == 2
    assert str(status.loc["vehicles", "first"])[:10] == "2020-04-01"


def test_upsert_of_a_partial_file_keeps_the_columns_it_lacks(tmp_warehouse):
    tmp_warehouse.upsert("vehicles", _vehicles())
    prices_only = _vehicles(price=32_000_000).assign(segment=None, body_type=None)
    result = tmp_warehouse.upsert("vehicles", prices_only, columns={"base_price", "brand"})
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    stored = tmp_warehouse.table("vehicles").to_pandas().set_index("model")
    assert stored.loc["Tucson", "base_price"] == 32_000_000
    assert stored.loc["Tucson", "segment"] == "C-SUV"  # not erased by a file without a segment column


def test_dry_run_counts_without_writing(tmp_warehouse):
    preview = tmp_warehouse.upsert("vehicles", _vehicles(), dry_run=True)
    assert preview.inserted == 2
    assert tmp_warehouse.count("vehicles") == 0
