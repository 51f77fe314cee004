"""Opening files as people have them: encodings, delimiters, title rows, NFD names, Excel, Parquet."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.ingest import read_raw, read_table
from carsight.ingest.read import open_source

HEADER = "계약번호,고객번호,구매일자,차종,거래 금액\n"
ROWS = 'P1,C1,2024-03-05,투싼," 4,120,000 "\nP2,C2,2024-03-06,아반떼,"2,000,000"\n'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949", "euc-kr"])
def test_encodings_are_detected(tmp_path, encoding):
    path = tmp_path / "구매.csv"
    path.write_bytes((HEADER + ROWS).encode(encoding))
    raw = read_raw(path)
    assert list(raw.columns) == ["계약번호", "고객번호", "구매일자", "차종", "거래 금액"]
    assert raw["차종"].tolist() == ["투싼", "아반떼"]


def test_cp949_text_late_in_an_ascii_start_is_still_decoded(tmp_path):
    # The first megabyte is plain ASCII, so only the rest tells the encoding.
    filler = "".join(f"P{i},C{i},2024-01-01,Tucson,1000\n" for i in range(60_000))
    path = tmp_path / "late.csv"
    path.write_bytes(
        ("purchase_id,customer_id,purchase_date,model,amount\n" + filler + "PX,CX,2024-01-02,쏘나타,5\n").encode(
            "cp949"
        )
    )
    result = read_table(path, "purchases")
    assert result.frame["model"].iloc[-1] == "쏘나타"
    assert len(result.frame) == 60_001


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_delimiters_are_sniffed(tmp_path, delimiter):
    path = tmp_path / "d.txt"
    text = (HEADER + "P1,C1,2024-03-05,투싼,4120000\n").replace(",", delimiter)
    path.write_text(text, encoding="utf-8")
    raw = read_raw(path)
    assert raw.shape == (1, 5)
    assert raw.iloc[0]["거래 금액"] == "4120000"


def test_title_lines_above_the_header_are_skipped(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("2024년 구매 내역\n(단위: 원)\n\n" + HEADER + ROWS, encoding="utf-8")
    src = open_source(path)
    assert src.header_row == 3
    assert read_raw(path)["계약번호"].tolist() == ["P1", "P2"]


def test_nfd_file_name_opens_by_its_nfc_spelling(tmp_path):
    nfc_name = "구매내역.csv"
    nfd_name = unicodedata.normalize("NFD", nfc_name)
    assert nfd_name != nfc_name
    (tmp_path / nfd_name).write_text(HEADER + ROWS, encoding="utf-8")
    result = read_table(tmp_path / nfc_name, "purchases")
    assert result.file == nfc_name
    assert len(result.frame) == 2


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_raw(tmp_path / "nope.csv")


def test_excel_with_a_named_sheet_dates_and_numbers(tmp_path):
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "요약"
    book.active.append(["nothing here"])
    sheet = book.create_sheet("구매")
    sheet.append(["2024 구매"])
    sheet.append([])
    sheet.append(["계약번호", "고객번호", "구매일자", "차종", "거래 금액"])
    sheet.append(["P1", 1001, dt.datetime(2024, 3, 5), "투싼", 41_200_000])
    sheet.append(["P2", 1002, 45357, "아반떼", "2,000,000"])  # an Excel serial typed as a number
    path = tmp_path / "구매.xlsx"
    book.save(path)
    result = read_table(path, "purchases", sheet="구매")
    frame = result.frame
    assert frame["customer_id"].tolist() == ["1001", "1002"]
    assert frame["purchase_date"].tolist() == [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-06")]
    assert frame["amount"].tolist() == [41_200_000.0, 2_000_000.0]
    with pytest.raises(InputError, match="no sheet"):
        read_table(path, "purchases", sheet="없는시트")


def test_parquet_keeps_types(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame(
        {
            "purchase_id": ["P1", "P2"],
            "customer_id": ["C1", "C2"],
            "purchase_date": pd.to_datetime(["2024-03-05", "2024-03-06"]),
            "model": ["Tucson", "Avante"],
            "amount": [1.5e7, 2.0e7],
        }
    ).to_parquet(path)
    frame = read_table(path, "purchases").frame
    assert frame["amount"].tolist() == [1.5e7, 2.0e7]
    assert frame["purchase_date"].iloc[1] == pd.Timestamp("2024-03-06")


def test_ragged_rows_are_rejected_not_fatal(tmp_path):
    path = tmp_path / "r.csv"
    # row 2 has an unquoted thousands separator, so one field too many
    path.write_text(HEADER + "P1,C1,2024-03-05,투싼,4120000\nP2,C2,2024-03-06,아반떼,2,000,000\n", encoding="utf-8")
    result = read_table(path, "purchases")
    assert result.frame["purchase_id"].tolist() == ["P1"]
    assert result.rejected["row_number"].tolist() == [2]
    assert "7" in result.rejected["reason"].iloc[0] and "5" in result.rejected["reason"].iloc[0]
