"""The access store: users and roles, tokens that stop working at once, slowed brute force, sessions."""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import stat

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from carsight.access.scope import Scope
from carsight.access.users import AccessStore, SignInError
from carsight.errors import InputError, NotFoundError

START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    # The cheapest Argon2 parameters keep the tests fast; the default is the RFC 9106 profile.
    return AccessStore(
        tmp_path / "wh.access.sqlite", hasher=PasswordHasher.from_parameters(CHEAPEST), now=clock, lock_seconds=30
    )


def test_no_store_means_no_users_and_nothing_is_created(store):
    assert not store.has_users()
    assert store.users() == []
    assert store.scope_for_token("anything") is None
    assert store.audit_entries() == []
    assert not store.path.exists()
    assert not store.path.with_name(store.path.name + ".key").exists()


def test_add_gives_a_url_safe_token_that_resolves_to_the_users_scope(store):
    kim = store.add("kim", "dealer", ["D01", "D02", "D01"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", kim.token)
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", kim.password)
    assert store.scope_for_token(kim.token) == Scope(user="kim", role="dealer", dealers=frozenset({"D01", "D02"}))
    lee = store.add("lee", "hq")
    assert store.scope_for_token(lee.token) == Scope(user="lee", role="hq")
    assert store.scope_for_token(lee.token + "x") is None
    assert store.has_users()
    assert [(u.name, u.role, u.dealers) for u in store.users()] == [
        ("kim", "dealer", ("D01", "D02")),
        ("lee", "hq", ()),
    ]


def test_secrets_are_stored_only_as_hashes_and_digests(store):
    kim = store.add("kim", "agent")
    raw = store.path.read_bytes() + b"".join(
        p.read_bytes() for p in store.path.parent.iterdir() if p.name.startswith(store.path.name)
    )
    assert kim.token.encode() not in raw
    assert kim.password.encode() not in raw
    with sqlite3.connect(store.path) as conn:
        password_hash, digest = conn.execute("SELECT password_hash, token_digest FROM users").fetchone()
    assert password_hash.startswith("$argon2id$")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    # The server key and the store are readable by their owner only.
    for path in (store.path, store.path.with_name(store.path.name + ".key")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_token_digest_is_keyed(tmp_path, store):
    """The same token in another store (another key) has another digest: a stolen store alone matches nothing."""
    kim = store.add("kim", "agent")
    other = AccessStore(tmp_path / "other" / "x.access.sqlite", hasher=store.hasher)
    other.add("kim", "agent")
    with sqlite3.connect(store.path) as a, sqlite3.connect(other.path) as b:
        digest_a = a.execute("SELECT token_digest FROM users").fetchone()[0]
        digest_b = b.execute("SELECT token_digest FROM users").fetchone()[0]
    assert digest_a != digest_b
    assert other.scope_for_token(kim.token) is None


@pytest.mark.parametrize(
    ("name", "role", "dealers", "column"),
    [
        ("kim", "dealer", [], "--dealer"),  # a dealer user must name a dealer
        ("kim", "hq", ["D01"], "--dealer"),  # only dealer users cover dealers
        ("kim", "boss", [], "--role"),
        ("kim lee", "admin", [], "NAME"),
        ("", "admin", [], "NAME"),
        ("kim", "dealer", ["D 01"], "--dealer"),
    ],
)
def test_bad_users_are_refused_with_the_option_at_fault(store, name, role, dealers, column):
    with pytest.raises(InputError) as error:
        store.add(name, role, dealers)
    assert error.value.column == column
    assert not store.has_users()


def test_a_name_is_taken_once(store):
    store.add("kim", "admin")
    with pytest.raises(InputError, match="exists already"):
        store.add("kim", "hq")


def test_disabled_users_and_rotated_tokens_are_refused_at_once(store):
    kim = store.add("kim", "dealer", ["D01"])
    signed = store.sign_in("kim", kim.password)
    # A second store object stands for another process (the API) that looked the token up before.
    api = AccessStore(store.path, hasher=store.hasher, now=store.now)
    assert api.scope_for_token(kim.token) is not None
    new = store.rotate("kim")
    assert api.scope_for_token(kim.token) is None
    assert api.session_scope(signed.session_token) is None
    with pytest.raises(SignInError):
        store.sign_in("kim", kim.password)
    assert api.scope_for_token(new.token).user == "kim"
    store.sign_in("kim", new.password)
    store.disable("kim")
    assert api.scope_for_token(new.token) is None
    with pytest.raises(SignInError, match="wrong user name or password"):
        store.sign_in("kim", new.password)
    store.enable("kim")
    assert api.scope_for_token(new.token).user == "kim"
    with pytest.raises(NotFoundError):
        store.disable("nobody")
    with pytest.raises(NotFoundError):
        store.rotate("nobody")


def test_failed_sign_ins_lock_the_user_for_longer_and_longer(store, clock):
    kim = store.add("kim", "agent")
    for _ in range(4):
        with pytest.raises(SignInError) as error:
            store.sign_in("kim", "guess")
        assert error.value.retry_after is None
    with pytest.raises(SignInError) as error:  # the fifth failure locks for 30 s
        store.sign_in("kim", "guess")
    assert error.value.retry_after == 30
    # While locked even the right password is refused (guessing during the lock gains nothing).
    clock.advance(10)
    with pytest.raises(SignInError, match="too many failed sign-ins") as error:
        store.sign_in("kim", kim.password)
    assert error.value.retry_after == pytest.approx(20)
    clock.advance(21)
    with pytest.raises(SignInError) as error:  # the sixth failure: 60 s
        store.sign_in("kim", "guess")
    assert error.value.retry_after == 60
    clock.advance(61)
    with pytest.raises(SignInError) as error:  # the seventh: 120 s
        store.sign_in("kim", "guess")
    assert error.value.retry_after == 120
    clock.advance(121)
    signed = store.sign_in("kim", kim.password)  # a success clears the count
    assert signed.scope == Scope(user="kim", role="agent")
    assert store.user("kim").failed_signins == 0
    for _ in range(4):
        with pytest.raises(SignInError):
            store.sign_in("kim", "guess")
    assert store.user("kim").locked_until is None
    actions = [e.action for e in store.audit_entries(user="kim")]
    assert actions.count("signin.failed") == 11
    assert actions.count("signin.locked") == 1
    assert actions.count("signin") == 1


def test_the_lock_is_capped_at_an_hour(store, clock):
    store.add("kim", "agent")
    retry = None
    for _ in range(20):
        try:
            store.sign_in("kim", "guess")
        except SignInError as error:
            retry = error.retry_after
        clock.advance(3601)
    assert retry == 3600


def test_unknown_users_are_refused_like_wrong_passwords(store):
    store.add("kim", "agent")
    with pytest.raises(SignInError, match="wrong user name or password") as error:
        store.sign_in("nobody", "guess")
    assert error.value.retry_after is None


def test_sessions_expire_and_end(store, clock):
    kim = store.add("kim", "hq")
    signed = store.sign_in("kim", kim.password, client="10.0.0.7")
    assert signed.must_change_password
    assert store.session_scope(signed.session_token) == Scope(user="kim", role="hq")
    clock.advance(store.session_hours * 3600 + 1)
    assert store.session_scope(signed.session_token) is None
    again = store.sign_in("kim", kim.password)
    store.end_session(again.session_token)
    assert store.session_scope(again.session_token) is None
    assert store.user("kim").last_signin_at == clock.now


def test_changing_the_one_time_password(store):
    kim = store.add("kim", "admin")
    with pytest.raises(InputError, match="too short"):
        store.change_password("kim", kim.password, "short")
    with pytest.raises(SignInError):
        store.change_password("kim", "not-the-password", "a much longer password")
    store.change_password("kim", kim.password, "a much longer password")
    assert not store.user("kim").must_change_password
    with pytest.raises(SignInError):
        store.sign_in("kim", kim.password)
    assert not store.sign_in("kim", "a much longer password").must_change_password
