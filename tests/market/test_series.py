"""Reading series files: long and wide layouts, and bad input answered with file/row/column."""

from __future__ import annotations

import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.market.series import read_long_file, regularise


def _write(tmp_path, text: str, name: str = "series.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_long_file_with_messy_numbers(tmp_path):
    path = _write(tmp_path, 'id,month,units\nA,2024-01," 4,120 "\nA,2024-02,-\nB,2024-01,7\n')
    frame = read_long_file(path, id_col="id", date_col="month", value_col="units")
    assert frame.to_dict("list")["y"] == [4120.0, 0.0, 7.0]
    assert list(frame["ds"].dt.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-01"]


def test_wide_korean_month_table_with_subtotal_row(tmp_path):
    head = "모델,국가명," + ",".join(f"{m}월" for m in range(1, 13))
    rows = ["Tucson,USA," + ",".join(['" 1,000 "'] * 12), "Kona,USA," + ",".join(["-"] * 11 + ["5"])]
    total = "합계,," + ",".join(['" 1,000 "'] * 11 + ['" 1,005 "'])
    path = _write(tmp_path, "\n".join([head, *rows, total]) + "\n", name="수출실적_2024.csv", encoding="cp949")
    frame = read_long_file(path)
    assert sorted(frame["unique_id"].unique()) == ["Kona/USA", "Tucson/USA"]
    assert frame.groupby("unique_id")["y"].sum().to_dict() == {"Kona/USA": 5.0, "Tucson/USA": 12000.0}
    assert frame["ds"].min() == pd.Timestamp("2024-01-01")


def test_daily_dates_are_rejected_as_not_monthly(tmp_path):
    path = _write(tmp_path, "id,date,value\nA,2024-01-01,1\nA,2024-01-02,2\n")
    with pytest.raises(InputError) as info:
        read_long_file(path, id_col="id")
    err = info.value
    assert (err.file, err.row, err.column) == ("series.csv", 2, "date")
    assert "not monthly" in str(err)


def test_duplicate_id_and_month_is_rejected(tmp_path):
    path = _write(tmp_path, "id,date,value\nA,2024-01,1\nB,2024-01,1\nA,2024-01,2\n")
    with pytest.raises(InputError) as info:
        read_long_file(path, id_col="id")
    assert info.value.row == 3
    assert "twice" in str(info.value)


def test_text_in_value_column_names_row_and_column(tmp_path):
    path = _write(tmp_path, "id,date,value\nA,2024-01,1\nA,2024-02,lots\n")
    with pytest.raises(InputError) as info:
        read_long_file(path, id_col="id")
    err = info.value
    assert (err.row, err.column) == (2, "value")
    assert "'lots' is not a number" in str(err)


def test_unknown_column_is_named(tmp_path):
    path = _write(tmp_path, "id,date,value\nA,2024-01,1\n")
    with pytest.raises(InputError) as info:
        read_long_file(path, id_col="series", date_col="date", value_col="value")
    assert info.value.column == "series"


def test_regularise_trims_leading_zeros_and_fills_gaps():
    frame = pd.DataFrame(
        {
            "unique_id": "A",
            "ds": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-06-01"]),
            "y": [0.0, 3.0, 4.0, 5.0],
        }
    )
    out, info = regularise(frame)
    assert out["ds"].min() == pd.Timestamp("2024-02-01")
    assert out["y"].tolist() == [3.0, 4.0, 0.0, 0.0, 5.0]
    assert info["A"].warnings == [("gaps_zero", {"n": 2})]
