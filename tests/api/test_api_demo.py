"""The API over the demo warehouse after the whole pipeline: every part of a customer's scores is
there, and new customers get a segment and recommendations from the real models."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from carsight.api import create_app
from carsight.config import Settings

from .conftest import AUTH, TOKEN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_client(pipeline_wh_path):
    settings = Settings(warehouse=str(pipeline_wh_path), model_dir=pipeline_wh_path.parent / "models", api_token=TOKEN)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_health_reports_everything_loaded(demo_client):
    health = demo_client.get("/health").json()
    assert health["status"] == "ok" and health["customers"] >= 1000
    missing = [k for k, v in health["available"].items() if not v]
    assert missing == [], f"not loaded: {missing}"


def test_a_scored_customer_has_every_part(demo_client):
    snap = demo_client.app.state.store.snapshot
    customer_id = next(c for c in sorted(snap.rfm) if c in snap.propensity and c in snap.recommendations)
    body = demo_client.get(f"/customers/{customer_id}", headers=AUTH, params={"lang": "ko"}).json()
    assert body["rfm"]["grade"] and body["segment"]["profile"]
    assert body["propensity"] and all(0 <= p["score"] <= 1 and p["reasons"] for p in body["propensity"])
    assert body["recommendations"][0]["rank"] == 1


def test_new_customer_segment_and_recommendations(demo_client):
    profile = {"age": 38, "gender": "F", "region": "서울", "budget": 45_000_000}
    assigned = demo_client.post("/segments/assign", headers=AUTH, json=profile)
    assert assigned.status_code == 200, assigned.text
    reco = demo_client.post("/recommendations", headers=AUTH, json={"customer": profile, "k": 3})
    assert reco.status_code == 200, reco.text
    body = reco.json()
    assert body["source"] == "model" and len(body["recommendations"]) == 3
    assert len({r["model"] for r in body["recommendations"]}) == 3


def test_voc_and_forecasts_from_the_pipeline(demo_client):
    texts = ["엔진 경고등이 켜졌는데 점검 예약 가능할까요? 010-2222-3333", "차량 인도 일정이 궁금합니다"]
    results = demo_client.post("/voc/classify", headers=AUTH, json={"texts": texts}).json()["results"]
    assert "010-2222-3333" not in results[0]["masked_text"] and results[0]["topic"]
    series = demo_client.get("/forecasts", headers=AUTH).json()["series"]
    assert series
    one = demo_client.get(f"/forecasts/{series[0]['series_id']}", headers=AUTH).json()
    assert one["points"] and "mase" in one["backtest"]
