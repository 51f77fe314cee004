"""``carsight demo`` end to end at a tiny size."""

from __future__ import annotations

from typer.testing import CliRunner

from carsight.cli import app


def test_demo_command_writes_files_without_loading(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["--lang", "en", "demo", "--customers", "200", "--seed", "5", "--out", str(out), "--no-load"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").is_file()
    assert (out / "sales_monthly" / "수출실적_2025.csv").is_file()
    assert "Demo files" in result.output


def test_demo_command_rejects_zero_customers(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--customers", "0", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert not (tmp_path / "manifest.json").exists()
