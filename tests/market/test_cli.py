"""``carsight forecast`` and ``carsight market …`` end to end, as a user runs them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def _rows(market, model, year, monthly_units):
    return [
        {
            "brand": "H",
            "model": model,
            "market": market,
            "kind": "export",
            "month": dt.date(year, m, 1),
            "units": monthly_units,
        }
        for m in range(1, 13)
    ]


CARSIGHT = [sys.executable, "-c", "from carsight.cli import main; main()"]


def _run(args, env_extra=None, cwd=None):
    env = {**os.environ, "COLUMNS": "200", "CARSIGHT_LANG": "en", **(env_extra or {})}
    return subprocess.run([*CARSIGHT, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def series_file(tmp_path_factory) -> Path:
    rng = np.random.default_rng(2)
    t = np.arange(40)
    rows = []
    for brand, model in (("H", "Tucson"), ("H", "Kona"), ("K", "EV6")):
        for market in ("USA", "UK"):
            y = np.maximum(0, 200 + 3 * t + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 10, 40)).round()
            months = pd.date_range("2021-01-01", periods=40, freq="MS").strftime("%Y-%m")
            rows.append(pd.DataFrame({"brand": brand, "model": model, "market": market, "month": months, "units": y}))
    path = tmp_path_factory.mktemp("cli") / "sales.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_forecast_with_hierarchy_writes_coherent_file(series_file, tmp_path):
    out = tmp_path / "fc.csv"
    result = _run(
        ["forecast", "--input", str(series_file), "--hierarchy", "brand/model/market", "--date-col", "month",
         "--value-col", "units", "--horizon", "6", "--output", str(out), "--season-group", "market"]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    fc = pd.read_csv(out)
    expected = ["unique_id", "ds", "model_name", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]
    assert list(fc.columns) == expected
    assert fc["unique_id"].nunique() == 1 + 2 + 3 + 6  # total, brands, brand/model, bottom
    assert (fc.groupby("unique_id").size() == 6).all()
    bottom_ids = fc["unique_id"].str.count("/").eq(2) & ~fc["unique_id"].str.contains(":")
    bottom = fc[bottom_ids].groupby("ds")["yhat"].sum()
    total = fc[fc["unique_id"] == "Total"].set_index("ds")["yhat"]
    assert np.allclose(bottom.reindex(total.index), total, atol=1e-6)
    # The scheme the backtest chose is named, with its score beside the combination's.
    said = " ".join(result.stdout.split())
    assert "seasonal series:" in said and " chosen — backtest MASE " in said and "12 series × 3 windows" in said


@pytest.mark.slow
def test_forecast_report_shows_baselines(series_file, tmp_path):
    small = tmp_path / "one.csv"
    frame = pd.read_csv(series_file)
    frame[(frame.model == "Tucson") & (frame.market == "USA")][["month", "units"]].to_csv(small, index=False)
    result = _run(["forecast", "-i", str(small), "--horizon", "6", "-o", str(tmp_path / "o.csv"), "--report"])
    assert result.returncode == 0, result.stderr
    assert "SeasonalNaive" in result.stdout and "Prophet" in result.stdout and "MASE" in result.stdout


def test_forecast_bad_value_is_one_line_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,date,value\nA,2024-01,1\nA,2024-02,abc\n")
    result = _run(["forecast", "-i", str(path), "--id-col", "id", "-o", str(tmp_path / "o.csv")])
    assert result.returncode == 2
    assert "bad.csv, row 2, column 'value'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_selection_scheme_is_one_line_error(series_file, tmp_path):
    result = _run(["forecast", "-i", str(series_file), "--date-col", "month", "--value-col", "units",
                   "--hierarchy", "brand/model/market", "--select", "best", "-o", str(tmp_path / "o.csv")])  # fmt: skip
    assert result.returncode == 2
    assert "unknown selection 'best'" in result.stderr and "auto, combination, pooled, series" in result.stderr
    assert "Traceback" not in result.stderr


def test_season_group_must_be_a_hierarchy_column(series_file, tmp_path):
    result = _run(["forecast", "-i", str(series_file), "--date-col", "month", "--value-col", "units",
                   "--hierarchy", "brand/model", "--season-group", "region", "-o", str(tmp_path / "o.csv")])  # fmt: skip
    assert result.returncode == 2
    assert "--season-group 'region' is not a --hierarchy column" in result.stderr
    assert "brand, model" in result.stderr and "Traceback" not in result.stderr


def test_market_top_and_unusual_read_the_warehouse(tmp_path):
    from carsight.warehouse import connect
    from carsight.warehouse import schema as S

    path = tmp_path / "wh.duckdb"
    with connect(str(path), init=True) as wh:
        wh.upsert(
            S.SALES_MONTHLY,
            pd.DataFrame(_rows("A", "X", 2024, 60) + _rows("B", "Y", 2024, 90) + _rows("B", "X", 2024, 10)),
        )
    env = {"CARSIGHT_WAREHOUSE": str(path)}
    top = _run(["market", "top", "--market", "A", "-o", str(tmp_path / "top.csv")], env)
    assert top.returncode == 0, top.stderr
    assert pd.read_csv(tmp_path / "top.csv")[["model", "units"]].values.tolist() == [["X", 720]]
    unusual = _run(["market", "unusual"], env)
    assert unusual.returncode == 0, unusual.stderr
    assert "X" in unusual.stdout and "+56.2" in unusual.stdout  # 100% in A vs 840 of 1,920 = 43.75% overall
