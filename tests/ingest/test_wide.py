"""Wide layouts and subtotals: month columns and market columns melted, totals never counted twice."""

from __future__ import annotations

import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.ingest import melt_wide, read_table
from carsight.ingest.wide import is_subtotal, month_of_header

EXPORT = {"brand": "Hyundai", "kind": "export"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1월", (None, 1)),
        ("12월", (None, 12)),
        ("Jan", (None, 1)),
        ("Jan.", (None, 1)),
        ("Sept", (None, 9)),
        ("December", (None, 12)),
        ("2024-01", (2024, 1)),
        ("2024.11", (2024, 11)),
        ("202403", (2024, 3)),
        ("2024년 3월", (2024, 3)),
        ("Mar-24", (2024, 3)),
        ("Market", None),
        ("13월", None),
        ("합계", None),
        ("model", None),
    ],
)
def test_month_headers(header, expected):
    assert month_of_header(header) == expected


def test_subtotal_labels():
    labels = pd.Series(
        ["Tucson", "합계", "Total", "총합", "소계", "계", "총계", "Sub-total", "GRAND TOTAL", "SUV 소계", "세계", None]
    )
    assert is_subtotal(labels).tolist() == [False] + [True] * 9 + [False, False]


def test_melt_wide_takes_the_year_from_the_file_name_and_drops_the_total_column():
    frame = pd.DataFrame({"차종": ["투싼"], "1월": ["10"], "2월": ["-"], "합계": ["10"]})
    long = melt_wide(frame, file_name="수출실적_2023.xlsx")
    assert long.columns.tolist() == ["차종", "month", "units"]
    assert long["month"].tolist() == [pd.Timestamp("2023-01-01"), pd.Timestamp("2023-02-01")]
    assert long["units"].tolist() == ["10", "-"]


def test_melt_wide_without_a_year_is_a_clear_error():
    frame = pd.DataFrame({"model": ["Tucson"], "Jan": ["1"], "Feb": ["2"]})
    with pytest.raises(InputError, match="year"):
        melt_wide(frame, file_name="sales.csv")
    assert melt_wide(frame, year=2022)["month"].iloc[0] == pd.Timestamp("2022-01-01")


def test_korean_wide_months_cp949_with_total_row_and_total_column(tmp_path):
    text = (
        "2024년 차종별 수출 실적\n(단위: 대)\n"
        "차종,1월,2월,3월,합계\n"
        '아반떼," 4,120 ",-,100,"4,220"\n'
        "투싼,10,20,30,60\n"
        '합계,"4,130",20,130,"4,280"\n'
    )
    path = tmp_path / "수출_2024.csv"
    path.write_bytes(text.encode("cp949"))
    result = read_table(path, "sales_monthly", constants={**EXPORT, "market": "US"})
    frame = result.frame
    assert result.wide == "months" and result.subtotals == 1
    assert len(frame) == 6
    assert frame["units"].sum() == 4280  # the total row and total column are not added again
    avante = frame[frame.model == "아반떼"].set_index("month")["units"]
    assert avante.to_dict() == {
        pd.Timestamp("2024-01-01"): 4120,
        pd.Timestamp("2024-02-01"): 0,
        pd.Timestamp("2024-03-01"): 100,
    }
    assert result.row_numbers[frame.model == "투싼"].unique().tolist() == [2]
    assert result.unknown_columns == []
    assert any("합계" in n for n in result.notes)  # the total column is said to be left out


def test_english_wide_months_with_a_year_column_and_bad_cell(tmp_path):
    path = tmp_path / "sales.tsv"
    path.write_text(
        "Year\tModel\tMarket\tJan.\tFeb.\tMar.\tTotal\n2023\tTucson\tUSA\t1\tx\t3\t4\n2023\tSub-total\t\t1\t0\t3\t4\n",
        encoding="utf-8",
    )
    result = read_table(path, "sales_monthly", constants=EXPORT)
    assert result.frame["month"].tolist() == [pd.Timestamp("2023-01-01"), pd.Timestamp("2023-03-01")]
    assert result.subtotals == 1
    bad = result.rejected.iloc[0]
    assert (bad.row_number, bad.column_name, bad.value) == (1, "Feb.", "x")


def test_headers_that_carry_their_own_year(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("model,market,2023-12,2024-01\nG70,Korea,5,7\n", encoding="utf-8")
    frame = read_table(path, "sales_monthly", constants={"brand": "Genesis", "kind": "domestic"}).frame
    assert frame["month"].tolist() == [pd.Timestamp("2023-12-01"), pd.Timestamp("2024-01-01")]


def test_month_columns_without_a_year_need_one(tmp_path):
    path = tmp_path / "no-year.csv"
    path.write_text("model,market,1월,2월\nG70,Korea,5,7\n", encoding="utf-8")
    with pytest.raises(InputError, match="year"):
        read_table(path, "sales_monthly", constants={"brand": "Genesis", "kind": "domestic"})
    frame = read_table(path, "sales_monthly", constants={"brand": "Genesis", "kind": "domestic"}, year=2021).frame
    assert frame["month"].min() == pd.Timestamp("2021-01-01")


def test_one_column_per_market_is_melted(tmp_path):
    path = tmp_path / "markets.csv"
    path.write_text("차종,월,미국,중국,유럽,합계\nTucson,2024-01,10,-,5,15\nAvante,2024-01,3,4,,7\n", encoding="utf-8")
    result = read_table(path, "sales_monthly", constants=EXPORT)
    assert result.wide == "markets"
    table = result.frame.pivot_table(index="model", columns="market", values="units", aggfunc="sum")
    # Market names are stored in one spelling whatever the file's language (미국, U.S.A., US → USA).
    assert table.loc["Tucson"].to_dict() == {"USA": 10, "Europe": 5, "China": 0}
    assert result.frame["units"].sum() == 22


def test_text_columns_are_not_taken_for_markets(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("model,month,units,note\nTucson,2024-01,10,fine\n", encoding="utf-8")
    result = read_table(path, "sales_monthly", constants=EXPORT)
    # No market column: the documented default, said in the notes; the text column stays a label.
    assert result.frame["market"].tolist() == ["(all)"] and result.frame["units"].tolist() == [10]
    assert any("market" in n for n in result.notes) and result.unknown_columns == ["note"]


def test_excel_wide_months_with_dash_cells_and_a_total_row(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "내수"
    sheet.append(["2023년 내수 판매 (단위: 대)"])
    sheet.append(["모델", "1월", "2월", "3월", "합계"])
    sheet.append(["쏘렌토", 7_012, "-", " 1,300 ", 8_312])
    sheet.append(["합계", 7_012, 0, 1_300, 8_312])
    path = tmp_path / "내수_2023.xlsx"
    book.save(path)
    result = read_table(path, "sales_monthly", constants={"brand": "Kia", "kind": "내수", "market": "Korea"})
    assert result.subtotals == 1
    assert result.frame["units"].tolist() == [7012, 0, 1300]
    assert set(result.frame["kind"]) == {"domestic"}
