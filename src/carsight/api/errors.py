"""No stack trace ever reaches a client.

Carsight's error kinds map to 4xx/503 with one readable message, anything else to a generic 500 that
carries a request id to find the traceback in the server log. Also the request-size limit (413),
applied before a body is read into memory.
"""

from __future__ import annotations

import logging
import re
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from carsight.errors import (
    AccessDenied,
    CarsightError,
    DataTooThinError,
    InputError,
    ModelError,
    NotFoundError,
    WarehouseError,
)

log = logging.getLogger("carsight.api")

_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_input",
}
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id(request: Request) -> str | None:
    """The id of this request (``X-Request-ID``), echoed in every error body."""
    return request.scope.get("state", {}).get("request_id")


def _body(
    request: Request, status: int, kind: str, message: str, field: str | None = None, headers=None
) -> JSONResponse:
    rid = request_id(request)
    # The 500 handler runs outside RequestGuard (Starlette's ServerErrorMiddleware), so set the id here too.
    headers = {**(headers or {}), **({"X-Request-ID": rid} if rid else {})}
    return JSONResponse(
        {"error": {"kind": kind, "message": message, "field": field, "request_id": rid}},
        status_code=status,
        headers=headers,
    )


def install(app: FastAPI) -> None:
    """Turn every failure into one JSON error body with the right status code."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _body(
            request, exc.status_code, _KINDS.get(exc.status_code, "error"), str(exc.detail), headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        fields = []
        for e in errors:
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
            fields.append({"field": ".".join(loc) or None, "message": e.get("msg", "invalid")})
        first = fields[0] if fields else {"field": None, "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        # The submitted values are not echoed back: they may be personal data.
        response = _body(request, 422, "invalid_input", message, first["field"])
        response.body = response.render(
            {
                "error": {
                    "kind": "invalid_input",
                    "message": message,
                    "field": first["field"],
                    "request_id": request_id(request),
                    "fields": fields,
                }
            }
        )
        response.headers["content-length"] = str(len(response.body))
        return response

    @app.exception_handler(CarsightError)
    async def carsight_error(request: Request, exc: CarsightError):
        if isinstance(exc, InputError):
            return _body(request, 422, "invalid_input", str(exc), exc.column)
        if isinstance(exc, NotFoundError):
            return _body(request, 404, "not_found", str(exc))
        if isinstance(exc, AccessDenied):
            return _body(request, 403, "forbidden", str(exc))
        if isinstance(exc, DataTooThinError):
            return _body(request, 422, "data_too_thin", str(exc))
        if isinstance(exc, (ModelError, WarehouseError)):
            return _body(request, 503, "unavailable", str(exc))
        return _body(request, 400, "error", str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.error("carsight api: request %s failed", request_id(request), exc_info=exc)
        return _body(request, 500, "internal", "internal error; quote the request id to the administrator")


class _TooLarge(StarletteHTTPException):
    """Raised from ``receive``.

    FastAPI re-raises HTTPExceptions from body parsing, so this becomes a 413 through the handler
    above instead of a generic "error parsing the body".
    """

    def __init__(self, limit: int):
        super().__init__(413, f"request body over {limit} bytes")


class RequestGuard:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request).

    Gives each request an id (echoed as ``X-Request-ID``) and refuses bodies over ``max_body`` bytes
    with 413, by the declared Content-Length and by counting what actually arrives (chunked
    uploads).
    """

    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        """Give the request its id and refuse a body over the limit."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope.get("headers") or ())
        given = incoming.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        declared = incoming.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body
            except ValueError:
                return await self._reply(send_with_id, rid, 400, "bad_request", "invalid Content-Length header")
            if too_big:
                return await self._reply(
                    send_with_id, rid, 413, "too_large", f"request body over {self.max_body} bytes"
                )

        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge(self.max_body)
            return message

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _TooLarge:
            if not started:
                await self._reply(send_with_id, rid, 413, "too_large", f"request body over {self.max_body} bytes")

    @staticmethod
    async def _reply(send, rid: str, status: int, kind: str, message: str) -> None:
        import json

        body = json.dumps({"error": {"kind": kind, "message": message, "field": None, "request_id": rid}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
