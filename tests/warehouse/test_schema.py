"""One way to name a table: every table is declared with ``column`` and reached as an object."""

from __future__ import annotations

import pkgutil

import pytest

import carsight.warehouse as warehouse_package
from carsight.errors import InputError
from carsight.warehouse import schema as S
from carsight.warehouse.results import RESULT_MODULES, RESULT_TABLES
from carsight.warehouse.tables import COUNT, column


def test_unknown_table_error_lists_source_system_and_result_tables():
    with pytest.raises(InputError) as info:
        S.get_table("custmer_rfm")
    message = str(info.value)
    assert "unknown table 'custmer_rfm'" in message
    for name in ("purchases", "load_log", "customer_rfm", "propensity_scores", "voc_rising", "forecasts"):
        assert name in message


def test_every_results_module_is_collected():
    """A ``results_<area>.py`` module left out of ``RESULT_MODULES`` would leave its tables
    uncreated by ``carsight init``; this lists the package to catch it."""
    on_disk = {m.name for m in pkgutil.iter_modules(warehouse_package.__path__) if m.name.startswith("results_")}
    collected = {m.__name__.rsplit(".", 1)[1] for m in RESULT_MODULES}
    assert collected == on_disk
    for module in RESULT_MODULES:
        for table in module.TABLES:
            assert RESULT_TABLES[table.name] is table
            assert table.kind == "result"


def test_get_table_knows_every_kind_of_table():
    assert S.get_table("purchases") is S.PURCHASES
    assert S.get_table("quarantine") is S.QUARANTINE
    assert S.get_table("propensity_scores") is RESULT_TABLES["propensity_scores"]
    assert set(S.all_tables()) == set(S.SOURCE_TABLES) | set(S.SYSTEM_TABLES) | set(RESULT_TABLES)


def test_column_keeps_every_option():
    units = column("units", "int64", "Units sold", nullable=False, role=COUNT, signed=True)
    plant = column("plant", "string", allowed=["A", "B"], default="(all)")
    assert (units.name, units.dtype, units.description, units.nullable, units.role, units.signed) == (
        "units",
        "int64",
        "Units sold",
        False,
        COUNT,
        True,
    )
    assert plant.allowed == ("A", "B") and plant.default == "(all)" and plant.nullable
    assert S.SALES_MONTHLY.column("units").signed
    assert S.SALES_MONTHLY.column("plant").default == S.ALL
