"""The warehouse: an Ibis connection (DuckDB file by default), the canonical schema, the one read path.

:func:`open_reader` opens the newest published results, read-only.
"""

from carsight.warehouse.connection import Warehouse, connect
from carsight.warehouse.reading import NotPublishedYet, Reader, open_reader, reading_stamp
from carsight.warehouse.schema import SCHEMA_VERSION, SOURCE_TABLES, get_table

__all__ = [
    "SCHEMA_VERSION",
    "SOURCE_TABLES",
    "NotPublishedYet",
    "Reader",
    "Warehouse",
    "connect",
    "get_table",
    "open_reader",
    "reading_stamp",
]
