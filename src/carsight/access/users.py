"""Users, API-token digests, sessions, failed sign-ins and the audit log, in one SQLite file.

The store lives beside the warehouse (``settings.access_store_path``), not in it: the DuckDB file
allows one writer, while sign-ins, token rotations and audit rows must be written while the API,
the dashboard and a pipeline run. SQLite in WAL mode lets many processes read while one writes for a
few milliseconds. Each thread keeps one connection in autocommit mode, and every call reads afresh
(a new read snapshot per statement), so a disabled user or a rotated token is refused by the very
next request of every process: no token lookup is cached beyond one call. (A connection per call
would cost a WAL checkpoint and a disk sync at every close, about a millisecond per audited request.)

A missing store file means "no users yet" (the local one-person mode): reading never creates it;
the first user added does, readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from carsight.access import audit
from carsight.access.passwords import (
    hash_password,
    new_password,
    new_token,
    server_key,
    token_digest,
    verify_password,
)
from carsight.access.scope import ROLES, Scope
from carsight.errors import CarsightError, InputError, NotFoundError

NAME = re.compile(r"^[\w.@-]{1,64}$")
DEALER_CODE = re.compile(r"^[^\s,]{1,32}$")
MIN_PASSWORD_CHARS = 12
MAX_LOCK_SECONDS = 3600.0

DDL = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    dealers TEXT NOT NULL DEFAULT '[]',
    password_hash TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    token_digest TEXT NOT NULL UNIQUE,
    disabled INTEGER NOT NULL DEFAULT 0,
    failed_signins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    last_signin_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users (name),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_name ON sessions (name);
"""


class SignInError(CarsightError):
    """A sign-in refused: wrong name or password, or the user is locked for a while.

    ``retry_after`` is the number of seconds the lock still lasts (None when not locked).
    """

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Credentials:
    """What ``add`` and ``rotate`` hand out once: the password and the API token, never stored."""

    name: str
    password: str
    token: str


@dataclass(frozen=True)
class User:
    """A user as listed (no secrets)."""

    name: str
    role: str
    dealers: tuple[str, ...]
    disabled: bool
    must_change_password: bool
    failed_signins: int
    locked_until: dt.datetime | None
    created_at: dt.datetime
    last_signin_at: dt.datetime | None

    @property
    def scope(self) -> Scope:
        """What this user may read."""
        return Scope(user=self.name, role=self.role, dealers=frozenset(self.dealers))


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the user's scope and a session token (to keep in a cookie)."""

    scope: Scope
    session_token: str
    expires_at: dt.datetime
    must_change_password: bool


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


_USER_COLUMNS = (
    "name, role, dealers, disabled, must_change_password, failed_signins, locked_until, created_at, last_signin_at"
)


def _user(row) -> User:
    name, role, dealers, disabled, must_change, failed, locked, created, last = row
    return User(
        name=name,
        role=role,
        dealers=tuple(json.loads(dealers)),
        disabled=bool(disabled),
        must_change_password=bool(must_change),
        failed_signins=int(failed),
        locked_until=_time(locked),
        created_at=_time(created),
        last_signin_at=_time(last),
    )


class AccessStore:
    """Users, tokens, sessions and the audit log in one SQLite file.

    Parameters
    ----------
    path : Path
        The store file (``settings.access_store_path``); the server key sits beside it
        (``<path>.key``).
    hasher : argon2.PasswordHasher, optional
        The password hasher (default: argon2-cffi's RFC 9106 low-memory profile).
    now : callable, optional
        The clock (UTC), replaceable in tests of the lock-out.
    max_failures, lock_seconds : int, float
        After ``max_failures`` wrong passwords in a row a user is locked for ``lock_seconds``,
        doubled at every further failure, at most an hour.
    session_hours : float
        How long a session from :meth:`sign_in` lasts.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        hasher: PasswordHasher | None = None,
        now: Callable[[], dt.datetime] = _utc_now,
        max_failures: int = 5,
        lock_seconds: float = 30.0,
        session_hours: float = 8.0,
    ):
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()
        self.now = now
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.session_hours = session_hours
        self._key: bytes | None = None
        self._dummy_hash: str | None = None
        self._ready = False  # the schema was made (or checked) by this object
        self._local = threading.local()  # one connection per thread (sqlite3's rule)

    @classmethod
    def from_settings(cls, settings) -> AccessStore:
        """The store that ``settings`` names, with its lock-out and session settings."""
        return cls(
            settings.access_store_path,
            max_failures=settings.access_max_failures,
            lock_seconds=settings.access_lock_seconds,
            session_hours=settings.access_session_hours,
        )

    # ---- connections ---------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        """Whether the store file exists (it does once a user was added or something audited)."""
        return self.path.is_file()

    @property
    def key(self) -> bytes:
        """The server key of token digests (created beside the store on first use)."""
        if self._key is None:
            self._key = server_key(self.path.with_name(self.path.name + ".key"))
        return self._key

    def _connection(self) -> sqlite3.Connection:
        """The calling thread's connection, in autocommit mode (each statement sees the latest commits)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            # In WAL mode NORMAL loses no committed row on a crash of the process, only on power loss.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (the others close with their threads or the process)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """A connection for reading, or None when there is no store yet (nothing is created)."""
        yield self._connection() if self.exists else None

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers queue instead of failing half-way)."""
        if not self.exists:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with suppress(FileExistsError):  # another process made it first
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = self._connection()
        if not self._ready:
            # WAL: readers (every API request) never wait for a writer; the mode stays with the file.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(DDL + audit.DDL)
            self._ready = True
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # ---- users ---------------------------------------------------------------------------------
    def has_users(self) -> bool:
        """Whether any user was ever created (disabled ones count: sign-in stays required)."""
        with self._reading() as conn:
            if conn is None:
                return False
            try:
                return conn.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0] == 1
            except sqlite3.OperationalError:  # a store with only an audit log so far
                return False

    def users(self) -> list[User]:
        """Every user, by name."""
        with self._reading() as conn:
            if conn is None:
                return []
            return [_user(r) for r in conn.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")]

    def user(self, name: str) -> User:
        """One user.

        Raises
        ------
        NotFoundError
            When there is no user of that name.
        """
        with self._reading() as conn:
            row = None if conn is None else conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,))
            found = None if row is None else row.fetchone()
        if found is None:
            raise NotFoundError(f"no user named '{name}'")
        return _user(found)

    def add(
        self, name: str, role: str, dealers: Iterable[str] = (), *, actor: str = "cli", client: str | None = "cli"
    ) -> Credentials:
        """Create a user; returns its one-time password and API token (shown once, stored as digests).

        Raises
        ------
        InputError
            For a name that is taken or not allowed, an unknown role, a dealer user without dealers,
            or dealers given to another role.
        """
        codes = _check_user(name, role, dealers)
        credentials = Credentials(name=name, password=new_password(), token=new_token())
        # Hashed before the write transaction: Argon2 takes a good fraction of a second, and other
        # writers (audit rows of every API request) would queue behind it.
        password_hash = hash_password(self.hasher, credentials.password)
        now = self.now()
        with self._writing() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise InputError(f"a user named '{name}' exists already", column="NAME", expected="a new name")
            conn.execute(
                "INSERT INTO users (name, role, dealers, password_hash, token_digest, created_at, changed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    role,
                    json.dumps(codes, ensure_ascii=False),
                    password_hash,
                    token_digest(self.key, credentials.token),
                    audit.utc(now),
                    audit.utc(now),
                ),
            )
            detail = f"role={role}" + (f" dealers={','.join(codes)}" if codes else "")
            audit.record(
                conn, at=now, user=actor, role=None, action="user.add", target=name, client=client, detail=detail
            )
        return credentials

    def disable(self, name: str, *, actor: str = "cli", client: str | None = "cli") -> None:
        """Refuse the user from now on: its token, password and open sessions stop working at once."""
        self._set_disabled(name, True, actor, client)

    def enable(self, name: str, *, actor: str = "cli", client: str | None = "cli") -> None:
        """Let a disabled user in again (with the password and token it had)."""
        self._set_disabled(name, False, actor, client)

    def _set_disabled(self, name: str, disabled: bool, actor: str, client: str | None) -> None:
        now = self.now()
        with self._writing() as conn:
            changed = conn.execute(
                "UPDATE users SET disabled = ?, changed_at = ? WHERE name = ?", (int(disabled), audit.utc(now), name)
            ).rowcount
            if not changed:
                raise NotFoundError(f"no user named '{name}'")
            if disabled:
                conn.execute("DELETE FROM sessions WHERE name = ?", (name,))
            action = "user.disable" if disabled else "user.enable"
            audit.record(conn, at=now, user=actor, role=None, action=action, target=name, client=client)

    def rotate(self, name: str, *, actor: str = "cli", client: str | None = "cli") -> Credentials:
        """A new password and API token for the user; the old ones and its sessions stop working at once."""
        credentials = Credentials(name=name, password=new_password(), token=new_token())
        password_hash = hash_password(self.hasher, credentials.password)
        now = self.now()
        with self._writing() as conn:
            changed = conn.execute(
                "UPDATE users SET password_hash = ?, token_digest = ?, must_change_password = 1,"
                " failed_signins = 0, locked_until = NULL, changed_at = ? WHERE name = ?",
                (
                    password_hash,
                    token_digest(self.key, credentials.token),
                    audit.utc(now),
                    name,
                ),
            ).rowcount
            if not changed:
                raise NotFoundError(f"no user named '{name}'")
            conn.execute("DELETE FROM sessions WHERE name = ?", (name,))
            audit.record(conn, at=now, user=actor, role=None, action="user.rotate", target=name, client=client)
        return credentials

    # ---- tokens and sign-in ----------------------------------------------------------------------
    def scope_for_token(self, token: str) -> Scope | None:
        """The scope of the enabled user whose API token this is, else None (one indexed query)."""
        if not self.exists:
            return None
        digest = token_digest(self.key, token)
        with self._reading() as conn:
            try:
                row = conn.execute(
                    "SELECT name, role, dealers FROM users WHERE token_digest = ? AND disabled = 0", (digest,)
                ).fetchone()
            except sqlite3.OperationalError:  # a store with only an audit log so far
                return None
        if row is None:
            return None
        return Scope(user=row[0], role=row[1], dealers=frozenset(json.loads(row[2])))

    def sign_in(self, name: str, password: str, *, client: str | None = None) -> SignedIn:
        """Check a password and open a session.

        Wrong passwords in a row lock the user for a while (``lock_seconds``, doubled at every
        further failure); a locked user is refused without the password being checked, so guessing
        during the lock gains nothing. An unknown or disabled user costs the same hash as a known one,
        so the answer's time does not tell which names exist.

        Raises
        ------
        SignInError
            Wrong name or password, or locked (``retry_after`` seconds).
        """
        now = self.now()
        with self._reading() as conn:
            row = None
            if conn is not None:
                row = conn.execute(
                    "SELECT password_hash, disabled, locked_until, role, dealers, must_change_password"
                    " FROM users WHERE name = ?",
                    (name,),
                ).fetchone()
        if row is None or row[1]:
            verify_password(self.hasher, self._dummy(), password)
            if row is not None:
                self._failed(name, now, client, locked=False, count=False)
            raise SignInError("wrong user name or password")
        stored, _disabled, locked_until, role, dealers, must_change = row
        locked = _time(locked_until)
        if locked is not None and now < locked:
            self._failed(name, now, client, locked=True, count=False)
            raise SignInError("too many failed sign-ins: try again later", (locked - now).total_seconds())
        if not verify_password(self.hasher, stored, password):
            retry_after = self._failed(name, now, client, locked=False, count=True)
            raise SignInError("wrong user name or password", retry_after)
        token = new_token()
        expires = now + dt.timedelta(hours=self.session_hours)
        rehash = self.hasher.check_needs_rehash(stored)
        new_hash = (hash_password(self.hasher, password),) if rehash else ()
        with self._writing() as conn:
            conn.execute(
                "UPDATE users SET failed_signins = 0, locked_until = NULL, last_signin_at = ?"
                + (", password_hash = ?" if rehash else "")
                + " WHERE name = ?",
                (audit.utc(now), *new_hash, name),
            )
            conn.execute(
                "INSERT INTO sessions (digest, name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_digest(self.key, token), name, audit.utc(now), audit.utc(expires)),
            )
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (audit.utc(now),))
            audit.record(conn, at=now, user=name, role=role, action="signin", target="password", client=client)
        scope = Scope(user=name, role=role, dealers=frozenset(json.loads(dealers)))
        return SignedIn(scope=scope, session_token=token, expires_at=expires, must_change_password=bool(must_change))

    def _failed(self, name: str, now: dt.datetime, client: str | None, *, locked: bool, count: bool) -> float | None:
        """Record a refused sign-in; when it counts, lock the user past ``max_failures``.

        Returns the seconds of the lock this failure started (None when it started none).
        """
        lock = None
        with self._writing() as conn:
            if count:
                failures = conn.execute(
                    "UPDATE users SET failed_signins = failed_signins + 1 WHERE name = ? RETURNING failed_signins",
                    (name,),
                ).fetchone()[0]
                if failures >= self.max_failures:
                    lock = min(self.lock_seconds * 2 ** (failures - self.max_failures), MAX_LOCK_SECONDS)
                    conn.execute(
                        "UPDATE users SET locked_until = ? WHERE name = ?",
                        (audit.utc(now + dt.timedelta(seconds=lock)), name),
                    )
            action = "signin.locked" if locked else "signin.failed"
            audit.record(conn, at=now, user=name, role=None, action=action, target="password", client=client)
        return lock

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(self.hasher, new_password())
        return self._dummy_hash

    def session_scope(self, token: str) -> Scope | None:
        """The scope of an unexpired session of an enabled user, else None."""
        if not self.exists:
            return None
        with self._reading() as conn:
            row = conn.execute(
                "SELECT u.name, u.role, u.dealers FROM sessions s JOIN users u ON u.name = s.name"
                " WHERE s.digest = ? AND s.expires_at > ? AND u.disabled = 0",
                (token_digest(self.key, token), audit.utc(self.now())),
            ).fetchone()
        if row is None:
            return None
        return Scope(user=row[0], role=row[1], dealers=frozenset(json.loads(row[2])))

    def end_session(self, token: str) -> None:
        """Sign out: the session token stops working."""
        if self.exists:
            with self._writing() as conn:
                conn.execute("DELETE FROM sessions WHERE digest = ?", (token_digest(self.key, token),))

    def change_password(self, name: str, old: str, new: str, *, client: str | None = None) -> None:
        """Replace the password (the one-time one first); the user's other sessions end.

        Raises
        ------
        SignInError
            When ``old`` is wrong (counted like a failed sign-in).
        InputError
            When ``new`` is shorter than 12 characters or equal to ``old``.
        """
        if len(new) < MIN_PASSWORD_CHARS:
            raise InputError(
                f"the new password is too short: at least {MIN_PASSWORD_CHARS} characters", column="password"
            )
        if new == old:
            raise InputError("the new password must differ from the old one", column="password")
        signed = self.sign_in(name, old, client=client)
        new_hash = hash_password(self.hasher, new)
        now = self.now()
        with self._writing() as conn:
            conn.execute(
                "UPDATE users SET password_hash = ?, must_change_password = 0, changed_at = ? WHERE name = ?",
                (new_hash, audit.utc(now), name),
            )
            conn.execute("DELETE FROM sessions WHERE name = ?", (name,))
            audit.record(
                conn, at=now, user=name, role=signed.scope.role, action="user.password", target=name, client=client
            )

    # ---- audit log -------------------------------------------------------------------------------
    def record(
        self,
        scope: Scope,
        action: str,
        target: str,
        customers: Iterable[str] = (),
        *,
        client: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one audit row for what ``scope``'s user did (see :mod:`carsight.access.audit`)."""
        with self._writing() as conn:
            audit.record(
                conn,
                at=self.now(),
                user=scope.user,
                role=scope.role,
                action=action,
                target=target,
                customers=customers,
                client=client,
                detail=detail,
            )

    def audit_entries(
        self,
        *,
        user: str | None = None,
        since: dt.datetime | None = None,
        customer: str | None = None,
        limit: int | None = None,
    ) -> list[audit.AuditEntry]:
        """The audit log, oldest first (see :func:`carsight.access.audit.read`)."""
        with self._reading() as conn:
            if conn is None:
                return []
            try:
                return audit.read(conn, user=user, since=since, customer=customer, limit=limit)
            except sqlite3.OperationalError:  # a store with users only, never audited
                return []


def _check_user(name: str, role: str, dealers: Iterable[str]) -> list[str]:
    """The dealer codes of a new user, after checking its name, role and dealers."""
    if not NAME.match(name):
        raise InputError(
            f"user name '{name}' is not allowed",
            column="NAME",
            expected="1-64 letters, digits, '.', '_', '@' or '-'",
        )
    if role not in ROLES:
        raise InputError(f"unknown role '{role}'", column="--role", expected=" | ".join(ROLES))
    codes = list(dict.fromkeys(code.strip() for code in dealers))
    for code in codes:
        if not DEALER_CODE.match(code):
            raise InputError(
                f"dealer code '{code}' is not allowed",
                column="--dealer",
                expected="1-32 characters, no spaces or commas",
            )
    if role == "dealer" and not codes:
        raise InputError("a dealer user needs at least one dealer", column="--dealer", expected="--dealer CODE")
    if role != "dealer" and codes:
        raise InputError(
            f"only dealer users cover dealers (this user's role is {role})",
            column="--dealer",
            expected="no --dealer, or --role dealer",
        )
    return codes
