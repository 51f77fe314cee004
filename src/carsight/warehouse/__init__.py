"""The warehouse: an Ibis connection (DuckDB file by default) and the canonical schema."""

from carsight.warehouse.connection import Warehouse, connect
from carsight.warehouse.schema import SCHEMA_VERSION, SOURCE_TABLES, get_table

__all__ = ["SCHEMA_VERSION", "SOURCE_TABLES", "Warehouse", "connect", "get_table"]
