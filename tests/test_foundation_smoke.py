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
