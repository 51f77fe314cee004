"""Who is using the dashboard: the sign-in page, the session, the reverse-proxy header mode and the audit.

:func:`current_scope` runs at the top of every script run, before anything reads the warehouse:

- no users in the access store (the local one-person mode): :data:`~carsight.access.scope.LOCAL`,
  and the dashboard is exactly what it was before sign-in existed;
- ``CARSIGHT_TRUSTED_USER_HEADER`` set (a company's single sign-on proxy in front of the dashboard
  names the signed-in user in that request header): the named user, who must exist in the store and
  be enabled; no password form;
- otherwise the session token kept in ``st.session_state`` after a password sign-in, checked against
  the store at every run, so an expired session, a disabled user or a rotated password sends the
  browser back to the sign-in form at once.

When nobody is signed in, app.py runs :func:`page` (the sign-in form, or the proxy's refusal) as the
only page: nothing else is drawn, no other page, no warehouse location, no data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import streamlit as st

from carsight.access.scope import LOCAL, Scope
from carsight.access.users import MIN_PASSWORD_CHARS, AccessStore, SignInError
from carsight.config import get_settings
from carsight.dashboard import state
from carsight.errors import InputError, NotFoundError

TRUSTED_USER_HEADER = "CARSIGHT_TRUSTED_USER_HEADER"
"""The environment variable of ``settings.trusted_user_header`` (the header a trusted proxy sets)."""

SESSION_TOKEN = "access_session_token"
NOTICE = "access_notice"  # a message for the next sign-in form (signed out, session ended)
AUDITED = "access_audited"  # action -> the last (page, customers) audited in this browser session
REFUSAL = "access_refusal"  # why the trusted proxy's user was refused (header mode)
CHANGE_FOR = "access_change_password"  # the user who signed in with a one-time password


def store() -> AccessStore:
    """The access store the settings name (every call of it reads afresh; one object per store)."""
    settings = get_settings()
    return _store(
        settings.access_store_path,
        settings.access_max_failures,
        settings.access_lock_seconds,
        settings.access_session_hours,
    )


@functools.cache
def _store(path: Path, max_failures: int, lock_seconds: float, session_hours: float) -> AccessStore:
    # One object per store and settings, so each server thread keeps its one SQLite connection.
    return AccessStore(path, max_failures=max_failures, lock_seconds=lock_seconds, session_hours=session_hours)


def client() -> str | None:
    """The browser's address as the server sees it (None where Streamlit cannot tell: no request)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None  # AppTest has no request: a mock stands in


def trusted_header() -> str | None:
    """The request header naming the signed-in user (``settings.trusted_user_header``), if any."""
    name = (get_settings().trusted_user_header or "").strip()
    return name or None


def user_from_header(access: AccessStore, headers: Mapping[str, str], header: str) -> Scope:
    """The scope of the enabled user that the proxy's ``header`` names.

    Parameters
    ----------
    access : AccessStore
        Where users live.
    headers : mapping of str to str
        The request's headers (``st.context.headers``; case-insensitive there).
    header : str
        The header the proxy sets (``CARSIGHT_TRUSTED_USER_HEADER``).

    Raises
    ------
    SignInError
        When the header is missing or empty, or names a user that does not exist or is disabled.
    """
    value = headers.get(header)
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise SignInError(state.tr("signin.proxy_missing", header=header))
    try:
        user = access.user(name)
    except NotFoundError:
        raise SignInError(state.tr("signin.proxy_unknown", name=name)) from None
    if user.disabled:
        raise SignInError(state.tr("signin.proxy_unknown", name=name))
    return user.scope


def current_scope() -> tuple[Scope, bool] | None:
    """Whose run this is and whether a user signed in for it; None when nobody is signed in.

    ``(LOCAL, False)`` in the local one-person mode. None means: draw :func:`page` and nothing else.
    """
    access = store()
    if not access.has_users():
        return LOCAL, False
    st.session_state.pop(REFUSAL, None)
    header = trusted_header()
    if header is not None:
        try:
            return user_from_header(access, st.context.headers, header), True
        except SignInError as exc:
            st.session_state[REFUSAL] = str(exc)
            _forget_views()
            return None
    token = st.session_state.get(SESSION_TOKEN)
    if token is not None:
        scope = access.session_scope(token)
        if scope is not None:
            return scope, True
        del st.session_state[SESSION_TOKEN]
        st.session_state[NOTICE] = "signin.expired"
    _forget_views()
    return None


def _forget_views() -> None:
    """Nobody is signed in: the next sign-in starts a new series of audited views."""
    st.session_state.pop(AUDITED, None)


def page() -> None:
    """The sign-in page: a name, a password and one line when a sign-in was refused.

    Behind a trusted proxy, only the proxy's refusal (there is no password to type).
    """
    st.title(state.tr("signin.title"))
    refusal = st.session_state.get(REFUSAL)
    if refusal is not None:
        st.error(refusal)
        return
    notice = st.session_state.pop(NOTICE, None)
    if notice is not None:
        st.info(state.tr(notice))
    changing = st.session_state.get(CHANGE_FOR)
    if changing is not None:
        _change_password_form(changing)
        return
    st.caption(state.tr("signin.intro"))
    with st.form("signin"):
        name = st.text_input(state.tr("signin.name"), key="signin_name")
        password = st.text_input(state.tr("signin.password"), type="password", key="signin_password")
        submitted = st.form_submit_button(state.tr("signin.submit"), type="primary")
    if not submitted:
        return
    try:
        signed = store().sign_in(name.strip(), password, client=client())
    except SignInError as exc:
        _refused(exc)
        return
    if signed.must_change_password:
        # The one-time password `carsight user add` printed opens nothing but the form to replace it.
        store().end_session(signed.session_token)
        st.session_state[CHANGE_FOR] = signed.scope.user
    else:
        st.session_state[SESSION_TOKEN] = signed.session_token
        st.session_state.pop(AUDITED, None)
    st.rerun()


def _change_password_form(name: str) -> None:
    """Replace the one-time password: the current one, the new one twice; then sign in again."""
    st.info(state.tr("signin.must_change", name=name, chars=MIN_PASSWORD_CHARS))
    with st.form("change_password"):
        old = st.text_input(state.tr("signin.current_password"), type="password", key="signin_old")
        new = st.text_input(state.tr("signin.new_password"), type="password", key="signin_new")
        again = st.text_input(state.tr("signin.repeat_password"), type="password", key="signin_again")
        submitted = st.form_submit_button(state.tr("signin.change"), type="primary")
    if not submitted:
        return
    if new != again:
        st.error(state.tr("signin.not_same"))
        return
    try:
        store().change_password(name, old, new, client=client())
    except InputError:  # too short, or the one-time password again (the store's rule)
        st.error(state.tr("signin.weak", chars=MIN_PASSWORD_CHARS))
        return
    except SignInError as exc:
        _refused(exc)
        return
    del st.session_state[CHANGE_FOR]
    st.session_state[NOTICE] = "signin.password_changed"
    st.rerun()


def _refused(exc: SignInError) -> None:
    """One line for a refused password: wrong (names and passwords alike), or locked until when."""
    # A lock already running says when it ends; so does a wrong password that just started one.
    if exc.retry_after is not None:
        st.error(state.tr("signin.locked", seconds=max(1, round(exc.retry_after))))
    else:
        st.error(state.tr("signin.wrong"))


def sign_out() -> None:
    """End the session in the store and forget it here (the next run shows the sign-in form)."""
    token = st.session_state.pop(SESSION_TOKEN, None)
    if token is not None:
        store().end_session(token)
    _forget_views()
    st.session_state[NOTICE] = "signin.signed_out"


def sidebar(scope: Scope) -> None:
    """Who is signed in (name, role, dealers) and, for a password session, the sign-out button."""
    st.markdown(state.tr("signin.who", name=scope.user, role=state.tr(f"role.{scope.role}")))
    if scope.dealers:
        st.caption(state.tr("signin.dealers", dealers=", ".join(sorted(scope.dealers))))
    if SESSION_TOKEN in st.session_state:
        st.button(state.tr("signin.sign_out"), on_click=sign_out, icon=":material/logout:")


def audit(action: str, target: str, customers: Iterable[str] = ()) -> None:
    """Record what the signed-in user saw: a page opened (``page``) or customers read (``read``).

    One row per view: a rerun for the same page and customers (a widget moved) is not a new view,
    while opening another page, or coming back, is. Nothing is recorded in the local one-person mode
    (no users: nobody to tell apart, and no store file is created for it).

    Parameters
    ----------
    action : str
        ``page`` or ``read`` (see :data:`carsight.access.audit.ACTIONS`).
    target : str
        The page (its URL path).
    customers : iterable of str
        The ids of the customers shown, where the page knows them (the desk's looked-up customer).
    """
    scope, signed_in = state.who()
    if not signed_in:
        return
    entry = (target, tuple(customers))
    last = st.session_state.setdefault(AUDITED, {})
    if last.get(action) == entry:
        return
    store().record(scope, action, target, entry[1], client=client())
    if action == "page":  # a new view: the customers it reads are new reads
        last.clear()
    last[action] = entry


def record(action: str, target: str, customers: Iterable[str] = (), *, detail: str | None = None) -> None:
    """Record one event of the signed-in user (every call is a row: a campaign sent, say).

    Nothing is recorded in the local one-person mode.
    """
    scope, signed_in = state.who()
    if signed_in:
        store().record(scope, action, target, customers, client=client(), detail=detail)


def audited_download(target: str, customers: Iterable[str], build: Callable[[], bytes]) -> Callable[[], bytes]:
    """The ``data`` of a download button that writes customers out: one ``export`` audit row per download.

    Streamlit builds the file only when the button is clicked, so the row is written then, not when
    the page is drawn. Who and from where are taken now (the click may be served outside a script run).

    Parameters
    ----------
    target : str
        What is exported (e.g. ``campaigns:targets``).
    customers : iterable of str
        The ids of the customers in the file.
    build : callable
        Makes the file's bytes.
    """
    scope, signed_in = state.who()
    return export_recorder(store() if signed_in else None, scope, target, customers, build, client())


def export_recorder(
    access: AccessStore | None,
    scope: Scope,
    target: str,
    customers: Iterable[str],
    build: Callable[[], bytes],
    address: str | None,
) -> Callable[[], bytes]:
    """``build`` wrapped to record one ``export`` row in ``access`` first (None: local mode, no row)."""
    ids = tuple(customers)

    def data() -> bytes:
        if access is not None:
            access.record(scope, "export", target, ids, client=address)
        return build()

    return data
