"""The audit log: who read or exported which customers, changed which user or sent which campaign.

One table, ``audit_log``, in the access store (:class:`carsight.access.users.AccessStore`), beside the
users. It is append-only from the application's side: carsight only ever INSERTs into it, and two
triggers make SQLite refuse any UPDATE or DELETE, so a bug or a stray statement cannot rewrite
history. (Someone with write access to the file can still drop the triggers: keep the store's file
permissions tight, 0600 as carsight creates it, and copy the log elsewhere if it must be tamper-proof
against administrators too.)

Each row says when (UTC), who (the user name; ``bootstrap`` for the CARSIGHT_API_TOKEN, ``local`` in
local one-person mode, ``cli:<account>`` for the command line), with which role, what (an action from
:data:`ACTIONS` and its target: the route, page, export, campaign or user), which customers (their
ids), and from where (the client address, or ``cli``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

ACTIONS = (
    "read",  # customer data read through the API or a page
    "export",  # customer data written out (CSV, report, target list)
    "page",  # a dashboard page opened
    "campaign.send",  # a campaign sent to its target list
    "signin",
    "signin.failed",
    "signin.locked",
    "user.add",
    "user.disable",
    "user.enable",
    "user.rotate",
    "user.password",
)

DDL = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    customers TEXT NOT NULL DEFAULT '[]',
    client TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_user_at ON audit_log (user, at);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    at: dt.datetime
    user: str
    role: str | None
    action: str
    target: str
    customers: tuple[str, ...]
    client: str | None
    detail: str | None

    def as_dict(self) -> dict:
        """The entry as JSON-ready values (``at`` in ISO 8601 UTC, customers as a list)."""
        return {
            "at": self.at.isoformat(),
            "user": self.user,
            "role": self.role,
            "action": self.action,
            "target": self.target,
            "customers": list(self.customers),
            "client": self.client,
            "detail": self.detail,
        }


def utc(moment: dt.datetime) -> str:
    """A moment as stored: ISO 8601 in UTC with the offset, so text order is time order."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def record(
    conn: sqlite3.Connection,
    *,
    at: dt.datetime,
    user: str,
    role: str | None,
    action: str,
    target: str,
    customers: Iterable[str] = (),
    client: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one row (in the caller's transaction).

    Raises
    ------
    ValueError
        When ``action`` is not one of :data:`ACTIONS` (a programming error, not user input).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: one of {', '.join(ACTIONS)}")
    conn.execute(
        "INSERT INTO audit_log (at, user, role, action, target, customers, client, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (utc(at), user, role, action, target, json.dumps(list(customers), ensure_ascii=False), client, detail),
    )


def read(
    conn: sqlite3.Connection,
    *,
    user: str | None = None,
    since: dt.datetime | None = None,
    customer: str | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Rows of the log, oldest first: of one user, from a moment on, touching one customer.

    ``limit`` keeps the newest ``limit`` rows.
    """
    where, params = [], []
    if user is not None:
        where.append("user = ?")
        params.append(user)
    if since is not None:
        where.append("at >= ?")
        params.append(utc(since))
    if customer is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(audit_log.customers) WHERE json_each.value = ?)")
        params.append(customer)
    sql = "SELECT at, user, role, action, target, customers, client, detail FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    rows = conn.execute(sql, params).fetchall()
    return [
        AuditEntry(
            at=dt.datetime.fromisoformat(at),
            user=who,
            role=role,
            action=action,
            target=target,
            customers=tuple(json.loads(customers)),
            client=client,
            detail=detail,
        )
        for at, who, role, action, target, customers, client, detail in reversed(rows)
    ]
