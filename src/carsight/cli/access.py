"""``carsight user add|list|disable|enable|rotate`` and ``carsight audit``: users, roles and the audit log."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import Annotated

import typer
from rich.table import Table as RichTable

from carsight.access.scope import ROLES
from carsight.access.users import AccessStore, Credentials
from carsight.cli.common import console, err_console, settings
from carsight.errors import CarsightError, InputError
from carsight.i18n import t


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Users, roles and their API tokens (sign-in, dealer scope).", no_args_is_help=True)
    users.command(
        "add", help="Create a user; prints a one-time password and the API token (the token alone on its line)."
    )(user_add)
    users.command("list", help="List users with their role, dealers and state.")(user_list)
    users.command("disable", help="Refuse a user from now on (token, password and sessions).")(user_disable)
    users.command("enable", help="Let a disabled user in again.")(user_enable)
    users.command("rotate", help="Issue a new password and API token; the old ones stop working at once.")(user_rotate)
    app.add_typer(users, name="user")
    app.command("audit", help="Who read or exported which customers, changed users or sent campaigns, and when.")(audit)


def _store() -> AccessStore:
    return AccessStore.from_settings(settings())


def _actor() -> str:
    """Who made a change from the command line (the operating-system account)."""
    return f"cli:{getpass.getuser()}"


def _print_credentials(credentials: Credentials, lang: str) -> None:
    # Plain prints, not Rich: a token must never be wrapped, re-coloured or split when copied.
    print(t("access.password", lang, password=credentials.password))
    print(t("access.token", lang))
    print(credentials.token, flush=True)


def _unknown_dealers(codes: list[str]) -> list[str]:
    """The codes not in the warehouse's dealers table (none checked when it has no dealers yet)."""
    from carsight.warehouse import open_reader
    from carsight.warehouse import schema as S

    try:
        wh = open_reader(settings().warehouse)
    except CarsightError:
        return []  # no warehouse yet: dealers may be loaded after the users are made
    try:
        if not wh.has_table(S.DEALERS.name):
            return []
        known = set(wh.table(S.DEALERS.name).dealer_code.to_pandas().astype(str))
    finally:
        wh.close()
    return [code for code in codes if known and code not in known]


def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -)")],
    role: Annotated[str, typer.Option("--role", "-r", help=f"One of {', '.join(ROLES)}")],
    dealer: Annotated[
        list[str] | None,
        typer.Option("--dealer", "-d", help="Dealer code this user covers (repeatable; dealer users need one)"),
    ] = None,
) -> None:
    lang = settings().lang
    codes = list(dealer or [])
    credentials = _store().add(name, role, codes, actor=_actor())
    dealers = f"; {', '.join(codes)}" if codes else ""
    console.print(t("access.created", lang, name=name, role=role, dealers=dealers), highlight=False)
    unknown = _unknown_dealers(codes)
    if unknown:
        err_console.print(t("access.unknown_dealers", lang, codes=", ".join(unknown)), highlight=False)
    _print_credentials(credentials, lang)


def user_list() -> None:
    lang = settings().lang
    store = _store()
    users = store.users()
    if not users:
        console.print(t("access.no_users", lang, path=store.path), highlight=False)
        return
    table = RichTable(title=t("access.store", lang, path=store.path))
    for key in ("name", "role", "dealers", "state", "created", "last_signin"):
        table.add_column(t(f"access.col.{key}", lang))
    now = store.now()
    for user in users:
        states = [t("access.state.disabled" if user.disabled else "access.state.active", lang)]
        if user.locked_until is not None and user.locked_until > now:
            states.append(t("access.state.locked", lang, until=_minute(user.locked_until)))
        if user.must_change_password:
            states.append(t("access.state.must_change", lang))
        table.add_row(
            user.name,
            user.role,
            ", ".join(user.dealers),
            " · ".join(states),
            _minute(user.created_at),
            _minute(user.last_signin_at),
        )
    console.print(table)


def _minute(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def user_disable(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    _store().disable(name, actor=_actor())
    console.print(t("access.disabled", settings().lang, name=name), highlight=False)


def user_enable(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    _store().enable(name, actor=_actor())
    console.print(t("access.enabled", settings().lang, name=name), highlight=False)


def user_rotate(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    lang = settings().lang
    credentials = _store().rotate(name, actor=_actor())
    console.print(t("access.rotated", lang, name=name), highlight=False)
    _print_credentials(credentials, lang)


def _since(text: str | None) -> dt.datetime | None:
    """A date (midnight UTC) or an ISO date-time (UTC unless it says otherwise)."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--since '{text}' is not a date", column="--since", expected="YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def audit(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's entries")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this date or date-time on (UTC), e.g. 2026-03-01")
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Only entries touching this customer")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many entries (the newest)")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table")] = False,
) -> None:
    lang = settings().lang
    entries = _store().audit_entries(user=user, since=_since(since), customer=customer, limit=limit)
    if as_json:
        for entry in entries:
            print(json.dumps(entry.as_dict(), ensure_ascii=False))
        return
    if not entries:
        console.print(t("access.no_entries", lang))
        return
    table = RichTable()
    for key in ("at", "name", "role", "action", "target", "customers", "client", "detail"):
        # The time and the action stay on one line each; the rest folds in a narrow terminal.
        table.add_column(t(f"access.col.{key}", lang), overflow="fold", no_wrap=key in ("at", "action"))
    for entry in entries:
        shown = ", ".join(entry.customers[:5]) + (f" (+{len(entry.customers) - 5})" if len(entry.customers) > 5 else "")
        table.add_row(
            entry.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            entry.user,
            entry.role or "",
            entry.action,
            entry.target,
            shown,
            entry.client or "",
            entry.detail or "",
        )
    console.print(table)
