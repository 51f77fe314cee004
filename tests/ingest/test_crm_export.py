"""A CRM export as the field has it: one row per customer with the purchase on the same row, Korean
headers, no customer number (아이디 is the login) and no contract number. ``carsight ingest FILE``
fills customers, purchases and vehicles from it; keys made from content keep re-loads idempotent."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from typer.testing import CliRunner

from carsight.cli import app
from carsight.ingest import load_every_table, load_file, read_table, tables_for
from carsight.warehouse import connect

HEADER = (
    "이름,생년월일,연령,성별,휴대폰번호,이메일,주소,아이디,가입일,차량구분,구매한 제품,친환경차,제품 구매 날짜,"
    "거래 금액,거래방식,제품구매빈도,제품구매경로,제품출시년월,국가,고객 세그먼트,Cluster"
)
ROWS = [
    "김민준,1985-03-12,39,남,010-1234-5678,minjun@example.com,서울특별시 강남구 테헤란로 1,mj85,2021-04-02,준대형 SUV,팰리세이드,False,2023-05-10,52000000,신용카드,2,오프라인,2018-12,대한민국,VIP,2",
    "이서연,1992-11-30,32,여,01098765432,seoyeon@example.com,부산 해운대구 우동 2,sy92,2022-01-15,중형 세단,쏘나타,부,2024-02-20,31000000,계좌이체,1,온라인,2019-03,대한민국,신규,0",
    "박지훈,,45,남,+82 10-5555-0000,jihoon@example.com,경기도 성남시 분당구,jh79,2020-07-07,준중형 세단,아반떼,여,2024-06-01,27000000,현금,1,오프라인,2020-04,대한민국,일반,1",
    "최유나,1999-01-05,25,여,010-2222-3333,yuna@example.com,Somewhere 12,yn99,2023-09-09,소형 SUV,코나 일렉트릭,True,2024-08-15,45000000,포인트,1,온라인,2023-03,대한민국,신규,0",
]


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "고객_구매_내역.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return path


def test_one_export_fills_customers_purchases_and_vehicles(export, tmp_path):
    fits, why_not = tables_for(export)
    assert fits == ["customers", "vehicles", "purchases"]
    assert "leads" in why_not  # a purchase date alone does not make a list of leads
    with connect(str(tmp_path / "w.duckdb"), init=True) as wh:
        reports = {r.table: r for r in load_every_table(wh, export, output_dir=tmp_path)}
        customers = wh.table("customers").to_pandas().set_index("customer_id")
        purchases = wh.table("purchases").to_pandas()
        vehicles = wh.table("vehicles").to_pandas().set_index("model")
        log = wh.table("load_log").to_pandas()
    assert all(r.rejected == 0 for r in reports.values())
    # 아이디 is the best id-like column: it becomes the customer id, in both tables, and says so.
    assert sorted(customers.index) == ["jh79", "mj85", "sy92", "yn99"]
    assert set(purchases["customer_id"]) == set(customers.index)
    assert any("아이디" in n for n in reports["customers"].notes)
    # 생년월일 → birth_year; where it is blank the age (연령) is not mixed in: the column came from dates.
    assert customers.loc["mj85", "birth_year"] == 1985 and pd.isna(customers.loc["jh79", "birth_year"])
    # 주소 → 시/도 in the schema's spelling; an address carsight cannot place stays empty, counted.
    assert customers["region"].to_dict() == {"jh79": "경기도", "mj85": "서울특별시", "sy92": "부산광역시", "yn99": None}
    assert any("1" in n and "주소" in n for n in reports["customers"].notes)
    # phone numbers in one form
    assert customers["phone"].to_dict() == {
        "jh79": "010-5555-0000", "mj85": "010-1234-5678", "sy92": "010-9876-5432", "yn99": "010-2222-3333",
    }  # fmt: skip
    # purchases: no contract number → a key made from content, and said so
    assert purchases["purchase_id"].notna().all() and purchases["purchase_id"].is_unique
    assert any("purchase_id" in n for n in reports["purchases"].notes)
    by_model = purchases.set_index("model")
    assert by_model.loc["팰리세이드", "payment_type"] == "card"
    assert by_model.loc["쏘나타", "payment_type"] == "transfer" and by_model.loc["아반떼", "payment_type"] == "cash"
    assert (by_model.loc["코나 일렉트릭", "payment_type"], by_model.loc["코나 일렉트릭", "payment_detail"]) == (
        "other",
        "포인트",
    )
    assert by_model.loc["쏘나타", "channel"] == "온라인"
    # vehicles: 차량구분 split, 친환경차 read as yes/no (True/False, 여/부), 제품출시년월 → launch month
    assert (vehicles.loc["팰리세이드", "segment"], vehicles.loc["팰리세이드", "body_type"]) == ("준대형", "suv")
    assert (vehicles.loc["아반떼", "segment"], vehicles.loc["아반떼", "body_type"]) == ("준중형", "sedan")
    assert vehicles["eco_friendly"].to_dict() == {
        "팰리세이드": False,
        "쏘나타": False,
        "아반떼": True,
        "코나 일렉트릭": True,
    }
    assert vehicles.loc["쏘나타", "launch_month"] == pd.Timestamp("2019-03-01")
    # every assumption is stored with the load
    assert log["notes"].str.contains("아이디").any()


def test_age_gives_an_approximate_birth_year(tmp_path):
    path = tmp_path / "members.csv"
    path.write_text("회원번호,나이,성별\nM1,40,F\nM2,,M\n", encoding="utf-8")
    result = read_table(path, "customers")
    frame = result.frame.set_index("customer_id")
    assert frame.loc["M1", "birth_year"] == dt.date.today().year - 40 and pd.isna(frame.loc["M2", "birth_year"])
    assert any("approximate" in n or "근사" in n for n in result.notes)


def test_a_keyless_file_reloads_idempotently_and_a_correction_updates_its_row(export, tmp_path):
    with connect(str(tmp_path / "w.duckdb"), init=True) as wh:
        first = load_file(wh, "purchases", export, output_dir=tmp_path)
        again = load_file(wh, "purchases", export, output_dir=tmp_path)
        assert (first.inserted, again.inserted, again.updated, again.unchanged) == (4, 0, 0, 4)
        corrected = export.read_text(encoding="utf-8").replace("31000000", "30500000")
        export.write_text(corrected, encoding="utf-8")
        fixed = load_file(wh, "purchases", export, output_dir=tmp_path)
        assert (fixed.inserted, fixed.updated) == (0, 1)
        amounts = wh.table("purchases").to_pandas().set_index("model")["amount"]
    assert amounts["쏘나타"] == 30_500_000 and len(amounts) == 4


def test_identical_keyless_rows_are_all_kept(tmp_path):
    path = tmp_path / "p.csv"
    row = "C1,2024-01-02,Tucson,100"
    path.write_text(
        "\n".join(["고객번호,구매일,차종,금액", row, row, "C1,2024-01-02,Kona,100"]) + "\n", encoding="utf-8"
    )
    with connect(str(tmp_path / "w.duckdb"), init=True) as wh:
        assert load_file(wh, "purchases", path, output_dir=tmp_path).inserted == 3
        assert load_file(wh, "purchases", path, output_dir=tmp_path).inserted == 0
        ids = wh.table("purchases").to_pandas()["purchase_id"]
    assert ids.str.endswith("-2").sum() == 1  # the repeated row got the running number


def test_cli_without_a_table_says_what_went_where(export, tmp_path, monkeypatch):
    monkeypatch.setenv("CARSIGHT_LANG", "en")
    from carsight.config import reset_settings_cache

    reset_settings_cache()
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["ingest", str(export)])
    assert result.exit_code == 0, result.output
    for table in ("customers", "purchases", "vehicles"):
        assert f"→ {table}" in result.output
    assert "Assumed" in result.output
    refused = tmp_path / "notes.txt"
    refused.write_text("memo\nhello\n", encoding="utf-8")
    bad = runner.invoke(app, ["ingest", str(refused)])
    assert bad.exit_code == 2 and "no table fits this file" in bad.output and "Traceback" not in bad.output
