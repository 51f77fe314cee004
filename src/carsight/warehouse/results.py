"""Collects the result tables that domain packages declare in ``results_<domain>.py``.

Each domain owns one module here (``results_customers``, ``results_market``, ``results_voc``,
``results_delivery``) that defines ``TABLES: tuple[Table, ...]``; this keeps table and column
names in the warehouse package, one place, while domains evolve their own outputs.
"""

from __future__ import annotations

import importlib
import pkgutil

from carsight.warehouse.schema import Table


def all_result_tables() -> dict[str, Table]:
    import carsight.warehouse as pkg

    tables: dict[str, Table] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("results_"):
            continue
        module = importlib.import_module(f"carsight.warehouse.{info.name}")
        for table in getattr(module, "TABLES", ()):
            tables[table.name] = table
    return tables
