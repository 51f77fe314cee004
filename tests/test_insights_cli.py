"""``carsight triggers`` and ``carsight drivers`` as a user runs them: files in (a CP949 CSV with Korean
headers too), the documented columns out with unrounded numbers, and bad input answered with one line
and exit code 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.cli import main
from carsight.customers.triggers import RULE_COLUMNS, rule_mask


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["--lang", "en", *args])
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


@pytest.fixture
def customers_file(tmp_path):
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame(
        {
            "고객번호": [f"C{i:05d}" for i in range(n)],
            "채널": rng.choice(["웹", "전시장", "앱"], n),
            "방문횟수": rng.poisson(1.0, n),
            "나이": rng.integers(20, 70, n),
        }
    )
    p = 0.04 + 0.3 * ((frame["방문횟수"] >= 2) & (frame["채널"] == "웹"))
    frame["구매"] = np.where(rng.random(n) < p, "예", "아니오")
    path = tmp_path / "고객.csv"
    frame.to_csv(path, index=False, encoding="cp949")
    return path, frame


def test_triggers_writes_the_documented_columns_unrounded(customers_file, tmp_path, capsys):
    path, frame = customers_file
    out = tmp_path / "rules.csv"
    code, stdout, _ = _run(
        ["triggers", "--table", str(path), "--target", "구매", "--positive", "예", "--min-support", "0.005",
         "--margin", "300000", "--contact-cost", "3000", "--output", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0
    rules = pd.read_csv(out, encoding="utf-8", float_precision="round_trip")
    assert list(rules.columns) == list(RULE_COLUMNS)
    # The planted trigger (web and two visits or more) leads; columns keep the file's Korean names.
    assert rules.conditions.iloc[0].startswith("채널=웹 & 방문횟수")
    assert "채널=웹 & 방문횟수>=2" in set(rules.conditions.head(3))
    assert rules.profit_efficiency.is_monotonic_decreasing
    y = (frame["구매"] == "예").to_numpy()
    for rule in rules.head(5).itertuples():
        mask = rule_mask(frame, rule.conditions)
        assert (rule.customers, rule.responders) == (mask.sum(), y[mask].sum())
        # Written unrounded: the CSV reads back to the exact ratio.
        assert rule.confidence == y[mask].sum() / mask.sum()
        assert rule.profit_efficiency == (300000 * rule.responders - 3000 * rule.customers) / (3000 * rule.customers)
    assert "rules" in stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--positive", "없음"], "no row has the value"),
        (["--positive", "예", "--margin", "100"], "--contact-cost"),
        (["--positive", "예", "--cuts", "나이=a,b"], "not a list of numbers"),
    ],
)
def test_triggers_bad_input_is_one_line_exit_2(customers_file, tmp_path, capsys, extra, message):
    path, _ = customers_file
    code, _, err = _run(
        ["triggers", "--table", str(path), "--target", "구매", *extra, "--output", str(tmp_path / "r.csv")], capsys
    )
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_triggers_without_positive_rows(tmp_path, capsys):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": ["x", "y"] * 10, "bought": ["no"] * 20}).to_csv(path, index=False)
    code, _, err = _run(
        ["triggers", "--table", str(path), "--target", "bought", "--output", str(tmp_path / "r.csv")], capsys
    )
    assert code == 2 and "no positive rows" in err


@pytest.fixture
def sales_file(tmp_path):
    rows = []
    for month in pd.date_range("2024-01-01", "2025-12-01", freq="MS"):
        for model in ("Tucson", "Avante", "G80"):
            for market in ("Korea", "USA"):
                units = 200 if model != "G80" else 50
                if model == "Tucson" and market == "USA" and month.year == 2025:
                    units -= 80
                rows.append(
                    {"월": month.strftime("%Y-%m"), "model": model, "market": market, "units": units, "buyers": units}
                )
    path = tmp_path / "sales.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_drivers_writes_one_row_per_segment(sales_file, tmp_path, capsys):
    out = tmp_path / "drivers.csv"
    code, stdout, _ = _run(
        ["drivers", "--input", str(sales_file), "--value-col", "units", "--date-col", "월", "--dims", "model,market",
         "--base", "2024-01:2024-12", "--current", "2025-01:2025-12", "--output", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["model", "market", "base", "current", "change", "share_of_change"]
    assert frame.iloc[0].tolist() == ["Tucson", "USA", 2400.0, 1440.0, -960.0, 1.0]
    assert len(frame) == 1  # no total row, no noise segments
    assert "account for 100%" in stdout


def test_drivers_with_a_size_column_splits_volume_mix_rate(sales_file, tmp_path, capsys):
    out = tmp_path / "drivers.csv"
    code, _, _ = _run(
        ["drivers", "--input", str(sales_file), "--value-col", "units", "--date-col", "월", "--dims", "model,market",
         "--base", "2024-01:2024-12", "--current", "2025-01:2025-12", "--size-col", "buyers", "--output", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns)[-3:] == ["volume", "mix", "rate"]
    row = frame.iloc[0]
    assert row.volume + row.mix + row.rate == row.change == -960.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dims", "model,market", "--base", "2019-01:2019-12"], "no rows in --base"),
        (["--dims", "model,market", "--base", "2024-01:2025-02"], "overlap"),
        (["--dims", "model,월"], "cannot also be"),
    ],
)
def test_drivers_bad_input_is_one_line_exit_2(sales_file, tmp_path, capsys, args, message):
    base = ["--base", "2024-01:2024-12"] if "--base" not in args else []
    code, _, err = _run(
        ["drivers", "--input", str(sales_file), "--value-col", "units", "--date-col", "월", *base,
         "--current", "2025-01:2025-12", "--output", str(tmp_path / "d.csv"), *args],
        capsys,
    )  # fmt: skip
    assert code == 2 and message in err and "Traceback" not in err


def test_drivers_dimension_with_one_value(tmp_path, capsys):
    path = tmp_path / "one.csv"
    months = pd.date_range("2024-01-01", "2025-12-01", freq="MS").strftime("%Y-%m")
    pd.DataFrame({"month": months, "model": ["Tucson", "Kona"] * 12, "market": "Korea", "units": range(24)}).to_csv(
        path, index=False
    )
    code, _, err = _run(
        ["drivers", "--input", str(path), "--value-col", "units", "--date-col", "month", "--dims", "model,market",
         "--base", "2024-01:2024-12", "--current", "2025-01:2025-12", "--output", str(tmp_path / "d.csv")],
        capsys,
    )  # fmt: skip
    assert code == 2 and "dimension 'market' has only one value (Korea)" in err
