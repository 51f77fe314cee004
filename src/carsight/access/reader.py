"""The one scoped reader: every read for a person goes through it, with their row filter and masks.

``scoped(open_reader(location), scope)`` wraps the read-only warehouse the edges open
(:func:`carsight.warehouse.open_reader`). Its :meth:`ScopedReader.table` answers an Ibis table
already filtered to the rows the scope sees and with personal columns masked (rules in
:mod:`carsight.access.policy`), so a page, a chart, a count, an export, a report or a campaign
target list built on it cannot show more than the scope allows. It has no raw SQL and no
connection to hand out; queries worth compiling once go through :meth:`ScopedReader.query`, which
compiles an expression built from the scoped tables themselves.

It guards carsight's own read paths; it is not a sandbox for arbitrary Python run in the same
process (an Ibis expression can always be traced back to its backend).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Mapping

import ibis
import ibis.expr.types as ir
import pandas as pd

from carsight.access import policy as P
from carsight.access.masks import MASKS
from carsight.access.scope import Scope
from carsight.errors import AccessDenied, NotFoundError
from carsight.warehouse import schema as S
from carsight.warehouse.connection import Warehouse

# A query's parameters stand in the compiled SQL as these literals until they become placeholders.
_MARKER = "__carsight_param_{}__"
# Compiled SQL per warehouse, scope and query shape (see ScopedReader.query), with the tables it reads.
_COMPILED: dict[tuple, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
# Scoped tables are temporary views of the reader's connection named so (ScopedReader._as_view).
_VIEW_PREFIX = "_carsight_scoped_"


class ScopedReader:
    """A read-only warehouse as one :class:`~carsight.access.scope.Scope` may see it.

    Use :func:`scoped` to make one. It reads like a read-only ``Warehouse`` (``table``,
    ``has_table``, ``count``, ``list_tables``), so domain code that takes a warehouse for reading
    takes it too.

    Attributes
    ----------
    scope : Scope
        Whose reads these are.
    read_only : bool
        Always True (domain code checks it before writing anything back).
    """

    read_only = True

    def __init__(self, reader: Warehouse, scope: Scope):
        self._reader = reader
        self.scope = scope
        # The warehouse's own table expressions, looked up once per reader (each lookup queries the
        # catalogue; a reader lives for one page run or request).
        self._raw_tables: dict[str, ir.Table] = {}
        self._listed: frozenset[str] | None = None
        self._scoped_tables: dict[str, ir.Table] = {}

    @property
    def publication(self):
        """The published snapshot read (see :class:`carsight.warehouse.reading.Reader`), or None."""
        return self._reader.publication

    # ---- which tables ------------------------------------------------------------------------
    def _present(self) -> set[str]:
        if self._reader.is_duckdb:
            return set(self._duckdb_tables())
        return {name for name in S.ALL_TABLES if self._reader.has_table(name)}

    def list_tables(self) -> list[str]:
        """The tables in the warehouse this scope may read, sorted."""
        return sorted(name for name in self._present() if P.may_read(self.scope.role, name))

    def has_table(self, name: str) -> bool:
        """Whether ``name`` is in the warehouse and this scope may read it."""
        return P.may_read(self.scope.role, name) and self._exists(name)

    def catalogue(self) -> dict[str, list[str]]:
        """Every table this scope may read, with its column names (one catalogue query on DuckDB)."""
        if self._reader.is_duckdb:
            rows = self._reader.con.con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_catalog = current_database() ORDER BY table_name, ordinal_position"
            ).fetchall()
            out: dict[str, list[str]] = {}
            for table, column in rows:
                if P.may_read(self.scope.role, table):
                    out.setdefault(table, []).append(column)
            return out
        return {name: list(self._reader.table(name).columns) for name in self.list_tables()}

    # ---- reading -----------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """Table ``name`` as this scope sees it: its rows, with personal columns masked.

        Raises
        ------
        AccessDenied
            When the scope's role may not read the table at all.
        WarehouseError
            When the table is not in the warehouse.
        """
        if not P.may_read(self.scope.role, name):
            raise AccessDenied(f"a user with role '{self.scope.role}' may not read '{name}'")
        if name not in self._scoped_tables:
            raw = self._raw(name)
            expr = self._masked(name, self._rows(name, raw))
            if expr is not raw and self._reader.is_duckdb:
                expr = self._as_view(name, expr)
            self._scoped_tables[name] = expr
        return self._scoped_tables[name]

    def _as_view(self, name: str, expr: ir.Table) -> ir.Table:
        """``expr`` as a temporary view of this connection, compiled once.

        Compiling the masks into SQL costs more than a lookup by id itself (about 20 ms); a query on
        the view compiles as a query on a plain table. The name is the same for the same scope and
        table, so SQL kept by :meth:`query` names it on any reader of that scope.
        """
        digest = hashlib.sha1(
            repr((self.scope.role, sorted(self.scope.dealers), self.scope.serving)).encode()
        ).hexdigest()[:12]
        view = f"{_VIEW_PREFIX}{digest}_{name}"
        sql = ibis.to_sql(expr, dialect="duckdb")
        self._reader.con.con.execute(f'CREATE OR REPLACE TEMP VIEW "{view}" AS {sql}')
        return self._reader.con.table(view)

    def count(self, name: str) -> int:
        """Rows of ``name`` this scope sees."""
        return int(self.table(name).count().to_pyarrow().as_py())

    def customer(self, customer_id: str) -> dict:
        """One customer's row as this scope sees it.

        Raises
        ------
        NotFoundError
            When there is no such customer, or the scope does not see them: the two answer the
            same, so a lookup does not reveal that a customer exists elsewhere.
        """
        t = self.table(S.CUSTOMERS.name)
        rows = t.filter(t.customer_id == str(customer_id)).limit(1).to_pyarrow().to_pylist()
        if not rows:
            raise NotFoundError(f"customer '{customer_id}' not found")
        return rows[0]

    def query(
        self,
        key: Hashable,
        build: Callable[[Callable[[str], ir.Table], Callable[[str], ir.Value]], ir.Table],
        values: Mapping[str, object],
    ) -> pd.DataFrame:
        """Run a query built from this reader's tables, compiled once per shape on DuckDB.

        Building and compiling an Ibis expression costs tens of milliseconds, often more than a
        query over a pre-aggregate. On DuckDB the SQL compiled for ``key`` (with this scope's filters
        and masks in it) is kept and run as a prepared statement; other backends run the expression.

        Parameters
        ----------
        key : hashable
            The query's shape: the same key must always build the same expression.
        build : callable
            ``build(table, param)`` returns the query; ``table(name)`` is :meth:`table`, and
            ``param(name)`` stands for ``values[name]`` (compiled as text on DuckDB: cast it where
            another type is meant).
        values : mapping
            The parameter values by name.

        Returns
        -------
        pandas.DataFrame
            The query's result.
        """
        if not self._reader.is_duckdb:
            return build(self.table, lambda name: ibis.literal(values[name])).to_pandas()
        cache_key = (self._reader.url, self.scope, key)
        if cache_key not in _COMPILED:
            names: list[str] = []
            tables: list[str] = []

            def param(name: str) -> ir.Value:
                names.append(name)
                return ibis.literal(_MARKER.format(name))

            def table(name: str) -> ir.Table:
                scoped_table = self.table(name)
                if scoped_table is not self._raw_tables.get(name):  # a view: made again on a new reader
                    tables.append(name)
                return scoped_table

            sql = str(ibis.to_sql(build(table, param), dialect="duckdb"))
            for name in names:
                marker = "'" + _MARKER.format(name) + "'"
                if sql.count(marker) != 1:
                    raise RuntimeError(f"parameter {name} appears {sql.count(marker)} times in the compiled query")
                sql = sql.replace(marker, f"${name}")
            _COMPILED[cache_key] = (sql, tuple(names), tuple(tables))
        sql, names, tables = _COMPILED[cache_key]
        for name in tables:  # the scoped views the SQL names exist on this connection
            self.table(name)
        return self._reader.con.con.execute(sql, {name: values[name] for name in names}).df()

    # ---- the rules ---------------------------------------------------------------------------
    def _raw(self, name: str) -> ir.Table:
        """The warehouse's table ``name``, unfiltered (WarehouseError when it is missing)."""
        if name not in self._raw_tables:
            if self._reader.is_duckdb and name in self._duckdb_tables():
                self._raw_tables[name] = self._reader.con.table(name)  # present: no second catalogue query
            else:
                self._raw_tables[name] = self._reader.table(name)  # the clear "not in the warehouse" error
        return self._raw_tables[name]

    def _exists(self, name: str) -> bool:
        if self._reader.is_duckdb:
            return name in self._duckdb_tables()
        return name in self._raw_tables or self._reader.has_table(name)

    def _duckdb_tables(self) -> frozenset[str]:
        """The tables of a DuckDB warehouse, listed once per reader."""
        if self._listed is None:  # the database's own tables: not the temporary views and tables of the connection
            rows = self._reader.con.con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() AND table_schema = current_schema()"
            ).fetchall()
            self._listed = frozenset(name for (name,) in rows)
        return self._listed

    def _rows(self, name: str, t: ir.Table) -> ir.Table:
        if self.scope.all_dealers:
            return t
        rule = P.row_rule(name)
        if rule == P.DEALER:
            return self._of_dealers(t)
        if rule == P.CUSTOMER:
            return self._semi_join(t, P.CUSTOMER_COLUMN, S.CUSTOMERS.name)
        if rule == P.CONSULTATION:
            return self._semi_join(t, P.CONSULTATION_COLUMN, S.CONSULTATIONS.name)
        return t  # shared aggregates (policy.py says why)

    def _of_dealers(self, t: ir.Table) -> ir.Table:
        """The rows of ``t`` whose dealer the scope sees (:meth:`Scope.sees_dealer`, as a filter)."""
        if P.DEALER_COLUMN not in t.columns:  # a warehouse from before dealer codes: no row is any dealer's
            return t.filter(ibis.literal(False))
        return t.filter(t[P.DEALER_COLUMN].isin(sorted(self.scope.dealers)))

    def _semi_join(self, t: ir.Table, column: str, source: str) -> ir.Table:
        """The rows of ``t`` whose ``column`` is one of the ids of ``source`` the scope sees."""
        if not self._exists(source):
            return t.filter(ibis.literal(False))
        return t.filter(t[column].isin(self._of_dealers(self._raw(source))[column]))

    def _serving(self, t: ir.Table) -> ir.BooleanValue | None:
        """Rows of the customer an agent is serving (shown unmasked), or None."""
        if self.scope.serving is None or P.CUSTOMER_COLUMN not in t.columns:
            return None
        return (t[P.CUSTOMER_COLUMN] == self.scope.serving).fill_null(False)

    def _masked(self, name: str, t: ir.Table) -> ir.Table:
        if not self.scope.masks_personal_data:
            return t
        if name in P.MASKED_TEXT:
            t = self._masked_text(t, *P.MASKED_TEXT[name])
        serving = self._serving(t)
        changes = {}
        for column, kind in P.MASKED.get(name, {}).items():
            if column in t.columns:
                masked = MASKS[kind](t[column])
                changes[column] = masked if serving is None else ibis.ifelse(serving, t[column], masked)
        return t.mutate(**changes) if changes else t

    def _masked_text(self, t: ir.Table, column: str, source: str, source_column: str) -> ir.Table:
        """``t`` with ``column`` replaced by the masked text of the same consultation in ``source``."""
        if column not in t.columns:
            return t
        key = P.CONSULTATION_COLUMN
        if self._exists(source):
            m = self._raw(source)
            m = m.select(_masked_key=m[key], _masked_text=m[source_column])
            joined = t.left_join(m, t[key] == m._masked_key)
            masked = joined._masked_text
        else:  # the VoC step has not run: nothing masked to show yet
            joined, masked = t, ibis.null("string")
        serving = self._serving(joined)
        value = masked if serving is None else ibis.ifelse(serving, joined[column], masked)
        return joined.select([value.name(c) if c == column else joined[c] for c in t.columns])

    # ---- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        """Let go of the warehouse read."""
        self._reader.close()

    def __enter__(self) -> ScopedReader:
        """Read for the length of a block."""
        return self

    def __exit__(self, *exc) -> None:
        """Close the reader at the end of the block."""
        self.close()


def scoped(reader: Warehouse | ScopedReader, scope: Scope) -> ScopedReader:
    """``reader`` (from :func:`carsight.warehouse.open_reader`) as ``scope`` may see it.

    Parameters
    ----------
    reader : Warehouse
        A read-only warehouse; closing the scoped reader closes it.
    scope : Scope
        Whose reads these are.

    Returns
    -------
    ScopedReader
        The reader every read for that scope goes through.

    Raises
    ------
    ValueError
        When ``reader`` is already scoped (scopes do not stack: make one from the warehouse).
    """
    if isinstance(reader, ScopedReader):
        raise ValueError("the reader is already scoped; scope the warehouse itself")
    return ScopedReader(reader, scope)
