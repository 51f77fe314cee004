"""The scoring API (FastAPI).

``create_app`` is the factory uvicorn runs (``uvicorn.run("carsight.api.app:create_app",
factory=True)``): it refuses to start without an API token unless explicitly insecure, loads the
result tables and models once at startup (lifespan), and serves them from memory.
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

Every route except `/health` needs `Authorization: Bearer <token>` (the token is
`CARSIGHT_API_TOKEN`). Errors are `{"error": {"kind", "message", "field", "request_id"}}`."""


class ApiConfigError(CarsightError):
    """The API cannot start with this configuration."""


def create_app(settings: Settings | None = None, *, insecure: bool | None = None) -> FastAPI:
    """Build the API.

    ``insecure=True`` (or ``settings.api_insecure``) allows running without a token, for local use
    on loopback only; otherwise a missing or short token stops start-up.
    """
    from carsight.api import errors
    from carsight.api.routes import alerts, customers, forecasts, health, insights, recommendations, segments, voc
    from carsight.api.store import Store

    settings = settings or get_settings()
    if insecure is None:
        insecure = settings.api_insecure
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if not token and not insecure:
        raise ApiConfigError(
            "no API token configured: set CARSIGHT_API_TOKEN (at least 16 characters), "
            "or start with --insecure for local use on 127.0.0.1 only"
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
    errors.install(app)
    for module in (health, customers, segments, recommendations, voc, forecasts, insights, alerts):
        app.include_router(module.router)
    app.add_middleware(errors.RequestGuard, max_body=settings.api_max_body_bytes)
    return app
