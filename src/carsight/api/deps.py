"""Typed dependencies.

The bearer-token check and the current data snapshot, so each route says what it needs in its
signature.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carsight.api.models import Lang
from carsight.api.store import Snapshot

_bearer = HTTPBearer(auto_error=False, description="The token from CARSIGHT_API_TOKEN (settings.api_token)")


# The dependencies are ``async`` on purpose: sync ones run in a thread pool, which costs more than
# the work they do.
async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Refuse a request without the configured bearer token (401), unless started with ``--insecure``."""
    expected: bytes | None = request.app.state.token
    if expected is None:  # started with --insecure for local use
        return
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    # compare_digest takes the same time whatever the mismatch, so the token cannot be guessed byte by byte.
    if not hmac.compare_digest(credentials.credentials.encode("utf-8"), expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


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


Authenticated = Depends(require_token)
SnapshotDep = Annotated[Snapshot, Depends(current_snapshot)]
LangDep = Annotated[str, Depends(language)]
