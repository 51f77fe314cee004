"""``/insights/triggers`` and ``/insights/drivers``: the stored rules and segments as the pipeline wrote
them, filtered as asked, and a 404 that says to run the pipeline when there are none."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from carsight.api import create_app
from carsight.warehouse.results_insights import DRIVER_SEGMENTS, TRIGGER_RULES

from .conftest import AUTH


def _rules() -> pd.DataFrame:
    rows = [
        ("leads_90d>=3 & vehicle_age_days>1825", 266, 162, True),
        ("leads_90d>=3 & vehicle_age_days>1095", 440, 255, False),
        ("days_since_lead<=30", 4200, 700, True),
    ]
    n, rate = 46_144, 0.0631
    return pd.DataFrame(
        [
            {
                "target": "repurchase", "rank": i + 1, "conditions": c, "n_conditions": c.count("&") + 1,
                "coverage": cust / n, "support": resp / n, "confidence": resp / cust, "lift": resp / cust / rate,
                "customers": cust, "responders": resp, "profit_efficiency": (1.5e6 * resp - 2e4 * cust) / (2e4 * cust),
                "representative": rep, "union_customers": cust if rep else None, "union_responders": resp if rep else None,
                "reference_date": pd.Timestamp("2025-07-01").date(), "horizon_days": 180, "base_rate": rate,
                "population": n, "margin": 1.5e6, "contact_cost": 2e4,
            }
            for i, (c, cust, resp, rep) in enumerate(rows)
        ]
    )  # fmt: skip


def _segments() -> pd.DataFrame:
    common = {
        "analysis": "sales", "comparison": "year", "base_start": pd.Timestamp("2024-01-01").date(),
        "base_end": pd.Timestamp("2024-12-01").date(), "current_start": pd.Timestamp("2025-01-01").date(),
        "current_end": pd.Timestamp("2025-12-01").date(), "base_total": 1000.0, "current_total": 900.0,
        "volume": None, "mix": None, "rate": None, "region": None, "customer_segment": None, "channel": None,
    }  # fmt: skip
    return pd.DataFrame(
        [
            {**common, "rank": 1, "segment": "model=Tucson & market=USA", "model": "Tucson", "market": "USA",
             "kind": None, "base": 300.0, "current": 220.0, "change": -80.0, "share_of_change": 0.8},
            {**common, "rank": 2, "segment": "kind=export", "model": None, "market": None, "kind": "export",
             "base": 200.0, "current": 185.0, "change": -15.0, "share_of_change": 0.15},
        ]
    )  # fmt: skip


@pytest.fixture
def insights_client(api_settings, tmp_path):
    from carsight.warehouse import connect

    copy = tmp_path / "insights.duckdb"
    shutil.copy(api_settings.warehouse, copy)
    with connect(str(copy)) as wh:
        wh.replace(TRIGGER_RULES, _rules())
        wh.replace(DRIVER_SEGMENTS, _segments())
    with TestClient(create_app(api_settings.model_copy(update={"warehouse": str(copy)}))) as client:
        yield client


def test_trigger_rules_as_stored_and_filtered(insights_client):
    body = insights_client.get("/insights/triggers", headers=AUTH).json()
    assert body["target"] == "repurchase" and body["reference_date"] == "2025-07-01"
    assert [r["rank"] for r in body["rules"]] == [1, 2, 3]
    first = body["rules"][0]
    assert (first["customers"], first["responders"], first["confidence"]) == (266, 162, 162 / 266)
    only = insights_client.get("/insights/triggers?representative=true&limit=1", headers=AUTH).json()
    assert [r["conditions"] for r in only["rules"]] == ["leads_90d>=3 & vehicle_age_days>1825"]
    assert insights_client.get("/insights/triggers?limit=0", headers=AUTH).status_code == 422


def test_driver_segments_with_the_rest_of_the_change(insights_client):
    body = insights_client.get("/insights/drivers?analysis=sales&comparison=year", headers=AUTH).json()
    assert body["base_total"] == 1000.0 and body["current_total"] == 900.0
    assert body["other_change"] == pytest.approx(-5.0)
    top = body["segments"][0]
    assert top["dimensions"] == {"model": "Tucson", "market": "USA"} and top["share_of_change"] == 0.8
    missing = insights_client.get("/insights/drivers?analysis=purchases", headers=AUTH)
    assert missing.status_code == 404 and "pipeline" in missing.json()["error"]["message"]


def test_no_insights_yet_is_a_404_that_says_what_to_do(client):
    response = client.get("/insights/triggers", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["kind"] == "not_found"
    assert "carsight pipeline run" in response.json()["error"]["message"]
