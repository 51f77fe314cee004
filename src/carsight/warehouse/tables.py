"""How a warehouse table is declared.

:class:`Column`, :class:`Table` and :func:`column`, the one way to write a column down.

This module imports nothing from carsight, so the source and system tables (``schema.py``) and every
area's result tables (``results_<area>.py``) declare their columns the same way without importing
each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt

# Column roles tell the loader how to clean a value.
COUNT = "count"  # units/counts: '-' and blank mean 0
MONEY = "money"  # amounts: thousands separators and currency signs removed; blank is missing
MONTH = "month"  # a date normalised to the first day of its month
PLAIN = "plain"


@dataclass(frozen=True)
class Column:
    """One column of a warehouse table; declare it with :func:`column`.

    Attributes
    ----------
    name : str
        Column name as stored.
    dtype : str
        An Ibis type string: ``string``, ``int64``, ``float64``, ``date``, ``timestamp``, ``boolean``.
    nullable : bool
        Whether the column may be empty.
    description : str
        What the column holds, in one line (shown by ``carsight status`` and the docs).
    role : str
        How the loader cleans a value: :data:`COUNT`, :data:`MONEY`, :data:`MONTH` or :data:`PLAIN`.
    allowed : tuple of str or None
        Allowed values (after normalisation) of a categorical column; None for free text.
    default : str or None
        Stored where a file does not say (a key column added later: rows loaded before get it).
    signed : bool
        A count that may be negative (a correction printed as "(1)" in a sales table).
    """

    name: str
    dtype: str
    nullable: bool = True
    description: str = ""
    role: str = PLAIN
    allowed: tuple[str, ...] | None = None
    default: str | None = None
    signed: bool = False

    @property
    def ibis_type(self) -> dt.DataType:
        """The column's Ibis data type, nullable as declared."""
        return dt.dtype(self.dtype).copy(nullable=self.nullable)


def column(
    name: str,
    dtype: str,
    description: str = "",
    *,
    nullable: bool = True,
    role: str = PLAIN,
    allowed: Iterable[str] | None = None,
    default: str | None = None,
    signed: bool = False,
) -> Column:
    """Declare a column of a warehouse table.

    Parameters
    ----------
    name : str
        Column name as stored.
    dtype : str
        An Ibis type string (``string``, ``int64``, ``float64``, ``date``, ``timestamp``, ``boolean``).
    description : str, default ""
        What the column holds, in one line.
    nullable : bool, default True
        Whether the column may be empty.
    role : str, default PLAIN
        How the loader cleans a value (:data:`COUNT`, :data:`MONEY`, :data:`MONTH`, :data:`PLAIN`).
    allowed : iterable of str, optional
        Allowed values of a categorical column; None for free text.
    default : str, optional
        Stored where a file does not say.
    signed : bool, default False
        A count that may be negative.

    Returns
    -------
    Column
        The declared column.

    Examples
    --------
    >>> column("units", "int64", "Units sold", nullable=False, role=COUNT, signed=True).signed
    True
    """
    return Column(name, dtype, nullable, description, role, tuple(allowed) if allowed else None, default, signed)


@dataclass(frozen=True)
class Table:
    """A warehouse table: its name, columns, natural key and kind.

    Attributes
    ----------
    name : str
        Table name as stored.
    columns : tuple of Column
        The columns, in storage order.
    keys : tuple of str
        The natural key (upserts match on it); empty for append-only tables.
    description : str
        What the table holds, in one line.
    kind : str
        ``source`` (what companies load), ``system`` (load bookkeeping) or ``result`` (what the
        pipeline computes).
    date_column : str or None
        Column ``carsight status`` shows date ranges by.
    """

    name: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...] = ()
    description: str = ""
    kind: str = "source"
    date_column: str | None = None

    @property
    def column_names(self) -> list[str]:
        """The column names, in storage order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name``.

        Raises
        ------
        KeyError
            When the table has no such column.
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")

    def ibis_schema(self) -> ibis.Schema:
        """The table's Ibis schema (what ``Warehouse.init`` creates)."""
        return ibis.schema({c.name: c.ibis_type for c in self.columns})
