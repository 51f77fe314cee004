"""Per-user tokens in the API: dealer scope (404 outside it), roles per route (403), tokens refused at
once when rotated or disabled, the bootstrap token beside users, audit rows for customer reads, and
a property-based check that no answer ever holds a customer outside the caller's dealers."""

from __future__ import annotations

import shutil

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carsight.access.users import AccessStore
from carsight.api import ApiConfigError, create_app
from carsight.warehouse import connect

from .conftest import AUTH, N_CUSTOMERS

DEALERS = ("D01", "D02", "D03")


def dealer_of(index: int) -> str | None:
    """Customer i's dealer: D01, D02, D03 in turn, every fourth customer none."""
    return None if index % 4 == 3 else DEALERS[index % 3]


IDS = [f"C{i:04d}" for i in range(N_CUSTOMERS)]
OWNER = {c: dealer_of(i) for i, c in enumerate(IDS)}


@pytest.fixture(scope="module")
def dealer_warehouse(api_env, tmp_path_factory):
    """The API fixture's warehouse with a dealer_code on every customer (added here if the schema has none)."""
    path, models = api_env
    root = tmp_path_factory.mktemp("dealer-api")
    copy = root / "dealers.duckdb"
    shutil.copy(path, copy)
    with connect(str(copy)) as wh:
        con = wh.con.con
        con.execute("ALTER TABLE customers ADD COLUMN IF NOT EXISTS dealer_code VARCHAR")
        for dealer in (*DEALERS, None):
            ids = [c for c, d in OWNER.items() if d == dealer]
            con.execute(
                "UPDATE customers SET dealer_code = ? WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))",
                [dealer, ids],
            )
    return copy, models


@pytest.fixture
def access_settings(api_settings, dealer_warehouse, tmp_path):
    path, _models = dealer_warehouse
    return api_settings.model_copy(update={"warehouse": str(path), "access_store": tmp_path / "access.sqlite"})


@pytest.fixture
def store(access_settings):
    # The cheapest Argon2 parameters keep user creation fast; tokens do not involve Argon2.
    return AccessStore(access_settings.access_store_path, hasher=PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture
def client(access_settings):
    with TestClient(create_app(access_settings), raise_server_exceptions=False) as c:
        yield c


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_dealer_sees_its_customers_and_nothing_else(client, store):
    kim = bearer(store.add("kim", "dealer", ["D01"]).token)
    assert client.get("/customers/C0000", headers=kim).status_code == 200  # D01
    other = client.get("/customers/C0001", headers=kim)  # D02
    unknown = client.get("/customers/NOPE", headers=kim)
    assert other.status_code == unknown.status_code == 404
    # The same answer as for an id that does not exist: existence is not revealed.
    assert other.json()["error"]["message"] == unknown.json()["error"]["message"].replace("NOPE", "C0001")
    assert client.get("/customers/C0003", headers=kim).status_code == 404  # no dealer: admin and hq only
    batch = client.post("/customers/batch", headers=kim, json={"customer_ids": ["C0000", "C0001", "C0003", "C0006"]})
    assert [c["customer_id"] for c in batch.json()["customers"]] == ["C0000", "C0006"]
    assert batch.json()["missing"] == ["C0001", "C0003"]
    assert client.post("/recommendations", headers=kim, json={"customer_id": "C0001"}).status_code == 404
    assert client.post("/recommendations", headers=kim, json={"customer_id": "C0000"}).status_code == 200


def test_other_roles_see_every_dealer(client, store):
    for role in ("admin", "hq", "agent"):
        token = bearer(store.add(f"user-{role}", role).token)
        for customer in ("C0000", "C0001", "C0003"):
            assert client.get(f"/customers/{customer}", headers=token).status_code == 200


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "allowed"),
    [
        ("agent", "POST", "/customers/batch", {"customer_ids": ["C0000"]}, False),
        ("agent", "GET", "/forecasts", None, False),
        ("agent", "GET", "/alerts", None, False),
        ("agent", "POST", "/segments/assign", {"age": 40}, True),
        ("agent", "POST", "/voc/classify", {"texts": ["경고등이 켜졌어요"]}, True),
        ("dealer", "GET", "/insights/triggers", None, False),
        ("dealer", "GET", "/alerts", None, False),
        ("dealer", "GET", "/forecasts/Total", None, True),
        ("hq", "GET", "/alerts", None, True),
        ("hq", "GET", "/insights/drivers", None, True),
    ],
)
def test_routes_admit_the_roles_they_declare(client, store, role, method, path, body, allowed):
    token = bearer(store.add("u", role, ["D01"] if role == "dealer" else []).token)
    response = client.request(method, path, json=body, headers=token)
    if allowed:
        assert response.status_code in (200, 404), response.text  # 404: nothing stored for it in this fixture
    else:
        assert response.status_code == 403
        assert response.json()["error"]["kind"] == "forbidden"


def test_rotated_and_disabled_tokens_are_refused_at_once(client, store):
    old = store.add("kim", "dealer", ["D01"]).token
    assert client.get("/customers/C0000", headers=bearer(old)).status_code == 200
    new = store.rotate("kim").token
    assert client.get("/customers/C0000", headers=bearer(old)).status_code == 401
    assert client.get("/customers/C0000", headers=bearer(new)).status_code == 200
    store.disable("kim")
    refused = client.get("/customers/C0000", headers=bearer(new))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_the_bootstrap_token_works_beside_users_and_users_alone_start_the_api(client, store, access_settings):
    lee = store.add("lee", "hq").token
    assert client.get("/customers/C0001", headers=AUTH).status_code == 200
    assert client.get("/customers/C0001", headers=bearer(lee)).status_code == 200
    no_token = access_settings.model_copy(update={"api_token": None})
    with TestClient(create_app(no_token)) as users_only:
        assert users_only.get("/customers/C0001", headers=bearer(lee)).status_code == 200
        assert users_only.get("/customers/C0001", headers=AUTH).status_code == 401
        assert users_only.get("/customers/C0001").status_code == 401
    empty = no_token.model_copy(update={"access_store": access_settings.access_store_path.with_name("none.sqlite")})
    with pytest.raises(ApiConfigError, match="carsight user add"):
        create_app(empty)


def test_customer_reads_are_audited(client, store):
    store.add("kim", "dealer", ["D01"])
    kim = bearer(store.rotate("kim").token)
    client.get("/customers/C0000", headers=kim)
    client.get("/customers/C0001", headers=kim)
    client.post("/customers/batch", headers=kim, json={"customer_ids": ["C0000", "C0006", "C0001"]})
    client.post("/recommendations", headers=kim, json={"customer_id": "C0006"})
    client.get("/customers/C0002", headers=AUTH)
    reads = [e for e in store.audit_entries() if e.action == "read"]
    assert [(e.user, e.role, e.target, e.customers, e.detail) for e in reads] == [
        ("kim", "dealer", "GET /customers/{customer_id}", ("C0000",), None),
        ("kim", "dealer", "GET /customers/{customer_id}", (), "not found: C0001"),
        ("kim", "dealer", "POST /customers/batch", ("C0000", "C0006"), "1 not found"),
        ("kim", "dealer", "POST /recommendations", ("C0006",), None),
        ("bootstrap", "admin", "GET /customers/{customer_id}", ("C0002",), None),
    ]
    assert {e.client for e in reads} == {"testclient"}


def _strings(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*map(_strings, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(_strings, value)) if value else set()
    return {value} if isinstance(value, str) else set()


def test_answers_hold_no_personal_data(client, store):
    """The API serves scores, never names, phones or e-mails: nothing to unmask for any role."""
    personal = {f"고객{i}" for i in range(N_CUSTOMERS)} | {f"c{i}@mail.example" for i in range(N_CUSTOMERS)}
    for role in ("hq", "agent"):
        token = bearer(store.add(f"u-{role}", role).token)
        for i in range(0, 50, 7):
            answer = client.get(f"/customers/{IDS[i]}", headers=token)
            assert answer.status_code == 200
            assert not _strings(answer.json()) & personal
    batch = client.post("/customers/batch", headers=bearer(store.rotate("u-hq").token), json={"customer_ids": IDS})
    assert len(batch.json()["customers"]) == N_CUSTOMERS
    assert not _strings(batch.json()) & personal


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    dealers=st.sets(st.sampled_from(DEALERS), min_size=1),
    asked=st.lists(st.sampled_from([*IDS[:40], "NOPE"]), min_size=1, max_size=20),
)
def test_no_answer_holds_a_customer_outside_the_dealers(client, store, dealers, asked):
    name = f"dealer-{len(store.users())}"
    token = bearer(store.add(name, "dealer", sorted(dealers)).token)
    allowed = {c for c, d in OWNER.items() if d in dealers}
    batch = client.post("/customers/batch", headers=token, json={"customer_ids": asked}).json()
    assert {c["customer_id"] for c in batch["customers"]} == set(asked) & allowed
    assert set(batch["missing"]) == set(asked) - allowed
    for customer in set(asked):
        one = client.get(f"/customers/{customer}", headers=token)
        assert one.status_code == (200 if customer in allowed else 404)
        recommended = client.post("/recommendations", headers=token, json={"customer_id": customer})
        assert recommended.status_code == (200 if customer in allowed else 404)
        if customer in allowed:
            assert one.json()["customer_id"] == customer


def test_the_openapi_document_lists_every_status_a_route_can_answer():
    from carsight.config import Settings

    document = create_app(Settings(api_token="t" * 32)).openapi()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            if path == "/health":
                assert "401" not in codes
                continue
            assert {"200", "401", "403"} <= codes, (method, path)
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
    body = document["components"]["schemas"]["RecommendationRequest"]
    assert body["oneOf"] == [{"required": ["customer_id"]}, {"required": ["customer"]}]
    age = document["components"]["schemas"]["NewCustomer"]["properties"]["age"]["anyOf"][0]
    assert (age["minimum"], age["maximum"]) == (16, 100)
    batch = document["components"]["schemas"]["CustomerBatchRequest"]["properties"]["customer_ids"]
    assert batch["minItems"] == 1


def test_the_document_names_the_line_up_the_segmenter_accepts(client):
    class Segmenter:
        vehicle_lookup_ = {"Tucson": {}, "Avante": {}}

    client.app.state.store.snapshot.segmenter = Segmenter()
    field = client.get("/openapi.json").json()["components"]["schemas"]["NewCustomer"]["properties"]["interest_model"]
    assert field["anyOf"][0]["enum"] == ["Avante", "Tucson"]
