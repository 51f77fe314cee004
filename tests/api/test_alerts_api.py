"""``/alerts``: the monitoring alerts as ``carsight monitor run`` stored them, in the asked language,
filtered by status, behind the token."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from carsight.api import create_app
from carsight.config import MonitorSettings
from carsight.monitor import run_monitor
from carsight.warehouse.results_monitor import MONITOR_ALERTS

from .conftest import AUTH


@pytest.fixture
def alerts_client(api_settings, tmp_path):
    """The API warehouse after a monitoring run 60 days after its newest purchase: the purchases
    feed is stale, an open alert."""
    from carsight.warehouse import connect

    copy = tmp_path / "alerts.duckdb"
    shutil.copy(api_settings.warehouse, copy)
    settings = api_settings.model_copy(update={"warehouse": str(copy), "monitor": MonitorSettings()})
    with connect(str(copy)) as wh:
        newest = wh.table("purchases").purchase_date.max().to_pyarrow().as_py()
        run_monitor(wh, settings, as_of=newest + dt.timedelta(days=60), mail=False)
    with TestClient(create_app(settings)) as client:
        yield client, copy


def test_open_alerts_in_the_asked_language(alerts_client):
    client, path = alerts_client
    from carsight.warehouse import connect

    with connect(str(path), read_only=True) as wh:
        stored = wh.table(MONITOR_ALERTS.name).to_pandas()
    body = client.get("/alerts", headers=AUTH).json()
    assert {a["alert_id"] for a in body["alerts"]} == set(stored.loc[stored.status == "open", "alert_id"])
    stale = next(a for a in body["alerts"] if a["check"] == "data.freshness" and a["subject"] == "purchases")
    assert stale["severity"] in ("warning", "critical") and stale["value"] == 60.0 and stale["threshold"] >= 7
    row = stored.set_index("alert_id").loc[stale["alert_id"]]
    assert stale["message"] == row["message_ko"]  # the API's default language
    english = client.get("/alerts?lang=en", headers=AUTH).json()["alerts"]
    assert next(a for a in english if a["alert_id"] == stale["alert_id"])["message"] == row["message_en"]
    assert pd.Timestamp(stale["opened_at"]) == pd.Timestamp(row["opened_at"])


def test_status_filter_and_token(alerts_client):
    client, _ = alerts_client
    assert client.get("/alerts").status_code == 401
    assert client.get("/alerts?status=closed", headers=AUTH).json() == {"alerts": []}
    every = client.get("/alerts?status=all", headers=AUTH).json()["alerts"]
    assert len(every) == len(client.get("/alerts", headers=AUTH).json()["alerts"])
    assert client.get("/alerts?status=maybe", headers=AUTH).status_code == 422


def test_no_monitoring_yet_is_an_empty_list(client):
    assert client.get("/alerts", headers=AUTH).json() == {"alerts": []}
