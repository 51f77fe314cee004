"""scripts/system-deps.sh: the one list of Debian packages the tests need (run by ``make test`` and
``.ci/run``). Every system package is present, and when one is missing and the script may not
install it, it stops at once with the exact command to run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-deps.sh"
BASH = "/bin/bash"


def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([BASH, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def apt_command_packages(stderr: str) -> list[str]:
    match = re.search(r"apt-get install -y --no-install-recommends ([a-z0-9 .+-]+)", stderr)
    assert match, stderr
    return match.group(1).split()


def test_every_system_package_is_present():
    result = run("--check")
    # On failure, the script's own message says what is missing and the command that installs it.
    assert result.returncode == 0, result.stderr
    assert "system packages present" in result.stdout
    for name in ("chromium", "poppler-utils", "libpango-1.0-0", "openssl", "default-jre-headless"):
        assert name in result.stdout


def test_check_names_what_is_missing_and_the_command(tmp_path):
    # A PATH with only `id` and apt-get: pdftotext, openssl and java are not found, as on a bare
    # machine; --check never runs apt-get.
    for tool in ("id", "apt-get"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    result = run("--check", path=str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "missing" in result.stderr and "poppler-utils (the PDF report test)" in result.stderr
    packages = apt_command_packages(result.stderr)
    assert {"poppler-utils", "openssl", "default-jre-headless"} <= set(packages)
    assert len(packages) == len(set(packages))


def test_without_apt_get_it_stops_at_once(tmp_path):
    # No --check, but no apt-get either: it must not try to install, only say what to install.
    (tmp_path / "id").symlink_to(shutil.which("id"))
    result = run(path=str(tmp_path))
    assert result.returncode == 1
    assert "no apt-get on this machine" in result.stderr
    assert "installing" not in result.stdout
    assert {"poppler-utils", "openssl", "default-jre-headless"} <= set(result.stderr.split(": ")[-1].split())


def test_unknown_argument_is_refused():
    result = run("--install-everything")
    assert result.returncode == 2
    assert "usage" in result.stderr
