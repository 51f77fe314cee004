"""The synonym dictionary: every column of every source table can be found by a Korean and an
English header, and no spelling means two columns of one table."""

from __future__ import annotations

import re

import pytest

from carsight.ingest.headers import header_lookup, match_headers, normalise_header, spellings_for, synonyms
from carsight.warehouse import schema as S

_HANGUL = re.compile(r"[가-힣]")


@pytest.mark.parametrize("table", sorted(S.SOURCE_TABLES))
def test_every_column_has_korean_and_english_spellings(table):
    for column in S.SOURCE_TABLES[table].column_names:
        spellings = spellings_for(table, column)[1:]
        assert any(_HANGUL.search(s) for s in spellings), f"{table}.{column} has no Korean header"
        assert any(not _HANGUL.search(s) for s in spellings), f"{table}.{column} has no English header"


@pytest.mark.parametrize("table", sorted(S.SOURCE_TABLES))
def test_no_spelling_means_two_columns_in_one_table(table):
    names = set(S.SOURCE_TABLES[table].column_names)
    seen: dict[str, str] = {}
    data = synonyms()
    for column, spellings in data["columns"].items():
        if column not in names:
            continue
        for spelling in spellings:
            key = normalise_header(spelling)
            table_specific = data.get("tables", {}).get(table, {})
            if any(normalise_header(s) == key for s in sum(table_specific.values(), [])):
                continue  # the table's own spelling decides
            assert seen.setdefault(key, column) == column, f"'{spelling}' means {seen[key]} and {column} in {table}"


def test_header_normalisation_ignores_case_spaces_punctuation_and_units():
    assert normalise_header("Customer No") == normalise_header("customer_no") == normalise_header(" CUSTOMER-NO ")
    assert normalise_header("판매량(단위: 대)") == normalise_header("판매량")
    assert normalise_header("금액 [원]") == normalise_header("금액")
    lookup = header_lookup("purchases")
    assert lookup[normalise_header("제품 구매 날짜")] == "purchase_date"
    assert lookup[normalise_header("Amount (KRW)")] == "amount"
    assert header_lookup("sales_monthly")[normalise_header("국가명")] == "market"


def test_named_synonyms_from_the_issue():
    cases = {
        "purchases": {
            "고객번호": "customer_id",
            "고객ID": "customer_id",
            "회원번호": "customer_id",
            "customer id": "customer_id",
            "Customer No": "customer_id",
            "제품 구매 날짜": "purchase_date",
            "구매일자": "purchase_date",
            "계약일": "purchase_date",
            "거래 금액": "amount",
            "구매금액": "amount",
            "금액": "amount",
            "Amount": "amount",
            "price": "amount",
            "차종": "model",
            "모델명": "model",
            "Model": "model",
            "브랜드": "brand",
        },
        "sales_monthly": {"국가명": "market", "시장": "market", "Country": "market", "Market": "market",
                          "판매량": "units", "대수": "units", "수량": "units", "units": "units", "Sales": "units"},
        "customers": {"성별": "gender", "지역": "region", "시도": "region"},
        "consultations": {"상담내용": "text", "내용": "text", "VOC": "text"},
    }  # fmt: skip
    for table, headers in cases.items():
        for header, column in headers.items():
            assert match_headers([header], S.SOURCE_TABLES[table]).columns == {header: column}, (table, header)
