"""read_table: headers, --map/--set, validation and the rejected rows, without a warehouse."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.ingest import read_table

MESSY = (
    "계약번호,고객번호,구매일자,브랜드,차종,거래 금액,결제방식,비고\n"
    'P001,00123,2024.03.05,Hyundai,Tucson," 34,120,000 ",일시불,x\n'
    "P002,00124,20240306,Kia,Sorento,￦41000000,할부,\n"
    "P003,,2024/3/7,Kia,EV6,abc,현금,\n"
    "P004,00125,2024-13-01,Kia,K5,1000,월부,\n"
    '합계,,,,,"75,120,000",,\n'
    "P001,00123,2024-03-05,Hyundai,Tucson,35000000,리스,\n"
)


@pytest.fixture
def messy(tmp_path):
    path = tmp_path / "구매.csv"
    path.write_bytes(MESSY.encode("cp949"))
    return path


def test_values_are_cleaned_and_typed(messy):
    result = read_table(messy, "purchases")
    frame = result.frame.set_index("purchase_id")
    assert frame.loc["P002", "amount"] == 41_000_000
    assert frame.loc["P002", "purchase_date"] == pd.Timestamp("2024-03-06")
    assert frame.loc["P002", "payment_type"] == "installment"
    assert frame.loc["P002", "customer_id"] == "00124"  # leading zeros kept
    assert list(result.frame.columns) == ["purchase_id", "customer_id", "purchase_date", "brand", "model", "amount",
                                          "payment_type", "payment_detail", "dealer", "channel", "dealer_code"]  # fmt: skip


def test_bad_rows_are_explained_by_row_column_value_and_reason(messy):
    result = read_table(messy, "purchases")
    assert result.rows_read == 6 and result.subtotals == 1 and result.rejected_rows == 2
    rej = result.rejected
    by_cell = {(r.row_number, r.column_name): r for r in rej.itertuples()}
    # An unknown payment word (월부) no longer rejects a row: it is kept as payment_type=other.
    assert set(by_cell) == {(3, "고객번호"), (3, "거래 금액"), (4, "구매일자")}
    assert by_cell[(3, "거래 금액")].value == "abc"
    assert json.loads(by_cell[(3, "거래 금액")].raw)["계약번호"] == "P003"
    assert set(result.frame.purchase_id) == {"P001", "P002"}


def test_duplicate_keys_last_one_wins_and_is_reported(messy):
    result = read_table(messy, "purchases")
    assert result.duplicates == 1
    p001 = result.frame.set_index("purchase_id").loc["P001"]
    assert (p001.amount, p001.payment_type) == (35_000_000, "lease")
    assert any("P001" in w for w in result.warnings)


def test_unknown_columns_are_reported_not_fatal(messy):
    assert read_table(messy, "purchases").unknown_columns == ["비고"]


def test_map_wins_over_synonyms_and_set_fills_a_missing_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("No,Client,When,Car,Total KRW,구분\n1,C1,2024-01-02,Tucson,100,A\n", encoding="utf-8")
    result = read_table(
        path,
        "purchases",
        mapping={"No": "purchase_id", "client": "customer_id", "When": "purchase_date", "Total KRW": "amount"},
        constants={"brand": "Hyundai", "channel": "web"},
    )
    row = result.frame.iloc[0]
    assert (row.purchase_id, row.customer_id, row.model, row.amount, row.brand, row.channel) == (
        "1", "C1", "Tucson", 100.0, "Hyundai", "web"
    )  # fmt: skip
    assert result.unknown_columns == ["구분"]


def test_missing_required_column_is_one_clear_error(tmp_path):
    path = tmp_path / "no-amount.csv"
    path.write_text("계약번호,고객번호,구매일자,차종\nP1,C1,2024-01-01,Tucson\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_table(path, "purchases")
    text = str(info.value)
    assert "no-amount.csv" in text and "amount" in text
    assert "거래 금액" in text and "구매금액" in text  # the spellings it looked for
    assert "--map" in text


def test_map_to_an_unknown_column_or_from_a_missing_header_is_an_error(messy):
    with pytest.raises(InputError, match="no column 'price_krw'"):
        read_table(messy, "purchases", mapping={"거래 금액": "price_krw"})
    with pytest.raises(InputError, match="has no column 'Preis'"):
        read_table(messy, "purchases", mapping={"Preis": "amount"})


def test_validation_ranges(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "고객번호,성별,출생연도,가입일,마케팅동의\n"
        "C1,남,1980,2020-01-01,Y\n"
        "C2,female,1850,2020-01-01,N\n"
        "C3,여,1990,2999-01-01,예\n"
        "C4,?,1990,2020-01-01,maybe\n",
        encoding="utf-8",
    )
    result = read_table(path, "customers")
    assert result.frame.set_index("customer_id")["gender"].to_dict() == {"C1": "M"}
    assert result.frame["marketing_opt_in"].tolist() == [True]
    reasons = result.rejected.set_index(["row_number", "column_name"])["reason"]
    assert {(2, "출생연도"), (3, "가입일"), (4, "성별"), (4, "마케팅동의")} <= set(reasons.index)


def test_sales_corrections_may_be_negative_but_mileage_may_not(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        "brand,model,market,kind,month,units\nH,Tucson,US,수출,2024-01,(5)\nH,Kona,US,수출,2024-01,-\n",
        encoding="utf-8",
    )
    result = read_table(path, "sales_monthly")
    assert result.frame["units"].tolist() == [-5, 0]  # an accounting negative is a correction; '-' is zero
    assert result.rejected.empty
    visits = tmp_path / "v.csv"
    visits.write_text("정비번호,입고일,주행거리\nR1,2024-01-02,-120\nR2,2024-01-03,5000\n", encoding="utf-8")
    assert read_table(visits, "service_visits").rejected["row_number"].tolist() == [1]


def test_unknown_payment_words_are_kept_as_other(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "계약번호,고객번호,구매일자,차종,금액,거래방식\nP1,C1,2024-01-02,Tucson,100,신용카드\n"
        "P2,C1,2024-01-03,Kona,200,계좌이체\nP3,C2,2024-01-04,Ray,50,상품권\nP4,C2,2024-01-05,Ray,50,현금\n",
        encoding="utf-8",
    )
    result = read_table(path, "purchases")
    frame = result.frame.set_index("purchase_id")
    assert frame["payment_type"].to_dict() == {"P1": "card", "P2": "transfer", "P3": "other", "P4": "cash"}
    assert frame.loc["P3", "payment_detail"] == "상품권" and pd.isna(frame.loc["P1", "payment_detail"])
    assert result.rejected.empty and any("other" in n for n in result.notes)


def test_year_and_month_number_columns_make_a_month(tmp_path):
    path = tmp_path / "ym.csv"
    path.write_text('연도,월,브랜드,모델,국가,구분,판매량\n2024,3,Kia,EV6,Korea,내수,"1,204"\n', encoding="utf-8")
    frame = read_table(path, "sales_monthly").frame
    assert frame.iloc[0]["month"] == pd.Timestamp("2024-03-01") and frame.iloc[0]["units"] == 1204


def test_timestamps_for_consultations(tmp_path):
    path = tmp_path / "voc.csv"
    path.write_text("상담번호,상담일시,상담내용\nV1,2024.03.05 14:22,경고등이 켜졌어요 합계\n", encoding="utf-8")
    result = read_table(path, "consultations")
    assert result.frame.iloc[0]["consulted_at"] == pd.Timestamp("2024-03-05 14:22")
    assert result.subtotals == 0  # free text is never read as a subtotal label


def test_required_adds_columns_that_must_be_present_and_filled(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "계약번호,고객번호,구매일자,차종,금액,딜러\nP1,C1,2024-01-01,Tucson,1,강남\nP2,C2,2024-01-01,Kona,2,\n",
        encoding="utf-8",
    )
    result = read_table(path, "purchases", required=["dealer"])
    assert result.frame["purchase_id"].tolist() == ["P1"]
    assert result.rejected[["row_number", "column_name"]].values.tolist() == [[2, "딜러"]]
    path.write_text("계약번호,고객번호,구매일자,차종,금액\nP1,C1,2024-01-01,Tucson,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="dealer"):
        read_table(path, "purchases", required=["dealer"])
