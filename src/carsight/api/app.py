"""The scoring API (FastAPI).

``create_app`` is the factory uvicorn runs (``uvicorn.run("carsight.api.app:create_app",
factory=True)``): it refuses to start with no way to sign in (no users, no bootstrap token) unless
explicitly insecure, loads the result tables and models once at startup (lifespan), and serves them
from memory.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from carsight import __version__
from carsight.config import Settings, get_settings
from carsight.errors import CarsightError

MIN_TOKEN_CHARS = 16

DESCRIPTION = """Scores for the dealer's desk and for other systems: a customer's segment, RFM grade,
propensity with reasons, lifetime value and recommended models; the segment of a new customer;
topic and keywords of customer texts; backtested forecasts; repurchase trigger rules and the segments
that drove a change in sales or purchases.

Every route except `/health` needs `Authorization: Bearer <token>`: a user's API token (`carsight user
add NAME --role admin|hq|dealer|agent`), or `CARSIGHT_API_TOKEN`, the bootstrap administrator's.
What a token may read follows its user's role:

| route | roles |
| --- | --- |
| `GET /customers/{id}`, `POST /recommendations`, `/segments/*`, `/voc/classify` | every role |
| `POST /customers/batch`, `/forecasts` | admin, hq, dealer |
| `/insights/*`, `/alerts` | admin, hq |

A dealer user's token sees only its dealers' customers: any other customer answers 404, like one that
does not exist, and is listed under `missing` in a batch. Other roles answer 403. Every customer read
is written to the audit log (`carsight audit`).

Errors are `{"error": {"kind", "message", "field", "request_id"}}`."""


class ApiConfigError(CarsightError):
    """The API cannot start with this configuration."""


def create_app(settings: Settings | None = None, *, insecure: bool | None = None) -> FastAPI:
    """Build the API.

    Callers sign in with a user's API token (the access store, ``settings.access_store_path``) or the
    bootstrap token ``settings.api_token``. ``insecure=True`` (or ``settings.api_insecure``) lets
    requests without a token in as the local user, for local use on loopback only; otherwise start-up
    stops when there are neither users nor a token, or the token is short.
    """
    from carsight.access.users import AccessStore
    from carsight.api import errors
    from carsight.api.routes import alerts, customers, forecasts, health, insights, recommendations, segments, voc
    from carsight.api.store import Store

    settings = settings or get_settings()
    if insecure is None:
        insecure = settings.api_insecure
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    access = AccessStore.from_settings(settings)
    if not token and not insecure and not access.has_users():
        raise ApiConfigError(
            "no users and no API token: create one with `carsight user add NAME --role admin`, or set "
            "CARSIGHT_API_TOKEN (at least 16 characters), or start with --insecure for local use on 127.0.0.1 only"
        )
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ApiConfigError(f"the API token is too short: use at least {MIN_TOKEN_CHARS} random characters")

    store = Store(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import anyio

        await anyio.to_thread.run_sync(store.load)
        yield

    app = FastAPI(title="carsight scoring API", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.token = token.encode("utf-8") if token else None
    app.state.insecure = insecure
    app.state.access = access
    errors.install(app)
    for module in (health, customers, segments, recommendations, voc, forecasts, insights, alerts):
        app.include_router(module.router)
    app.add_middleware(errors.RequestGuard, max_body=settings.api_max_body_bytes)
    app.openapi = lambda: openapi_with_line_up(app)
    return app


def openapi_with_line_up(app: FastAPI) -> dict:
    """The OpenAPI document, with the models the loaded segmenter knows as ``interest_model``'s enum.

    A new customer's ``interest_model`` must be a model of the line-up (any other is a 422), and the
    line-up comes from the data, so the document says which names are accepted as of now.

    Parameters
    ----------
    app : FastAPI
        The API built by :func:`create_app`.

    Returns
    -------
    dict
        The document (a fresh copy; FastAPI's cached one is left as generated).
    """
    import copy

    from fastapi.openapi.utils import get_openapi

    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
    document = copy.deepcopy(app.openapi_schema)
    segmenter = app.state.store.snapshot.segmenter
    line_up = sorted(getattr(segmenter, "vehicle_lookup_", None) or ())
    if line_up:
        field = document["components"]["schemas"]["NewCustomer"]["properties"]["interest_model"]
        for option in field.get("anyOf", [field]):
            if option.get("type") == "string":
                option["enum"] = line_up
    return document
