"""The delivery commands end to end: exit codes tell the truth about failures."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from carsight.cli import app
from carsight.config import reset_settings_cache

from .conftest import make_customers

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path, monkeypatch, smtp_server):
    from carsight.warehouse import connect

    _, port = smtp_server
    path = tmp_path / "cli.duckdb"
    with connect(str(path), init=True) as wh:
        wh.upsert("customers", make_customers())
    monkeypatch.setenv("CARSIGHT_WAREHOUSE", str(path))
    monkeypatch.setenv("CARSIGHT_SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("CARSIGHT_SMTP__PORT", str(port))
    monkeypatch.setenv("CARSIGHT_SMTP__RATE_PER_SECOND", "0")
    monkeypatch.setenv("CARSIGHT_LANG", "en")
    reset_settings_cache()
    targets = tmp_path / "targets.csv"
    targets.write_text("customer_id\n" + "\n".join(f"C{i:03d}" for i in range(8)) + "\n", encoding="utf-8")
    return targets


def _send(targets, *extra):
    return runner.invoke(
        app, ["campaign", "send", "--campaign-id", "SPRING", "--target", str(targets), "--template", "offer", *extra]
    )


def test_send_reports_failures_with_a_nonzero_exit_and_rerun_fixes_them(cli_env, smtp_server):
    recorder, _ = smtp_server
    recorder.fail_after = 5
    failed = _send(cli_env)
    assert failed.exit_code == 1
    assert "sent 5" in failed.output and "failed 3" in failed.output
    recorder.fail_after = None
    ok = _send(cli_env)
    assert ok.exit_code == 0, ok.output
    assert "sent 3 · already sent 5" in ok.output
    log = runner.invoke(app, ["campaign", "log", "--campaign-id", "SPRING"])
    assert "sent: 8" in log.output


def test_optout_then_dry_run(cli_env, tmp_path):
    added = runner.invoke(app, ["campaign", "optout", "add", "C001", "C002", "--reason", "asked by phone"])
    assert added.exit_code == 0 and "2 added" in added.output
    listed = runner.invoke(app, ["campaign", "optout", "list"])
    assert "C001" in listed.output and "asked by phone" in listed.output
    dry = _send(cli_env, "--dry-run", "--out", str(tmp_path / "eml"))
    assert dry.exit_code == 0, dry.output
    assert sorted(p.stem for p in (tmp_path / "eml").glob("*.eml")) == [
        f"C{i:03d}" for i in range(8) if i not in (1, 2)
    ]
    assert "skipped (opted out): 2" in dry.output


def test_bad_target_file_is_one_clear_error(cli_env, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id\nC001\n", encoding="utf-8")
    result = _send(bad)
    assert result.exit_code != 0
    assert "customer_id" in str(result.exception)
