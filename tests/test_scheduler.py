"""Schedules with a fixed clock: which slot is due, at most one run per slot across restarts, the
report action with its period and e-mail, failures recorded, bad configuration refused."""

from __future__ import annotations

import datetime as dt

import pytest

from carsight import scheduler
from carsight.config import MonitorSettings, Schedule, Settings
from carsight.errors import InputError

MONTHLY = Schedule(
    name="monthly-voc",
    cron="0 6 1 * *",
    action="report",
    args={"kind": "voc", "period": "previous-month", "format": "html", "lang": "en"},
)
NIGHTLY = Schedule(name="nightly", cron="30 2 * * *", action="pipeline")


def _settings(tmp_path, *schedules, **extra) -> Settings:
    extra.setdefault("monitor", MonitorSettings(cron=""))  # only the schedules under test
    return Settings(
        warehouse=str(tmp_path / "wh.duckdb"), output_dir=tmp_path / "out", schedules=list(schedules), **extra
    )


def test_latest_slot_and_next_runs():
    now = dt.datetime(2024, 7, 15, 12, 0)
    assert scheduler.latest_slot(MONTHLY, now) == dt.datetime(2024, 7, 1, 6, 0)
    assert scheduler.latest_slot(NIGHTLY, dt.datetime(2024, 7, 15, 2, 30)) == dt.datetime(2024, 7, 15, 2, 30)
    assert scheduler.next_runs(MONTHLY, now, 2) == [dt.datetime(2024, 8, 1, 6, 0), dt.datetime(2024, 9, 1, 6, 0)]
    assert scheduler.resolve_period("previous-month", dt.datetime(2024, 1, 1, 6)) == "2023-12"


def test_each_slot_runs_once_even_after_restart(tmp_warehouse, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        scheduler, "run_action", lambda wh, s, schedule, slot: calls.append((schedule.name, slot)) or "ok"
    )
    settings = _settings(tmp_path, MONTHLY, NIGHTLY)
    now = dt.datetime(2024, 7, 15, 12, 0)
    first = scheduler.run_due(tmp_warehouse, settings, now)
    assert [(r.schedule, r.status) for r in first] == [("monthly-voc", "done"), ("nightly", "done")]
    # A restart a minute later finds the same slots already run.
    assert scheduler.run_due(tmp_warehouse, settings, now + dt.timedelta(minutes=1)) == []
    # The next night's slot is new; the monthly one is not.
    later = scheduler.run_due(tmp_warehouse, settings, dt.datetime(2024, 7, 16, 2, 31))
    assert [(r.schedule, r.slot) for r in later] == [("nightly", dt.datetime(2024, 7, 16, 2, 30))]
    assert len(calls) == 3
    history = scheduler.history(tmp_warehouse)
    assert set(history.status) == {"done"} and len(history) == 3


def test_a_slot_claimed_by_a_crashed_run_is_not_repeated(tmp_warehouse, tmp_path, monkeypatch):
    settings = _settings(tmp_path, NIGHTLY)
    now = dt.datetime(2024, 7, 15, 3, 0)

    def crash(*args):
        raise KeyboardInterrupt  # the process dies mid-job

    monkeypatch.setattr(scheduler, "run_action", crash)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run_due(tmp_warehouse, settings, now)
    monkeypatch.setattr(scheduler, "run_action", lambda *a: pytest.fail("ran the same slot twice"))
    assert scheduler.run_due(tmp_warehouse, settings, now) == []
    assert list(scheduler.history(tmp_warehouse).status) == ["running"]


def test_failed_job_is_recorded_and_others_still_run(tmp_warehouse, tmp_path, monkeypatch):
    def action(wh, s, schedule, slot):
        if schedule.name == "nightly":
            raise RuntimeError("disk full")
        return "ok"

    monkeypatch.setattr(scheduler, "run_action", action)
    results = scheduler.run_due(tmp_warehouse, _settings(tmp_path, NIGHTLY, MONTHLY), dt.datetime(2024, 7, 15, 12))
    assert {r.schedule: r.status for r in results} == {"nightly": "failed", "monthly-voc": "done"}
    assert "disk full" in next(r.message for r in results if r.schedule == "nightly")


def test_report_action_builds_last_months_report_and_mails_it(tmp_warehouse, tmp_path):
    import pandas as pd
    from aiosmtpd.controller import Controller

    from carsight.config import SmtpSettings

    from .notify.conftest import Recorder, free_port

    tmp_warehouse.upsert(
        "consultations",
        pd.DataFrame(
            {
                "consultation_id": [f"V{i}" for i in range(40)],
                "customer_id": None,
                "consulted_at": [pd.Timestamp("2024-06-03 10:00") + pd.Timedelta(days=i % 20) for i in range(40)],
                "model": "Tucson",
                "channel": "phone",
                "category": "경고등",
                "text": "경고등",
            }
        ),
    )
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        schedule = MONTHLY.model_copy(update={"args": {**MONTHLY.args, "to": "boss@dealer.example, cx@dealer.example"}})
        settings = _settings(
            tmp_path, schedule, smtp=SmtpSettings(host="127.0.0.1", port=controller.port, rate_per_second=0)
        )
        results = scheduler.run_due(tmp_warehouse, settings, dt.datetime(2024, 7, 1, 6, 5))
    finally:
        controller.stop()
    assert results[0].status == "done", results[0].message
    report = tmp_path / "out" / "reports" / "voc-2024-06-en.html"
    assert "Voice of the customer monthly report · 2024-06" in report.read_text(encoding="utf-8")
    assert sorted(recorder.recipients()) == ["boss@dealer.example", "cx@dealer.example"]
    assert recorder.connections == 1


def test_bad_configuration_is_refused(tmp_warehouse, tmp_path):
    bad_cron = Schedule(name="x", cron="every monday", action="pipeline")
    with pytest.raises(InputError, match="cron"):
        scheduler.run_due(tmp_warehouse, _settings(tmp_path, bad_cron), dt.datetime(2024, 1, 1))
    bad_kind = Schedule(name="y", cron="0 6 1 * *", action="report", args={"kind": "sales"})
    with pytest.raises(InputError, match="kind"):
        scheduler.validate([bad_kind])
    with pytest.raises(InputError, match="duplicate"):
        scheduler.validate([NIGHTLY, NIGHTLY])
    with pytest.raises(InputError, match="action"):
        scheduler.validate([Schedule(name="z", cron="* * * * *", action="reboot")])


def test_loop_sleeps_until_the_next_slot(tmp_path, monkeypatch):
    from carsight.warehouse import connect

    clock = [dt.datetime(2024, 7, 15, 2, 28)]
    sleeps = []
    monkeypatch.setattr(scheduler, "run_action", lambda *a: "ok")

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += dt.timedelta(seconds=seconds)

    settings = _settings(tmp_path, NIGHTLY)
    done = []
    scheduler.run_forever(
        lambda: connect(str(tmp_path / "loop.duckdb"), init=True), settings, clock=lambda: clock[0], sleep=sleep,
        on_result=done.append, max_cycles=4,
    )  # fmt: skip
    # Started at 02:28, after the previous night's slot: runs that one, then tonight's at 02:30.
    assert [r.slot for r in done] == [dt.datetime(2024, 7, 14, 2, 30), dt.datetime(2024, 7, 15, 2, 30)]
    assert max(sleeps) <= 60


def test_cli_reads_schedules_from_the_config_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from carsight.cli import app
    from carsight.config import reset_settings_cache

    config = tmp_path / "carsight.toml"
    config.write_text(
        """
[[schedules]]
name = "monthly-market"
cron = "0 7 1 * *"
action = "report"
args = { kind = "market", period = "previous-month", format = "html", lang = "ko" }
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("CARSIGHT_CONFIG", str(config))
    reset_settings_cache()
    runner = CliRunner()
    listed = runner.invoke(app, ["schedule", "list"])
    assert listed.exit_code == 0, listed.output
    assert "monthly-market" in listed.output and "0 7 1 * *" in listed.output
    first = runner.invoke(app, ["schedule", "run", "--now", "2024-07-01T07:30"])
    assert first.exit_code == 0, first.output
    assert "done monthly-market @ 2024-07-01 07:00" in first.output
    assert (tmp_path / "out" / "reports" / "market-2024-06-ko.html").exists()
    again = runner.invoke(app, ["schedule", "run", "--now", "2024-07-01T08:00"])
    assert "nothing due" in again.output
    report = runner.invoke(app, ["report", "voc", "--period", "2024-06", "--output", str(tmp_path / "v.html")])
    assert report.exit_code == 0 and (tmp_path / "v.html").exists()
    bad = runner.invoke(app, ["report", "voc", "--period", "June"])
    assert bad.exit_code != 0 and "YYYY-MM" in str(bad.exception)


def test_monitoring_runs_daily_by_default(tmp_warehouse, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        scheduler, "run_action", lambda wh, s, schedule, slot: calls.append((schedule.action, slot)) or "ok"
    )
    settings = Settings(warehouse=str(tmp_path / "wh.duckdb"), output_dir=tmp_path / "out")
    assert [(s.name, s.cron, s.action) for s in scheduler.effective(settings)] == [("monitor", "0 7 * * *", "monitor")]
    scheduler.run_due(tmp_warehouse, settings, dt.datetime(2024, 7, 15, 8, 0))
    scheduler.run_due(tmp_warehouse, settings, dt.datetime(2024, 7, 15, 9, 0))  # the same day's slot: not again
    scheduler.run_due(tmp_warehouse, settings, dt.datetime(2024, 7, 16, 7, 0))
    assert calls == [("monitor", dt.datetime(2024, 7, 15, 7, 0)), ("monitor", dt.datetime(2024, 7, 16, 7, 0))]
    # A configured monitoring schedule replaces the default one; an empty cron turns it off.
    own = Schedule(name="hourly-checks", cron="0 * * * *", action="monitor")
    assert scheduler.effective(_settings(tmp_path, own, monitor=MonitorSettings())) == [own]
    assert scheduler.effective(_settings(tmp_path)) == []
