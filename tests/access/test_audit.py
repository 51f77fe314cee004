"""The audit log: append-only, filtered by user, date and customer."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from carsight.access.scope import LOCAL, Scope
from carsight.access.users import AccessStore


@pytest.fixture
def store(tmp_path):
    clock = {"now": dt.datetime(2026, 3, 1, tzinfo=dt.UTC)}
    store = AccessStore(
        tmp_path / "a.access.sqlite", hasher=PasswordHasher.from_parameters(CHEAPEST), now=lambda: clock["now"]
    )
    store.clock = clock
    return store


def test_entries_say_who_what_which_customers_when_and_from_where(store):
    kim = Scope(user="kim", role="dealer", dealers=frozenset({"D01"}))
    store.record(kim, "read", "GET /customers/{customer_id}", ["C1"], client="10.1.2.3")
    store.clock["now"] += dt.timedelta(days=2)
    store.record(LOCAL, "export", "customers.csv", ["C1", "C2", "C3"], client="127.0.0.1", detail="3 rows")
    entries = store.audit_entries()
    assert [(e.user, e.role, e.action, e.target, e.customers, e.client) for e in entries] == [
        ("kim", "dealer", "read", "GET /customers/{customer_id}", ("C1",), "10.1.2.3"),
        ("local", "admin", "export", "customers.csv", ("C1", "C2", "C3"), "127.0.0.1"),
    ]
    assert entries[0].at == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert [e.user for e in store.audit_entries(user="kim")] == ["kim"]
    assert [e.user for e in store.audit_entries(since=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))] == ["local"]
    assert [e.action for e in store.audit_entries(customer="C2")] == ["export"]
    assert store.audit_entries(customer="C") == []  # whole ids, not substrings
    assert [e.action for e in store.audit_entries(limit=1)] == ["export"]  # the newest


def test_user_changes_are_audited(store):
    store.add("kim", "dealer", ["D01"], actor="cli:ops")
    store.rotate("kim", actor="cli:ops")
    store.disable("kim", actor="cli:ops")
    entries = store.audit_entries(user="cli:ops")
    assert [(e.action, e.target) for e in entries] == [
        ("user.add", "kim"),
        ("user.rotate", "kim"),
        ("user.disable", "kim"),
    ]
    assert entries[0].detail == "role=dealer dealers=D01"


def test_the_log_refuses_updates_and_deletes(store):
    store.record(LOCAL, "read", "GET /customers/{customer_id}", ["C1"])
    with sqlite3.connect(store.path) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_log SET user = 'someone else'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_log")
    assert [e.user for e in store.audit_entries()] == ["local"]


def test_an_unknown_action_is_a_programming_error(store):
    with pytest.raises(ValueError, match="unknown audit action"):
        store.record(LOCAL, "looked", "somewhere")
