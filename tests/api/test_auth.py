"""Every route but /health needs the bearer token: missing → 401, wrong → 401, right → served.
The route list comes from the app itself, so a new route without the dependency fails here."""

from __future__ import annotations

import pytest

from carsight.api import create_app

from .conftest import AUTH, TOKEN

OPEN = {"/health"}
BODIES = {
    "/customers/batch": {"customer_ids": ["C0001"]},
    "/segments/assign": {"age": 40},
    "/segments/assign/batch": {"customers": [{"age": 40}]},
    "/recommendations": {"customer_id": "C0001"},
    "/voc/classify": {"texts": ["경고등이 켜졌어요"]},
}
PATHS = {
    "/customers/{customer_id}": "/customers/C0001",
    "/forecasts/{series_id}": "/forecasts/Total",
    "/forecasts": "/forecasts",
    "/insights/triggers": "/insights/triggers",
    "/insights/drivers": "/insights/drivers",
    "/alerts": "/alerts",
}


def _routes() -> list[tuple[str, str]]:
    from carsight.config import Settings

    paths = create_app(Settings(api_token=TOKEN)).openapi()["paths"]
    return sorted((method.upper(), path) for path, methods in paths.items() for method in methods)


ROUTES = _routes()


def test_every_route_is_covered():
    covered = OPEN | set(BODIES) | set(PATHS)
    assert {path for _, path in ROUTES} <= covered, "add the new route to this test"


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r[1] not in OPEN])
def test_token_is_required(client, method, path):
    url = PATHS.get(path, path)
    body = BODIES.get(path)
    missing = client.request(method, url, json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = client.request(method, url, json=body, headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
    assert wrong.status_code == 401
    basic = client.request(method, url, json=body, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code in (401, 403)
    right = client.request(method, url, json=body, headers=AUTH)
    assert right.status_code in (200, 404), right.text


def test_health_is_open(client):
    assert client.get("/health").status_code == 200
    assert client.get("/docs").status_code == 200
