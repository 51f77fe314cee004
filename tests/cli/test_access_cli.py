"""`carsight user …` and `carsight audit` as a user runs them, and the safe defaults of `carsight serve`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carsight.access.users import AccessStore
from carsight.cli import app
from carsight.errors import InputError

CARSIGHT = str(Path(sys.executable).with_name("carsight"))
TOKEN_LINE = re.compile(r"^[A-Za-z0-9_-]{43}$", re.MULTILINE)
runner = CliRunner()


def _store(tmp_path) -> AccessStore:
    return AccessStore(tmp_path / "test.access.sqlite")  # beside $CARSIGHT_WAREHOUSE (tests/conftest.py)


def test_user_add_prints_the_token_alone_on_its_line_unwrapped(tmp_path):
    env = {**os.environ, "COLUMNS": "20", "CARSIGHT_LANG": "en"}  # a narrow terminal must not wrap it
    added = subprocess.run(
        [CARSIGHT, "user", "add", "kim", "--role", "dealer", "--dealer", "D01", "-d", "D02"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    tokens = TOKEN_LINE.findall(added.stdout)
    assert len(tokens) == 1
    scope = _store(tmp_path).scope_for_token(tokens[0])
    assert scope.role == "dealer" and scope.dealers == {"D01", "D02"}
    password = re.search(r"password.*: (\S+)$", added.stdout, re.MULTILINE).group(1)
    assert _store(tmp_path).sign_in("kim", password).scope == scope
    refused = subprocess.run(
        [CARSIGHT, "user", "add", "lee", "--role", "dealer"], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "at least one dealer" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_list_rotate_disable_and_audit(tmp_path):
    first = runner.invoke(app, ["--lang", "en", "user", "add", "lee", "--role", "hq"])
    assert first.exit_code == 0, first.output
    old = TOKEN_LINE.findall(first.output)[0]
    listed = runner.invoke(app, ["--lang", "en", "user", "list"])
    assert "lee" in listed.output and "hq" in listed.output and "must" in listed.output
    rotated = runner.invoke(app, ["--lang", "en", "user", "rotate", "lee"])
    new = TOKEN_LINE.findall(rotated.output)[0]
    store = _store(tmp_path)
    assert store.scope_for_token(old) is None and store.scope_for_token(new).user == "lee"
    assert runner.invoke(app, ["user", "disable", "lee"]).exit_code == 0
    assert store.scope_for_token(new) is None
    assert "disabled" in runner.invoke(app, ["--lang", "en", "user", "list"]).output
    audit = runner.invoke(app, ["audit", "--json"])
    rows = [json.loads(line) for line in audit.output.splitlines()]
    assert [(r["action"], r["target"]) for r in rows] == [
        ("user.add", "lee"),
        ("user.rotate", "lee"),
        ("user.disable", "lee"),
    ]
    assert all(r["user"].startswith("cli:") and r["client"] == "cli" for r in rows)
    assert runner.invoke(app, ["audit", "--json", "--user", "nobody"]).output == ""
    assert runner.invoke(app, ["audit", "--json", "--since", "2999-01-01"]).output == ""
    table = runner.invoke(app, ["--lang", "en", "audit", "--user", rows[0]["user"], "--since", "2020-01-01"])
    assert "user.rotate" in table.output and "user.add" in table.output
    bad = runner.invoke(app, ["audit", "--since", "yesterday"])
    assert isinstance(bad.exception, InputError) and bad.exception.column == "--since"


def test_no_users_is_said_plainly(tmp_path):
    listed = runner.invoke(app, ["--lang", "en", "user", "list"])
    assert "No users yet" in listed.output
    assert not _store(tmp_path).exists


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.0.10", "carsight.example"])
def test_serving_the_network_needs_users(tmp_path, monkeypatch, host):
    from carsight.cli import serve

    started = []
    monkeypatch.setattr(os, "execve", lambda *args: started.append(args))
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(args))
    monkeypatch.delenv("CARSIGHT_API_TOKEN", raising=False)
    (tmp_path / "test.duckdb").touch()
    for command in (serve.dashboard, serve.api):
        with pytest.raises(InputError, match="carsight user add") as error:
            command(host=host, port=1)
        assert error.value.column == "--host"
    assert started == []
    _store(tmp_path).add("admin1", "admin")
    serve.dashboard(host=host, port=1)
    serve.api(host=host, port=1)
    assert len(started) == 2


def test_loopback_without_users_needs_no_sign_in(tmp_path, monkeypatch):
    from carsight.cli import serve

    started = []
    monkeypatch.setattr(os, "execve", lambda *args: started.append(args))
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(args))
    (tmp_path / "test.duckdb").touch()
    serve.dashboard(host="127.0.0.1", port=1)
    serve.api(host="::1", port=1, insecure=True)
    assert len(started) == 2
    assert started[0][2]["CARSIGHT_ACCESS_STORE"] == str(_store(tmp_path).path.resolve())
    # The bootstrap token alone still serves the network, as before users existed.
    monkeypatch.setenv("CARSIGHT_API_TOKEN", "t" * 32)
    from carsight.config import reset_settings_cache

    reset_settings_cache()
    serve.api(host="0.0.0.0", port=1)
    assert len(started) == 3
    assert not _store(tmp_path).exists


def test_dealer_codes_missing_from_the_dealers_table_are_pointed_out(tmp_path):
    from carsight.warehouse import connect

    with connect(str(tmp_path / "test.duckdb"), init=True) as wh:
        wh.con.con.execute(
            "CREATE TABLE IF NOT EXISTS dealers (dealer_code VARCHAR, name VARCHAR, region VARCHAR, branch VARCHAR)"
        )
        wh.con.con.execute("INSERT INTO dealers (dealer_code, name) VALUES ('D01', '강남')")
    added = runner.invoke(app, ["--lang", "en", "user", "add", "kim", "--role", "dealer", "-d", "D01", "-d", "D99"])
    assert added.exit_code == 0
    assert "not in the warehouse's dealers table: D99" in added.stderr
    assert "D01" not in added.stderr
    assert _store(tmp_path).user("kim").dealers == ("D01", "D99")  # dealers may be loaded after the users
