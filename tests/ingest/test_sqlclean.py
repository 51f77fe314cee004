"""A plain UTF-8 CSV is read and typed by DuckDB (carsight.ingest.sqlclean); the result must be exactly
the chunked reader's: the same rows stored, the same rows rejected with the same reasons, the same
counts. Each file here is loaded both ways and compared."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from carsight.ingest import load as load_module
from carsight.ingest import load_file, sqlclean
from carsight.warehouse import connect

PURCHASES_HEADER = "계약번호,고객번호,구매일자,브랜드,차종,거래 금액,결제방식,지점,비고\n"
NFD_DEALER = unicodedata.normalize("NFD", "강남 카페점")
PURCHASES = [
    'P1,C1,2024-03-05,현대,Tucson," 4,120,000 ",일시불,강남지점,메모',
    "P2,C2,2024.03.06,HYUNDAI,Avante,-,할부, Dealer 1 ,",
    "P3,C3,05/03/2024,Kia,Kona,(1),리스,Dealer 2,",
    "P4,C4,25/03/2024,kia,K5,3000000,포인트,Dealer 3,",
    "P5,,2024-03-08,Genesis,G70,abc,카드,Dealer 4,",
    "P6,C6,2024-02-30,Genesis,GV80,5000000,현금,Dealer 5,",
    "P7,C7,2031-01-01,Genesis,GV70,5000000,현금,Dealer 5,",
    "P8,C8,1899-12-31,Genesis,GV60,5000000,현금,Dealer 5,",
    'P9,C9,20240305,현대,"Ioniq\n5",1e6,신용카드,"Dealer, 6",',
    '합계,,,,,"22,620,000",,,',
    "P10,C10,2024-03-10 14:22,현대,Sonata,7000000,계좌이체,Ｄｅａｌｅｒ\u3000７\u3000,",
    "P2,C2,2024.03.06,HYUNDAI,Avante,2500000,할부,Dealer 1,",
    ",,,,,,,,",
    "P11,C11,2024-03-11,,Casper,-5000,상품권,Dealer 8,",
    "P12,C12,2024-3-12,현대,Santa Fe,12.5,현금,,",
    f'P13,C13,2024-03-13,현대,Staria,"13,000,000",현금,{NFD_DEALER},',
    "P16,C16,2024-03-16 09:05:59,현대,Venue,16000000,현금,판교점,",
    "P17,C17,2024-03-17 24:00:00,현대,Venue,17000000,현금,판교점,",
    "P14,C14,2024-03-14,현대,Tucson,4100000,,Dealer 9,SUV 소계",
    "P15,C15,2024-03-15,현대,Tucson,4100000,lease,Dealer 10,",
]
CUSTOMERS_HEADER = "customer_id,name,gender,birth_year,join_date,channel,email,phone,marketing_opt_in\n"
CUSTOMERS = [
    "C1,김민준,남,1985,2020-01-05,web,a@b.kr,010-1234-5678,Y",
    "C2,Lee,F,1850,2020-01-06,showroom, B@C.KR ,+82 10 2345 6789,아니오",
    "C3,Park,x,1990.5,2020-13-01,referral,,01034567890,maybe",
    "C4,,female,,,,,,",
    "C1,김민준,남,1986,2020-01-05,web,a@b.kr,010-1234-5678,동의",
]


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _stored(wh, table: str) -> pd.DataFrame:
    frame = wh.table(table).to_pandas()
    frame = frame.sort_values(list(frame.columns[:1])).reset_index(drop=True).astype(object)
    return frame.where(frame.notna(), None)


def _quarantine(wh) -> pd.DataFrame:
    frame = wh.table("quarantine").to_pandas().drop(columns=["load_id", "rejected_at"])
    return frame.astype(object).where(frame.notna(), None)


def _both_ways(tmp_path: Path, monkeypatch, table: str, path: Path, **options):
    """Load ``path`` in SQL and in chunks (two warehouses); the two reports and warehouses."""
    used = []
    real = sqlclean.stage_csv

    def spy(records, stage):
        staged = real(records, stage)
        used.append(staged is not None)
        return staged

    monkeypatch.setattr(load_module, "stage_csv", spy)
    sql_wh = connect(str(tmp_path / "sql.duckdb"), init=True)
    in_sql = load_file(sql_wh, table, path, output_dir=tmp_path, **options)
    assert used == [True], "the file did not go through DuckDB"
    monkeypatch.setattr(load_module, "stage_csv", lambda records, stage: None)
    chunk_wh = connect(str(tmp_path / "chunks.duckdb"), init=True)
    in_chunks = load_file(chunk_wh, table, path, output_dir=tmp_path, chunk_rows=4, **options)
    return in_sql, sql_wh, in_chunks, chunk_wh


def _assert_same(in_sql, sql_wh, in_chunks, chunk_wh, table: str) -> None:
    for name in ("rows_read", "inserted", "updated", "unchanged", "rejected", "subtotals", "duplicates"):
        assert getattr(in_sql, name) == getattr(in_chunks, name), name
    assert (in_sql.warnings, in_sql.notes, in_sql.unknown_columns) == (
        in_chunks.warnings,
        in_chunks.notes,
        in_chunks.unknown_columns,
    )
    pd.testing.assert_frame_equal(_stored(sql_wh, table), _stored(chunk_wh, table))
    # One known difference: the chunked reader types a column of numbers first, so a bad value it
    # quarantines reads "1850.0" (and 1850.0 in the raw row); DuckDB's cells keep the file's "1850".
    typed = _quarantine(chunk_wh)
    typed["value"] = typed["value"].map(_as_in_file)
    typed["raw"] = typed["raw"].map(lambda raw: json.dumps({k: _as_in_file(v) for k, v in json.loads(raw).items()}))
    cells = _quarantine(sql_wh)
    cells["raw"] = cells["raw"].map(lambda raw: json.dumps(json.loads(raw)))
    pd.testing.assert_frame_equal(cells, typed)


def _as_in_file(value):
    if isinstance(value, float):
        value = str(value)
    return value[:-2] if isinstance(value, str) and value.endswith(".0") else value


def test_a_messy_purchases_file_loads_in_sql_exactly_as_in_chunks(tmp_path, monkeypatch):
    path = _write(tmp_path / "구매.csv", PURCHASES_HEADER, PURCHASES)
    in_sql, sql_wh, in_chunks, chunk_wh = _both_ways(tmp_path, monkeypatch, "purchases", path)
    _assert_same(in_sql, sql_wh, in_chunks, chunk_wh, "purchases")
    # Known answers, so that both ways cannot be wrong together.
    assert (in_sql.rows_read, in_sql.subtotals, in_sql.inserted) == (19, 2, 12)
    stored = _stored(sql_wh, "purchases").set_index("purchase_id")
    assert stored.loc["P1", "amount"] == 4_120_000 and stored.loc["P1", "brand"] == "Hyundai"
    assert stored.loc["P3", "amount"] == -1 and str(stored.loc["P3", "purchase_date"])[:10] == "2024-03-05"
    assert (stored.loc["P4", "payment_type"], stored.loc["P4", "payment_detail"]) == ("other", "포인트")
    assert stored.loc["P9", "model"] == "Ioniq\n5" and stored.loc["P9", "dealer"] == "Dealer, 6"
    assert stored.loc["P10", "dealer"] == "Ｄｅａｌｅｒ\u3000７"
    assert stored.loc["P13", "dealer"] == unicodedata.normalize("NFC", NFD_DEALER)
    assert stored.loc["P13", "amount"] == 13_000_000 and stored.loc["P1", "dealer"] == "강남지점"
    assert str(stored.loc["P16", "purchase_date"])[:10] == "2024-03-16"
    assert stored.loc["P2", "amount"] == 2_500_000
    rejected = _quarantine(sql_wh)
    assert set(rejected["row_number"]) == {2, 5, 6, 7, 8}
    assert set(rejected.loc[rejected["row_number"] == 5, "column_name"]) == {"고객번호", "거래 금액"}
    sql_wh.close()
    chunk_wh.close()


def test_constants_and_reloads_agree_too(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.csv", PURCHASES_HEADER, PURCHASES)
    options = {"constants": {"brand": "Genesis", "channel": "web"}}
    in_sql, sql_wh, in_chunks, chunk_wh = _both_ways(tmp_path, monkeypatch, "purchases", path, **options)
    _assert_same(in_sql, sql_wh, in_chunks, chunk_wh, "purchases")
    stored = _stored(sql_wh, "purchases").set_index("purchase_id")
    assert stored.loc["P11", "brand"] == "Genesis" and set(stored["channel"]) == {"web"}
    # The same file again, each way: nothing changes.
    monkeypatch.setattr(load_module, "stage_csv", sqlclean.stage_csv)
    again = load_file(sql_wh, "purchases", path, output_dir=tmp_path, **options)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, in_sql.inserted)
    sql_wh.close()
    chunk_wh.close()


def test_customers_with_categories_numbers_phones_and_yes_no(tmp_path, monkeypatch):
    path = _write(tmp_path / "c.csv", CUSTOMERS_HEADER, CUSTOMERS)
    in_sql, sql_wh, in_chunks, chunk_wh = _both_ways(tmp_path, monkeypatch, "customers", path)
    _assert_same(in_sql, sql_wh, in_chunks, chunk_wh, "customers")
    stored = _stored(sql_wh, "customers").set_index("customer_id")
    assert (stored.loc["C1", "gender"], stored.loc["C1", "birth_year"], stored.loc["C1", "marketing_opt_in"]) == (
        "M",
        1986,
        True,
    )
    assert stored.loc["C4", "gender"] == "F"
    rejected = _quarantine(sql_wh)
    assert set(rejected["row_number"]) == {2, 3}
    assert rejected.loc[rejected["column_name"] == "birth_year", "value"].tolist() == ["1850", "1990.5"]
    sql_wh.close()
    chunk_wh.close()


@pytest.mark.parametrize(
    "text",
    [
        PURCHASES_HEADER + PURCHASES[0] + "\n\n" + PURCHASES[1] + "\n",  # a blank line counts as a row
        PURCHASES_HEADER + PURCHASES[0] + "\nP9,C9,2024-03-05,현대,Kona,1,현금,Dealer 1,,one too many\n",
    ],
)
def test_files_duckdb_would_read_differently_are_read_in_chunks(tmp_warehouse, tmp_path, text):
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    report = load_file(tmp_warehouse, "purchases", path, output_dir=tmp_path)
    assert report.rows_read == 2
    assert tmp_warehouse.count("purchases") + report.rejected == 2


def test_a_blank_line_still_counts_in_the_numbers_of_rejected_rows(tmp_warehouse, tmp_path):
    # DuckDB's reader skips blank lines; the rows rejected after one keep their number in the file.
    path = tmp_path / "p.csv"
    path.write_text(PURCHASES_HEADER + PURCHASES[0] + "\n\n" + PURCHASES[4] + "\n", encoding="utf-8")
    report = load_file(tmp_warehouse, "purchases", path, output_dir=tmp_path)
    assert (report.rows_read, report.inserted, report.rejected) == (2, 1, 1)
    assert set(tmp_warehouse.table("quarantine").to_pandas()["row_number"]) == {3}


def test_title_lines_above_the_header_are_skipped_in_sql(tmp_path, monkeypatch):
    # DuckDB skips lines (blank ones too) up to the header; a blank line there moves no row number.
    path = _write(tmp_path / "p.csv", "2024년 구매 내역\n\n(단위: 원)\n" + PURCHASES_HEADER, PURCHASES)
    in_sql, sql_wh, in_chunks, chunk_wh = _both_ways(tmp_path, monkeypatch, "purchases", path)
    _assert_same(in_sql, sql_wh, in_chunks, chunk_wh, "purchases")
    assert (in_sql.inserted, in_sql.rejected) == (12, 5)
    assert set(_quarantine(sql_wh)["row_number"]) == {2, 5, 6, 7, 8}
    sql_wh.close()
    chunk_wh.close()


def test_windows_line_ends_and_a_byte_order_mark_agree_too(tmp_path, monkeypatch):
    text = "\ufeff" + (PURCHASES_HEADER + "\n".join(PURCHASES) + "\n").replace("\n", "\r\n")
    path = tmp_path / "p.csv"
    path.write_bytes(text.encode("utf-8"))
    in_sql, sql_wh, in_chunks, chunk_wh = _both_ways(tmp_path, monkeypatch, "purchases", path)
    _assert_same(in_sql, sql_wh, in_chunks, chunk_wh, "purchases")
    assert (in_sql.inserted, in_sql.rejected, in_sql.subtotals) == (12, 5, 2)
    sql_wh.close()
    chunk_wh.close()
