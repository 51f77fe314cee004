"""Property: over random dealers, roles and data in a real DuckDB warehouse, every table a role may read
shows no row outside its scope, and masked columns never show the stored value to hq or agent users
(except the customer an agent is serving)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carsight.access import policy as P
from carsight.access.reader import scoped
from carsight.access.scope import ROLES, Scope
from carsight.errors import AccessDenied, NotFoundError
from carsight.warehouse import Warehouse
from carsight.warehouse import results_voc as RVOC
from carsight.warehouse import schema as S

from .scope_rows import complete

DEALER_CODES = ("D01", "D02", "D03", "D04")
GONE = "C-GONE"  # a customer id in result tables that is in no customers row

_syllables = st.sampled_from("김이박최정강조윤장임철수영희민준서연지우현")
_latin = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
names = st.one_of(
    st.lists(_syllables, min_size=2, max_size=4).map("".join),
    st.tuples(_latin, _latin).map(lambda p: f"{p[0].title()} {p[1].title()}"),
)
phones = st.tuples(*(st.integers(0, 9999) for _ in range(2))).map(lambda p: f"010-{p[0]:04d}-{p[1]:04d}")
emails = st.tuples(_latin, st.sampled_from(("example.com", "daum.net", "naver.com"))).map(lambda p: f"{p[0]}@{p[1]}")
dealer_codes = st.sampled_from((*DEALER_CODES, None))


@st.composite
def worlds(draw) -> tuple[dict[str, pd.DataFrame], Scope]:
    """Rows for every table of the schema, and a scope to read them as."""
    n_customers = draw(st.integers(0, 8))
    customer_ids = [f"C{i}" for i in range(n_customers)]
    consultation_ids = [f"Q{i}" for i in range(draw(st.integers(0, 6)))]
    frames: dict[str, pd.DataFrame] = {}
    for name, table in S.ALL_TABLES.items():
        columns = table.column_names
        if name == S.CUSTOMERS.name:
            n, ids = n_customers, customer_ids
        elif name == S.CONSULTATIONS.name:
            n, ids = len(consultation_ids), consultation_ids
        else:
            n = draw(st.integers(0, 4))
            ids = None
        rows: dict[str, list] = {}
        if "customer_id" in columns and ids is None:
            pool = [*customer_ids, GONE]
            unique = "customer_id" in table.keys
            chosen = draw(st.lists(st.sampled_from(pool), min_size=0, max_size=min(n, len(pool)), unique=unique))
            n, rows["customer_id"] = len(chosen), chosen
        elif "customer_id" in columns and name == S.CONSULTATIONS.name:
            rows["customer_id"] = [draw(st.sampled_from([*customer_ids, None])) for _ in range(n)]
        if name == RVOC.VOC_CONSULTATIONS.name:
            chosen = draw(st.lists(st.sampled_from([*consultation_ids, "Q-GONE"]), max_size=n, unique=True))
            n, rows["consultation_id"] = len(chosen), chosen
        if ids is not None:
            rows[table.keys[0]] = ids
        if "dealer_code" in columns:
            if name == S.DEALERS.name:
                chosen = draw(st.lists(st.sampled_from(DEALER_CODES), max_size=4, unique=True))
                n, rows = len(chosen), {"dealer_code": chosen}
            else:
                rows["dealer_code"] = [draw(dealer_codes) for _ in range(n)]
        for column, strategy in (("name", names), ("phone", phones), ("email", emails)):
            if column in P.MASKED.get(name, {}):
                rows[column] = [draw(strategy) for _ in range(n)]
        if name == S.CONSULTATIONS.name:
            rows["text"] = [f"{draw(names)} 고객 {draw(phones)}" for _ in range(n)]
        frames[name] = complete(table, pd.DataFrame(rows, index=range(n)))
    role = draw(st.sampled_from(ROLES))
    dealers = draw(st.frozensets(st.sampled_from(DEALER_CODES), min_size=1)) if role == "dealer" else frozenset()
    serving = draw(st.sampled_from([None, *customer_ids])) if role == "agent" else None
    return frames, Scope("someone", role, dealers, serving)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    wh = Warehouse(str(tmp_path_factory.mktemp("property") / "wh.duckdb"), publishes=False)
    wh.init()
    yield wh
    wh.close()


def _expected_rows(frames: dict[str, pd.DataFrame], name: str, scope: Scope) -> pd.DataFrame:
    """The rows of ``name`` the scope must see, worked out from the rules as documented (carsight.access.policy)."""
    frame = frames[name]
    if scope.all_dealers:
        return frame
    customers = frames[S.CUSTOMERS.name]
    consultations = frames[S.CONSULTATIONS.name]
    if "dealer_code" in frame.columns:
        return frame[frame.dealer_code.isin(scope.dealers)]
    if "customer_id" in frame.columns:
        return frame[frame.customer_id.isin(customers.customer_id[customers.dealer_code.isin(scope.dealers)])]
    if name == RVOC.VOC_CONSULTATIONS.name:
        seen = consultations.consultation_id[consultations.dealer_code.isin(scope.dealers)]
        return frame[frame.consultation_id.isin(seen)]
    return frame


def _as_rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return sorted(map(tuple, frame[columns].astype(str).to_numpy().tolist()))


def _store(wh: Warehouse, frames: dict[str, pd.DataFrame]) -> None:
    """Every table's rows replaced by ``frames`` (straight into DuckDB: Warehouse.replace per table
    would cost most of the test's time)."""
    duck = wh.con.con
    with wh.transaction():
        for name, frame in frames.items():
            duck.execute(f'DELETE FROM "{name}"')
            if len(frame):
                duck.register("_rows", frame)
                columns = ", ".join(f'"{c}"' for c in frame.columns)
                duck.execute(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM _rows')
                duck.unregister("_rows")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds())
def test_no_row_outside_the_scope_and_no_unmasked_personal_data(warehouse, world):
    frames, scope = world
    _store(warehouse, frames)
    reader = scoped(warehouse, scope)
    readable = set(reader.list_tables())
    assert set(reader.catalogue()) == readable
    visible = set(_expected_rows(frames, S.CUSTOMERS.name, scope).customer_id)
    for customer_id in [*frames[S.CUSTOMERS.name].customer_id, GONE]:
        if customer_id in visible:
            assert reader.customer(customer_id)["customer_id"] == customer_id
        else:
            with pytest.raises(NotFoundError):
                reader.customer(customer_id)
    for name in S.ALL_TABLES:
        if not P.may_read(scope.role, name):
            assert name not in readable
            with pytest.raises(AccessDenied):
                reader.table(name)
            continue
        assert name in readable
        got = reader.table(name).to_pyarrow().to_pandas()
        expected = _expected_rows(frames, name, scope)
        masked = set(P.MASKED.get(name, {})) | ({P.MASKED_TEXT[name][0]} if name in P.MASKED_TEXT else set())
        # Dates come back as dates, not the timestamps stored: compared through the other columns.
        plain = [
            c.name
            for c in S.ALL_TABLES[name].columns
            if c.dtype != "date" and not (scope.masks_personal_data and c.name in masked)
        ]
        assert len(got) == len(expected), name
        assert _as_rows(got, plain) == _as_rows(expected, plain), name
        if not scope.masks_personal_data or not masked:
            continue
        row_id = S.ALL_TABLES[name].keys[0]  # unique in every table with masked columns
        raw = expected.set_index(row_id)
        for _, row in got.iterrows():
            served = scope.serving is not None and row.get("customer_id") == scope.serving
            for column in masked:
                value, original = row[column], raw.loc[row[row_id], column]
                if served:
                    assert value == original, (name, column)
                elif isinstance(original, str):
                    assert value != original, (name, column, value)
                    assert original not in str(value), (name, column, value)
