"""The scoring API: lookups from the loaded snapshot, new-customer assignment with the real
segmenter, text classification with masking, and the error contract (401/404/413/422/500/503)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from carsight.api import ApiConfigError, create_app

from .conftest import AUTH, TOKEN, LiveServer


def test_customer_lookup_returns_every_score(client):
    body = client.get("/customers/C0003", headers=AUTH, params={"lang": "en"}).json()
    assert body["customer_id"] == "C0003"
    assert body["rfm"]["group"] == "VIP" and body["rfm"]["grade"] == "Very Strong"
    assert {p["target"] for p in body["propensity"]} == {"repurchase", "response"}
    assert body["propensity"][0]["reasons"] == ["recent test drive", "car is 5 years old"]
    assert body["clv"]["expected_value"] == pytest.approx(1.2e7)
    assert [r["model"] for r in body["recommendations"]] == ["Avante", "Tucson", "Palisade"]
    assert isinstance(body["segment"]["segment_id"], int) and body["segment"]["profile"]
    korean = client.get("/customers/C0003", headers=AUTH, params={"lang": "ko"}).json()
    assert korean["propensity"][0]["reasons"][0] == "최근 시승"


def test_customer_not_scored_yet_is_found_but_empty(client):
    body = client.get("/customers/C0110", headers=AUTH).json()
    assert body["rfm"] is None and body["propensity"] == [] and body["recommendations"] == []


def test_unknown_customer_is_404(client):
    response = client.get("/customers/NOPE", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["kind"] == "not_found"
    assert response.headers["x-request-id"] == response.json()["error"]["request_id"]


def test_batch_lookup_reports_missing_ids(client):
    response = client.post("/customers/batch", headers=AUTH, json={"customer_ids": ["C0001", "NOPE", "C0002", "C0001"]})
    body = response.json()
    assert [c["customer_id"] for c in body["customers"]] == ["C0001", "C0002"]
    assert body["missing"] == ["NOPE"]


def test_new_customer_gets_a_segment_with_reasons(client):
    body = client.post(
        "/segments/assign",
        headers=AUTH,
        json={"age": 45, "gender": "F", "region": "서울", "interest_model": "Palisade"},
    ).json()
    assert isinstance(body["segment_id"], int)
    assert body["profile"]
    assert {b["feature"] for b in body["decided_by"]} >= {"age"}
    batch = client.post(
        "/segments/assign/batch", headers=AUTH, json={"customers": [{"age": 45}, {"age": 25, "budget": 2e7}]}
    )
    assert len(batch.json()["results"]) == 2


def test_invalid_fields_are_422_naming_the_field(client):
    response = client.post("/segments/assign", headers=AUTH, json={"age": 7})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "age"
    nested = client.post("/recommendations", headers=AUTH, json={"customer": {"budget": -5}})
    assert nested.json()["error"]["field"] == "customer.budget"
    unknown = client.post("/segments/assign", headers=AUTH, json={"shoe_size": 44})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "shoe_size"
    both = client.post("/recommendations", headers=AUTH, json={"customer_id": "C0001", "customer": {"age": 30}})
    assert both.status_code == 422


def test_unseen_model_name_is_a_clear_422(client):
    response = client.post("/segments/assign", headers=AUTH, json={"age": 30, "payment_type": "barter"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "payment_type"


def test_voc_classify_masks_and_classifies(client):
    response = client.post(
        "/voc/classify",
        headers=AUTH,
        json={"texts": ["엔진 경고등이 켜졌어요 010-1234-5678 로 전화 주세요", "정비 예약 변경 문의"]},
    )
    results = response.json()["results"]
    assert "010-1234-5678" not in results[0]["masked_text"]
    assert results[0]["topic"] == "경고등" and results[1]["topic"] == "예약"
    assert 0 <= results[0]["confidence"] <= 1
    assert "경고등" in results[0]["keywords"]


def test_stored_recommendations_and_missing_model(client):
    body = client.post("/recommendations", headers=AUTH, json={"customer_id": "C0001", "k": 2}).json()
    assert body["source"] == "stored" and [r["model"] for r in body["recommendations"]] == ["Avante", "Tucson"]
    assert client.post("/recommendations", headers=AUTH, json={"customer_id": "NOPE"}).status_code == 404
    # No recommender model was saved in this environment: a clear 503, not a crash.
    response = client.post("/recommendations", headers=AUTH, json={"customer": {"age": 30}})
    assert response.status_code == 503 and "carsight pipeline run" in response.json()["error"]["message"]


def test_forecasts_with_intervals_and_backtest(client):
    listed = client.get("/forecasts", headers=AUTH).json()["series"]
    assert {s["series_id"] for s in listed} == {"Total", "Hyundai/투싼/Korea"}
    # Series ids hold slashes and Hangul: percent-encoded in the URL.
    body = client.get("/forecasts/Hyundai/%ED%88%AC%EC%8B%BC/Korea", headers=AUTH).json()
    assert body["model"] == "AutoETS" and len(body["points"]) == 3
    first = body["points"][0]
    assert first["lo_80"] <= first["mean"] <= first["hi_80"] and first["lo_95"] <= first["lo_80"]
    assert body["backtest"]["mase"] == 1.2 and body["backtest"]["mase_snaive"] == 1.0
    assert body["backtest"]["warning"] == "short history"
    assert client.get("/forecasts/Tucson|Korea", headers=AUTH).status_code == 404


def test_body_over_the_limit_is_413(client):
    big = {"texts": ["가" * 4000] * 10}  # ~120 kB against a 20 kB limit
    response = client.post("/voc/classify", headers=AUTH, json=big)
    assert response.status_code == 413 and response.json()["error"]["kind"] == "too_large"

    def chunks():  # no Content-Length: the limit is enforced on what arrives
        for _ in range(30):
            yield b"x" * 1000

    streamed = client.post("/voc/classify", headers={**AUTH, "Content-Type": "application/json"}, content=chunks())
    assert streamed.status_code == 413


def test_unexpected_errors_hide_details(client, monkeypatch):
    snap = client.app.state.store.snapshot

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail /srv/carsight")

    monkeypatch.setattr(snap, "customer", broken)
    response = client.get("/customers/C0001", headers=AUTH)
    assert response.status_code == 500
    text = response.text
    assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]


def test_refuses_to_start_without_a_token(api_settings):
    no_token = api_settings.model_copy(update={"api_token": None})
    with pytest.raises(ApiConfigError, match="CARSIGHT_API_TOKEN"):
        create_app(no_token)
    with pytest.raises(ApiConfigError, match="too short"):
        create_app(api_settings.model_copy(update={"api_token": SecretStr("short")}))
    app = create_app(no_token, insecure=True)
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        assert c.get("/customers/C0001").status_code == 200


def test_factory_reads_the_environment(monkeypatch, api_env):
    from carsight.config import reset_settings_cache

    path, models = api_env
    monkeypatch.setenv("CARSIGHT_WAREHOUSE", str(path))
    monkeypatch.setenv("CARSIGHT_API_TOKEN", TOKEN)
    reset_settings_cache()
    assert create_app().state.token == TOKEN.encode()


@pytest.mark.slow
def test_real_http_on_loopback(api_settings):
    app = create_app(api_settings)
    with LiveServer(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        health = http.get("/health").json()
        assert health["status"] == "ok" and health["customers"] == 120
        assert http.get("/customers/C0002").status_code == 401
        body = http.get("/customers/C0002", headers=AUTH).json()
        assert body["rfm"]["group"] == "VIP"
        assert http.post("/voc/classify", headers=AUTH, content=b"{" + b" " * 30_000 + b"}").status_code == 413


def test_reload_picks_up_a_new_pipeline_run(api_settings, tmp_path):
    import shutil
    import time

    from carsight.api.store import Store
    from carsight.warehouse import connect

    copy = tmp_path / "copy.duckdb"
    shutil.copy(api_settings.warehouse, copy)
    store = Store(api_settings.model_copy(update={"warehouse": str(copy)}), check_every=0)
    store.load()
    assert "C9999" not in store.snapshot.customer_ids
    with connect(str(copy)) as wh:
        wh.con.con.execute("INSERT INTO customers (customer_id) VALUES ('C9999')")
    store.current()  # notices the change and reloads in the background
    deadline = time.monotonic() + 20
    while "C9999" not in store.snapshot.customer_ids and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "C9999" in store.snapshot.customer_ids


def test_answers_say_when_their_results_were_published(client, api_settings):
    import datetime as dt

    from carsight.api.deps import RESULTS_AS_OF
    from carsight.warehouse.sharing import latest_publication

    published = latest_publication(api_settings.warehouse)
    for answer in (client.get("/health"), client.get("/customers/C0001", headers=AUTH)):
        assert answer.status_code == 200
        assert dt.datetime.fromisoformat(answer.headers[RESULTS_AS_OF]) == published.time


def test_a_warehouse_that_published_nothing_is_read_and_says_so(api_settings, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from carsight.api import create_app
    from carsight.api.deps import RESULTS_AS_OF

    copy = tmp_path / "unpublished.duckdb"
    shutil.copy(api_settings.warehouse, copy)  # the file alone, without its snapshots
    settings = api_settings.model_copy(update={"warehouse": str(copy)})
    with TestClient(create_app(settings)) as c:
        answer = c.get("/customers/C0001", headers=AUTH)
        assert answer.status_code == 200 and answer.json()["rfm"] is not None
        assert answer.headers[RESULTS_AS_OF] == "unpublished"
