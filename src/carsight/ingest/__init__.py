"""Loading the files people really have.

CSV/TSV, Excel and Parquet in UTF-8 or CP949, with Korean or English headers, ``" 4,120 "`` and
``-`` values, wide month or market columns and subtotal rows, into the canonical tables, with every
rejected row explained.
"""

from carsight.ingest.clean import clean_number, parse_dates
from carsight.ingest.load import LoadReport, load_every_table, load_file, tables_for
from carsight.ingest.read import read_raw
from carsight.ingest.table import ReadResult, read_table
from carsight.ingest.wide import melt_wide

__all__ = [
    "load_every_table",
    "tables_for",
    "LoadReport",
    "ReadResult",
    "clean_number",
    "load_file",
    "melt_wide",
    "parse_dates",
    "read_raw",
    "read_table",
]
