"""Cleaning values: numbers as spreadsheets write them, dates in many spellings, categories."""

from __future__ import annotations

import math

import pandas as pd

from carsight.ingest import clean_number, parse_dates
from carsight.ingest.clean import _categorical_detail, _date_detail, clean_text
from carsight.warehouse import schema as S


def test_numbers_with_separators_currency_parentheses_and_full_width_digits():
    raw = pd.Series([" 4,120 ", "₩1,200,000", "3,000원", "$5.5", "KRW 7,000", "(350)", "１２３", "1 234", "△50", "abc"])
    got = clean_number(raw, dash_is_zero=False).tolist()
    assert got[:9] == [4120.0, 1_200_000.0, 3000.0, 5.5, 7000.0, -350.0, 123.0, 1234.0, -50.0]
    assert math.isnan(got[9])


def test_dash_and_blank_are_zero_only_for_counts():
    raw = pd.Series(["-", "–", "", None, "12"])
    assert clean_number(raw, dash_is_zero=True).tolist() == [0.0, 0.0, 0.0, 0.0, 12.0]
    money = clean_number(raw, dash_is_zero=False)
    assert money.isna().tolist() == [True, True, True, True, False]


def test_already_numeric_columns_are_kept():
    assert clean_number(pd.Series([1, 2, None], dtype="float64"), dash_is_zero=True).tolist() == [1.0, 2.0, 0.0]


def test_common_date_spellings():
    raw = pd.Series(
        [
            "2024-03-05",
            "2024.03.05",
            "2024/3/5",
            "20240305",
            "2024년 3월 5일",
            "45356",
            "2024. 3. 5.",
            "2024-03-05T00:00:00",
        ]
    )
    assert (parse_dates(raw) == pd.Timestamp("2024-03-05")).all()


def test_timestamps_keep_their_time_including_korean_afternoon():
    got = parse_dates(pd.Series(["2024-03-05 14:22:01", "2024.03.05 오후 2:05", "2024-03-05 09:30"]))
    assert got.tolist() == [
        pd.Timestamp("2024-03-05 14:22:01"),
        pd.Timestamp("2024-03-05 14:05"),
        pd.Timestamp("2024-03-05 09:30"),
    ]


def test_day_first_only_when_the_column_makes_it_unambiguous():
    day_first = parse_dates(pd.Series(["05/03/2024", "25/03/2024"]))
    assert day_first.tolist() == [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-25")]
    values, bad, ambiguous = _date_detail(pd.Series(["05/03/2024", "06/04/2024"]))
    assert values.isna().all() and ambiguous.all() and not bad.any()


def test_year_month_is_the_first_of_the_month_and_garbage_is_flagged():
    values, bad, _ = _date_detail(pd.Series(["2024-03", "202403", "not a date", None]))
    assert values.iloc[0] == values.iloc[1] == pd.Timestamp("2024-03-01")
    assert bad.tolist() == [False, False, True, False]


def test_categories_map_korean_and_english_spellings():
    values, bad = _categorical_detail(pd.Series(["남", "남성", "M", "male", "여", "F", "?", None]), "gender", S.GENDERS)
    assert values.tolist()[:6] == ["M", "M", "M", "M", "F", "F"]
    assert bad.tolist() == [False] * 6 + [True, False]
    pt, _ = _categorical_detail(pd.Series(["하이브리드", "HEV", "전기", "BEV", "PHEV"]), "powertrain", S.POWERTRAINS)
    assert pt.tolist() == ["HEV", "HEV", "EV", "EV", "PHEV"]
    pay, _ = _categorical_detail(
        pd.Series(["일시불", "현금", "cash", "할부", "리스", "렌트", "장기렌트"]), "payment_type", S.PAYMENT_TYPES
    )
    assert pay.tolist() == ["cash", "cash", "cash", "installment", "lease", "rent", "rent"]
    kind, _ = _categorical_detail(pd.Series(["내수", "domestic", "수출", "해외생산"]), "kind", S.SALES_KINDS)
    assert kind.tolist() == ["domestic", "domestic", "export", "overseas_plant"]


def test_text_is_nfc_and_trimmed_and_excel_ids_lose_point_zero():
    nfd = "\u1100\u1161\u11a8"  # 각 in decomposed jamo
    assert clean_text(pd.Series([f" {nfd} ", "", None])).tolist()[0] == "각"
    assert clean_text(pd.Series([f" {nfd} ", "", None])).isna().tolist() == [False, True, True]
    assert clean_text(pd.Series([10234.0, 55.0])).tolist() == ["10234", "55"]
