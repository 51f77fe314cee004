"""`carsight ingest` end to end, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CARSIGHT = str(Path(sys.executable).with_name("carsight"))


def _run(args, cwd, env_extra=None):
    env = {**os.environ, "CARSIGHT_LANG": "en", "COLUMNS": "200", **(env_extra or {})}
    return subprocess.run([CARSIGHT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_ingest_a_messy_file_then_dry_run_a_change(tmp_path):
    (tmp_path / "구매.csv").write_bytes(
        (
            "계약번호,고객번호,구매일자,차종,거래 금액,메모\n"
            'P1,C1,2024.03.05,Tucson," 4,120,000 ",x\n'
            "P2,C2,2024.03.06,Avante,abc,\n"
            '합계,,,,"4,120,000",\n'
        ).encode("cp949")
    )
    first = _run(["ingest", "purchases", "구매.csv", "--set", "brand=Hyundai"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "read 3 · inserted 1 · updated 0 · unchanged 0 · rejected 1 · subtotals 1" in first.stdout
    assert "메모" in first.stderr and "구매.rejected.csv" in first.stderr
    dry = _run(["ingest", "purchases", "구매.csv", "--set", "brand=Kia", "--dry-run"], tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "inserted 0 · updated 1 · unchanged 0" in dry.stdout and "Dry run" in dry.stdout


@pytest.mark.slow
def test_missing_required_column_is_one_line_and_exit_code_2(tmp_path):
    (tmp_path / "p.csv").write_text("계약번호,고객번호,구매일자,차종\nP1,C1,2024-01-01,Tucson\n", encoding="utf-8")
    result = _run(["ingest", "purchases", "p.csv", "--map", "차종=model"], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "p.csv" in lines[0] and "amount" in lines[0] and "거래 금액" in lines[0]
