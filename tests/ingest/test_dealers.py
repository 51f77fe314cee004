"""Dealers in the data: a dealers file, dealer codes under the headers people use, and a dealer
column of names stored as codes."""

from __future__ import annotations

from carsight.i18n import t
from carsight.ingest import load_file
from carsight.warehouse import schema as S

DEALERS = "딜러코드,딜러명,지역,소속지점\nD01,서울 강남지점,서울특별시,수도권\nD10,부산 해운대지점,부산광역시,영남\n"


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_a_dealers_file_with_korean_headers_loads(tmp_warehouse, tmp_path):
    report = load_file(tmp_warehouse, S.DEALERS.name, _write(tmp_path / "딜러.csv", DEALERS, "cp949"))
    assert report.inserted == 2 and report.rejected == 0
    dealers = tmp_warehouse.table(S.DEALERS.name).to_pandas().set_index("dealer_code")
    assert dealers.loc["D10"].tolist() == ["부산 해운대지점", "부산광역시", "영남"]


def test_a_customers_branch_column_of_names_is_stored_as_dealer_codes(tmp_warehouse, tmp_path):
    load_file(tmp_warehouse, S.DEALERS.name, _write(tmp_path / "dealers.csv", DEALERS))
    customers = (
        "고객번호,고객명,관리지점\n"
        "C1,김철수,서울 강남지점\n"  # a name: stored as its code
        "C2,이영희,D10\n"  # already a code
        "C3,박민수,대구 수성지점\n"  # a dealer the dealers file does not list: kept as written
    )
    report = load_file(tmp_warehouse, S.CUSTOMERS.name, _write(tmp_path / "고객.csv", customers))
    stored = tmp_warehouse.table(S.CUSTOMERS.name).to_pandas().set_index("customer_id").dealer_code
    assert stored.to_dict() == {"C1": "D01", "C2": "D10", "C3": "대구 수성지점"}
    assert {t("ingest.assume.dealer_names", lang, n=1) for lang in ("ko", "en")} & set(report.notes)


def test_purchases_keep_the_dealer_name_and_take_the_code_from_its_own_header(tmp_warehouse, tmp_path):
    purchases = "계약번호,고객번호,구매일자,차종,금액,딜러,딜러코드\nP1,C1,2024-03-05,Tucson,31000000,강남지점,D01\n"
    load_file(tmp_warehouse, S.PURCHASES.name, _write(tmp_path / "구매.csv", purchases))
    row = tmp_warehouse.table(S.PURCHASES.name).to_pandas().iloc[0]
    assert (row["dealer"], row["dealer_code"]) == ("강남지점", "D01")


def test_each_table_of_records_finds_its_dealer_code_under_a_branch_header(tmp_warehouse, tmp_path):
    files = {
        S.LEADS.name: "리드번호,고객번호,접수일,판매점\nL1,C1,2024-01-02,D01\n",
        S.SERVICE_VISITS.name: "정비번호,고객번호,입고일,대리점\nV1,C1,2024-01-03,D01\n",
        S.CONSULTATIONS.name: "상담번호,고객번호,상담일시,담당딜러\nQ1,C1,2024-01-04 10:00,D01\n",
    }
    for table, text in files.items():
        load_file(tmp_warehouse, table, _write(tmp_path / f"{table}.csv", text))
        assert tmp_warehouse.table(table).to_pandas().dealer_code.tolist() == ["D01"], table
