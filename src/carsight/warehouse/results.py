"""Every result table, collected from the areas' ``results_<area>`` modules by explicit import.

Each area declares the tables its pipeline step writes in ``warehouse/results_<area>.py`` as
``TABLES: tuple[Table, ...]``; a new area's module is added to :data:`RESULT_MODULES` here, so a
table that is missing or renamed fails at import, never at the first query.
"""

from __future__ import annotations

import carsight.warehouse.results_customers as results_customers
import carsight.warehouse.results_delivery as results_delivery
import carsight.warehouse.results_insights as results_insights
import carsight.warehouse.results_market as results_market
import carsight.warehouse.results_monitor as results_monitor
import carsight.warehouse.results_value as results_value
import carsight.warehouse.results_voc as results_voc
from carsight.warehouse.tables import Table

RESULT_MODULES = (
    results_customers,
    results_delivery,
    results_insights,
    results_market,
    results_monitor,
    results_value,
    results_voc,
)


def _by_name(tables: list[Table]) -> dict[str, Table]:
    named: dict[str, Table] = {}
    for table in tables:
        if table.name in named:
            raise RuntimeError(f"result table '{table.name}' is declared twice")
        named[table.name] = table
    return named


RESULT_TABLES: dict[str, Table] = _by_name([table for module in RESULT_MODULES for table in module.TABLES])
