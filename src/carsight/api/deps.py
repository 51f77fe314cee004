"""Typed dependencies.

Who is calling (a :class:`~carsight.access.scope.Scope` from the bearer token), which roles a route
allows, the audit writer and the current data snapshot, so each route says what it needs in its
signature.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carsight.access.scope import LOCAL, ROLES, Scope
from carsight.api.models import Lang
from carsight.api.store import Snapshot

_bearer = HTTPBearer(
    auto_error=False,
    description="A user's API token (`carsight user add`), or the bootstrap admin token CARSIGHT_API_TOKEN",
)

BOOTSTRAP = Scope(user="bootstrap", role="admin")
"""The scope of CARSIGHT_API_TOKEN: an administrator, so an API started with it alone works as before users."""


def _unauthorized(message: str, header: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": header})


# The dependencies are ``async`` on purpose: sync ones run in a thread pool, which costs more than
# the work they do.
async def current_scope(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Scope:
    """What the caller may read: from its bearer token, or local one-person mode (``--insecure``).

    The token is either CARSIGHT_API_TOKEN (the bootstrap administrator) or a user's API token, looked
    up in the access store on every request, so a disabled user or a rotated token is refused at
    once. No token: 401, unless the API was started with ``--insecure`` (loopback only), where the
    caller is the local user with every right.
    """
    state = request.app.state
    if credentials is None:
        if state.insecure:
            return LOCAL
        raise _unauthorized("missing bearer token", "Bearer")
    given = credentials.credentials
    # compare_digest takes the same time whatever the mismatch, so the token cannot be guessed byte by byte.
    if state.token is not None and hmac.compare_digest(given.encode("utf-8"), state.token):
        return BOOTSTRAP
    scope = state.access.scope_for_token(given)
    if scope is None:
        raise _unauthorized("invalid bearer token", 'Bearer error="invalid_token"')
    return scope


ScopeDep = Annotated[Scope, Depends(current_scope)]


def require_role(*roles: str):
    """A dependency that lets only these roles through (403 for the others) and gives their scope.

    Parameters
    ----------
    *roles : str
        Roles of :data:`carsight.access.scope.ROLES` allowed on the route.

    Returns
    -------
    fastapi.params.Depends
        Use as ``dependencies=[require_role(...)]`` or ``scope: Annotated[Scope, require_role(...)]``.
    """
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}: use some of {ROLES}")

    async def check(scope: ScopeDep) -> Scope:
        if scope.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {scope.role} role may not use this route")
        return scope

    check.__name__ = "require_" + "_".join(roles)
    return Depends(check)


EVERY_ROLE = ROLES
CUSTOMER_ROLES = ("admin", "hq", "dealer")  # lists, exports and sales-side views: not the call centre
AGGREGATE_ROLES = ("admin", "hq")  # figures computed over every dealer's customers


class Auditor:
    """Writes the audit rows of one request: who (the scope), what (method and route), from where."""

    def __init__(self, request: Request, scope: Scope):
        self.request = request
        self.scope = scope

    def read(self, customers: Iterable[str], detail: str | None = None) -> None:
        """Record that the caller read these customers' data (an empty list with a detail for a refusal)."""
        route = self.request.scope.get("route")
        target = f"{self.request.method} {route.path if route is not None else self.request.url.path}"
        client = self.request.client.host if self.request.client is not None else None
        self.request.app.state.access.record(self.scope, "read", target, customers, client=client, detail=detail)


async def auditor(request: Request, scope: ScopeDep) -> Auditor:
    """The request's audit writer."""
    return Auditor(request, scope)


AuditDep = Annotated[Auditor, Depends(auditor)]


RESULTS_AS_OF = "X-Carsight-Results-As-Of"


async def current_snapshot(request: Request, response: Response) -> Snapshot:
    """The snapshot the API serves now (reloaded in the background when the warehouse publishes).

    The answer's ``X-Carsight-Results-As-Of`` header says when its results were published (RFC 3339),
    or ``unpublished`` before the warehouse published anything.
    """
    snapshot = request.app.state.store.current()
    stamp = snapshot.results_as_of
    response.headers[RESULTS_AS_OF] = stamp.isoformat() if stamp is not None else "unpublished"
    return snapshot


async def language(
    request: Request, lang: Annotated[Lang | None, Query(description="ko or en (default: settings.lang)")] = None
) -> str:
    """The answer's language: the ``lang`` query parameter, else ``settings.lang``."""
    return lang or request.app.state.settings.lang


SnapshotDep = Annotated[Snapshot, Depends(current_snapshot)]
LangDep = Annotated[str, Depends(language)]
