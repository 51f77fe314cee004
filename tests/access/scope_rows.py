"""Rows for any warehouse table: what a test gives, completed with placeholder values."""

from __future__ import annotations

import pandas as pd

from carsight.warehouse.tables import Table


def _placeholder(dtype: str, column: str, i: int):
    return {
        "string": f"{column}-{i}",
        "int64": i,
        "float64": float(i),
        "boolean": bool(i % 2),
        "date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=i),
        "timestamp": pd.Timestamp("2024-01-01 09:00") + pd.Timedelta(hours=i),
    }[dtype]


def complete(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column of ``table`` it lacks filled: a value unique to the row, typed as declared."""
    n = len(frame)
    columns = {
        c.name: frame[c.name].tolist()
        if c.name in frame.columns
        else [_placeholder(c.dtype, c.name, i) for i in range(n)]
        for c in table.columns
    }
    return pd.DataFrame(columns, index=range(n))
