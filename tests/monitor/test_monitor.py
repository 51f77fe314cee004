"""Monitoring: alerts deduplicated (one open per cause) and closed when the cause clears, thresholds
from configuration, the drift and decay checks on known answers, e-mail through a real SMTP server on
loopback, and the demo with its planted drift and decay."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil

import numpy as np
import pandas as pd
import pytest

from carsight.config import MonitorSettings, Settings, SmtpSettings
from carsight.monitor import read_alerts, run_monitor
from carsight.warehouse.results_monitor import MONITOR_ALERTS, MONITOR_CHECKS, MONITOR_SCORES

DAY = dt.date


def _settings(tmp_path, **monitor) -> Settings:
    return Settings(
        warehouse=str(tmp_path / "wh.duckdb"), model_dir=tmp_path / "models", monitor=MonitorSettings(**monitor)
    )


def _causes(run, status="alert") -> set[str]:
    return {f.cause for f in run.findings if f.status == status}


def test_a_stale_table_is_one_alert_until_fresh_rows_close_it(tmp_warehouse, tmp_path, make_purchases):
    settings = _settings(tmp_path)
    tmp_warehouse.upsert("purchases", make_purchases(DAY(2025, 1, 1), 90))
    first = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30), mail=False)
    assert "data.freshness:purchases" in _causes(first)
    stale = next(f for f in first.findings if f.cause == "data.freshness:purchases")
    # A daily feed: its usual gap is a day, so the threshold is the minimum of 7 days; 30 days is over 3× that.
    assert stale.threshold == 7 and stale.value == 30 and stale.severity == "critical"
    assert "purchases" in stale.message("ko") and "stale" in stale.message("en")
    again = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30), mail=False)
    assert len(again.alerts.opened) == 0 and len(again.alerts.still_open) == len(first.alerts.opened)
    assert len(read_alerts(tmp_warehouse)) == len(first.alerts.opened)  # still one row per cause
    tmp_warehouse.upsert("purchases", make_purchases(DAY(2025, 4, 1), 29, seed=1))
    fresh = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30), mail=False)
    assert "data.freshness:purchases" in [a["cause"] for a in fresh.alerts.closed]
    closed = read_alerts(tmp_warehouse, status="closed")
    closed = closed[closed["cause"] == "data.freshness:purchases"]
    assert len(closed) == 1 and closed["closed_at"].notna().all()
    # The same cause coming back later is a new alert.
    late = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 6, 30), mail=False)
    assert "data.freshness:purchases" in [a["cause"] for a in late.alerts.opened]
    reopened = next(a for a in late.alerts.opened if a["cause"] == "data.freshness:purchases")
    assert reopened["alert_id"] != closed["alert_id"].iloc[0]
    runs = tmp_warehouse.table(MONITOR_CHECKS.name).to_pandas()
    assert runs["run_id"].nunique() == 4


def test_thresholds_come_from_carsight_toml(tmp_warehouse, tmp_path, monkeypatch, make_purchases):
    from carsight.config import get_settings, reset_settings_cache

    config = tmp_path / "carsight.toml"
    config.write_text('[monitor]\nfreshness_max_days = { purchases = 45 }\nrecipients = ["ops@dealer.example"]\n')
    monkeypatch.setenv("CARSIGHT_CONFIG", str(config))
    reset_settings_cache()
    settings = get_settings()
    assert settings.monitor.freshness_max_days == {"purchases": 45}
    tmp_warehouse.upsert("purchases", make_purchases(DAY(2025, 1, 1), 90))
    run = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30), mail=False)
    assert "data.freshness:purchases" not in _causes(run)
    ok = next(f for f in run.findings if f.cause == "data.freshness:purchases")
    assert ok.threshold == 45
    monkeypatch.setenv("CARSIGHT_MONITOR__FRESHNESS_MAX_DAYS", '{"purchases": 20}')
    reset_settings_cache()
    assert "data.freshness:purchases" in _causes(
        run_monitor(tmp_warehouse, get_settings(), as_of=DAY(2025, 4, 30), mail=False)
    )


def test_new_purchases_whose_amounts_and_channels_moved_are_drift(tmp_warehouse, tmp_path, make_purchases):
    settings = _settings(tmp_path)
    tmp_warehouse.upsert("purchases", make_purchases(DAY(2024, 1, 1), 366))
    # A month like the year before: no drift (without saved models the reference is a month back).
    tmp_warehouse.upsert("purchases", make_purchases(DAY(2025, 1, 1), 31, seed=1))
    calm = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 2, 1), mail=False)
    assert "data.drift:purchases" not in _causes(calm)
    moved = make_purchases(DAY(2025, 2, 1), 28, seed=2, amount_factor=1.5)
    moved["channel"] = np.where(np.arange(len(moved)) % 5 < 3, "online", moved["channel"])
    tmp_warehouse.upsert("purchases", moved)
    drift = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 3, 1), mail=False)
    found = next(f for f in drift.findings if f.cause == "data.drift:purchases")
    assert found.status == "alert" and found.severity == "critical" and found.value >= 0.7
    assert "amount" in found.values["columns"] and "channel" in found.values["columns"]
    assert "model" not in found.values["columns"]


def _repurchase_scores(wh, good: bool) -> None:
    """400 customers who bought in January 2024; the first 100 buy again in August. Scores as of July
    with a 90-day horizon, kept as monitoring keeps them, from a model whose holdout AUROC was 0.80."""
    rng = np.random.default_rng(5)
    ids = [f"C{i:04d}" for i in range(400)]
    first = pd.DataFrame({"purchase_id": [f"A{i}" for i in range(400)], "customer_id": ids,
                          "purchase_date": DAY(2024, 1, 15), "model": "Tucson", "amount": 3e7})  # fmt: skip
    again = pd.DataFrame({"purchase_id": [f"B{i}" for i in range(100)], "customer_id": ids[:100],
                          "purchase_date": DAY(2024, 8, 10), "model": "Tucson", "amount": 3e7})  # fmt: skip
    later = pd.DataFrame({"purchase_id": ["Z"], "customer_id": [ids[-1]], "purchase_date": [DAY(2024, 11, 1)],
                          "model": ["Tucson"], "amount": [3e7]})  # fmt: skip
    wh.upsert("purchases", pd.concat([first, again, later], ignore_index=True))
    if good:  # ranks the buyers first and is calibrated: 100 × 0.7 + 300 × 0.1 = 100 expected
        score = np.r_[np.full(100, 0.7), np.full(300, 0.1)] + rng.normal(0, 0.02, 400)
    else:
        score = rng.uniform(0.05, 0.45, 400)
    wh.upsert(
        MONITOR_SCORES,
        pd.DataFrame(
            {
                "target": "repurchase",
                "as_of": DAY(2024, 7, 1),
                "customer_id": ids,
                "score": score,
                "horizon_days": 90,
                "holdout_auroc": 0.80,
                "holdout_lift": 3.0,
            }
        ),  # fmt: skip
    )


@pytest.mark.parametrize("good", [True, False])
def test_earlier_scores_are_checked_against_their_outcomes(tmp_warehouse, tmp_path, good):
    _repurchase_scores(tmp_warehouse, good)
    run = run_monitor(tmp_warehouse, _settings(tmp_path), as_of=DAY(2024, 11, 2), mail=False)
    found = next(f for f in run.findings if f.cause == "models.propensity:repurchase")
    if good:
        assert found.status == "ok" and found.value > 0.9
    else:
        assert found.status == "alert" and found.severity == "critical"
        assert 0.4 < found.value < 0.6 and found.threshold == 0.80
        assert "decayed" in found.message("en")


def test_new_alerts_are_mailed_once_through_a_real_smtp_server(tmp_warehouse, tmp_path, smtp_inbox, make_purchases):
    inbox, port = smtp_inbox
    settings = _settings(tmp_path, recipients=["ops@dealer.example", "cx@dealer.example"])
    settings.smtp = SmtpSettings(host="127.0.0.1", port=port, sender="carsight@dealer.example", rate_per_second=0)
    tmp_warehouse.upsert("purchases", make_purchases(DAY(2025, 1, 1), 90))
    first = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30))
    assert first.mailed == len([a for a in first.alerts.opened if a["severity"] != "info"]) >= 1
    assert sorted(r for m in inbox.messages for r in m.rcpt_tos) == ["cx@dealer.example", "ops@dealer.example"]
    body = email.message_from_bytes(inbox.messages[0].content, policy=email.policy.default).get_content()
    assert "purchases" in body and "[심각]" in body  # in the configured language (ko)
    again = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30))
    assert again.mailed == 0 and len(inbox.messages) == 2
    assert read_alerts(tmp_warehouse)["mailed_at"].notna().any()


def test_a_failed_send_is_recorded_and_tried_again(tmp_warehouse, tmp_path, smtp_inbox, make_purchases):
    inbox, port = smtp_inbox
    settings = _settings(tmp_path, recipients=["ops@dealer.example"])
    settings.smtp = SmtpSettings(host="127.0.0.1", port=1, timeout_s=2)  # nothing listens there
    tmp_warehouse.upsert("purchases", make_purchases(DAY(2025, 1, 1), 90))
    failed = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30))
    assert failed.mailed == 0 and "cannot connect" in failed.mail_error
    settings.smtp = SmtpSettings(host="127.0.0.1", port=port, rate_per_second=0)
    retried = run_monitor(tmp_warehouse, settings, as_of=DAY(2025, 4, 30))
    assert retried.mailed >= 1 and len(inbox.messages) == 1


@pytest.mark.slow
def test_demo_planted_drift_and_decay_fire_once_and_nothing_on_a_rerun(
    pipeline_wh_path, demo_files, tmp_path, smtp_inbox
):
    import json

    from carsight.demo.later import load_later, write_later
    from carsight.warehouse import connect

    inbox, port = smtp_inbox
    path = tmp_path / "wh.duckdb"
    shutil.copy(pipeline_wh_path, path)
    settings = Settings(
        warehouse=str(path),
        model_dir=pipeline_wh_path.parent / "models",
        # The tests' demo has 3,000 customers: a quarter's purchases are ~200 rows, not 300.
        monitor=MonitorSettings(recipients=["ops@dealer.example"], drift_min_rows=100),
        smtp=SmtpSettings(host="127.0.0.1", port=port, rate_per_second=0),
    )
    with connect(str(path)) as wh:
        baseline = run_monitor(wh, settings, as_of=DAY(2026, 1, 1))
        # The unchanged demo: only its planted bad rows and the scoring's own drift note (information).
        assert {a["severity"] for a in baseline.alerts.opened} <= {"info"}
        assert {a["check_name"] for a in baseline.alerts.opened} <= {"data.rejections", "models.input_drift"}
        assert baseline.mailed == 0 and not inbox.messages

        seed = json.loads((demo_files / "manifest.json").read_text())["seed"]
        load_later(wh, write_later(demo_files, seed, to=tmp_path / "later"))
        later = run_monitor(wh, settings, as_of=DAY(2026, 4, 1))
        opened = {a["cause"]: a for a in later.alerts.opened}
        assert opened["data.drift:purchases"]["severity"] == "critical"
        assert "models.forecast:forecasts" in opened
        assert "business.sales_interval:Total" in opened and "business.sales_interval:market:USA" in opened
        assert "business.sales_interval:market:Korea" not in opened  # the slump is outside Korea
        # The feeds that got no later file are stale by April; purchases and sales are not.
        stale = {c.split(":")[1] for c in opened if c.startswith("data.freshness")}
        assert {"leads", "service_visits", "consultations"} <= stale
        assert not stale & {"purchases", "sales_monthly"}
        assert later.mailed == len([a for a in opened.values() if a["severity"] != "info"])
        assert len(inbox.messages) == 1

        rerun = run_monitor(wh, settings, as_of=DAY(2026, 4, 1))
        assert not rerun.alerts.opened and not rerun.alerts.closed and rerun.mailed == 0
        assert len(inbox.messages) == 1
        assert wh.count(MONITOR_ALERTS.name) == len(baseline.alerts.opened) + len(opened)
