"""The CLI as a user runs it: a real process, a temporary directory, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CARSIGHT = str(Path(sys.executable).with_name("carsight"))


def _run(args, cwd, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([CARSIGHT, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300)


def test_help_lists_commands_with_a_purpose(tmp_path):
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("init", "status", "pipeline"):
        assert command in result.stdout


def test_init_then_status_in_a_fresh_directory(tmp_path):
    wh = tmp_path / "fresh.duckdb"
    assert _run(["--warehouse", str(wh), "init"], tmp_path).returncode == 0
    assert wh.exists()
    status = _run(["--warehouse", str(wh), "--lang", "en", "status"], tmp_path)
    assert status.returncode == 0
    assert "purchases" in status.stdout and "Rows" in status.stdout


def test_errors_are_one_line_without_traceback(tmp_path):
    result = _run(["--warehouse", str(tmp_path / "w.duckdb"), "pipeline", "run", "--step", "nope"], tmp_path)
    assert result.returncode == 2
    assert "unknown step 'nope'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_debug_setting_shows_the_traceback_from_environment_or_file(tmp_path):
    """One switch, ``settings.debug``, read the same way as the dashboard reads it."""
    args = ["--warehouse", str(tmp_path / "w.duckdb"), "pipeline", "run", "--step", "nope"]
    from_env = _run(args, tmp_path, CARSIGHT_DEBUG="true")
    config = tmp_path / "carsight.toml"
    config.write_text("debug = true\n", encoding="utf-8")
    from_file = _run(args, tmp_path, CARSIGHT_CONFIG=str(config))
    for result in (from_env, from_file):
        assert result.returncode != 0
        assert "Traceback" in result.stderr and "unknown step 'nope'" in result.stderr


def test_an_invalid_setting_is_one_line_naming_it(tmp_path):
    result = _run(["status"], tmp_path, CARSIGHT_LANG="fr")
    assert result.returncode == 2
    assert "CARSIGHT_LANG" in result.stderr and "'ko' or 'en'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
