"""The scoped reader on a small warehouse with known answers: which rows, which masks, which tables."""

from __future__ import annotations

import pandas as pd
import pytest

from carsight.access import policy as P
from carsight.access.reader import scoped
from carsight.access.scope import LOCAL, Scope
from carsight.errors import AccessDenied, NotFoundError
from carsight.warehouse import connect, open_reader
from carsight.warehouse import results_customers as RC
from carsight.warehouse import results_voc as RVOC
from carsight.warehouse import schema as S

from .scope_rows import complete

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3", "C4"],
        "name": ["김철수", "John Smith", "이영희", "박민수"],
        "phone": ["010-1234-5678", "010-2222-3333", "010-9999-0001", None],
        "email": ["chulsoo@example.com", "john@mail.net", "yh@daum.net", "ms@naver.com"],
        "region": ["서울특별시", "부산광역시", "서울특별시", "경기도"],
        "dealer_code": ["D01", "D10", "D01", None],
    }
)
PURCHASES = pd.DataFrame(
    {
        "purchase_id": ["P1", "P2", "P3", "P4"],
        "customer_id": ["C1", "C2", "C3", "C1"],
        "purchase_date": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-03-01", "2025-01-10"]),
        "model": ["Tucson", "Avante", "G80", "Tucson"],
        "amount": [3.1e7, 2.2e7, 6.5e7, 3.2e7],
        "dealer_code": ["D01", "D10", "D01", "D10"],  # C1 bought a second car at another dealer
    }
)
CONSULTATIONS = pd.DataFrame(
    {
        "consultation_id": ["Q1", "Q2", "Q3"],
        "customer_id": ["C1", "C2", None],
        "consulted_at": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 11:00", "2024-05-03 12:00"]),
        "text": ["김철수입니다 010-1234-5678로 전화주세요", "브레이크 소음", "경고등"],
        "dealer_code": ["D01", "D10", None],
    }
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("scoped") / "wh.duckdb")
    with connect(path, init=True) as wh:
        wh.upsert(
            S.DEALERS, pd.DataFrame({"dealer_code": ["D01", "D10"], "name": ["서울 강남지점", "부산 해운대지점"]})
        )
        wh.upsert(S.CUSTOMERS, CUSTOMERS)
        wh.upsert(S.PURCHASES, PURCHASES)
        wh.upsert(S.CONSULTATIONS, CONSULTATIONS)
        wh.upsert(
            S.SALES_MONTHLY,
            pd.DataFrame(
                {"brand": ["Hyundai"], "model": ["Tucson"], "market": ["KR"], "kind": ["domestic"],
                 "month": pd.to_datetime(["2024-01-01"]), "units": [100]}
            ),
        )  # fmt: skip
        wh.replace(
            RC.CUSTOMER_RFM,
            complete(RC.CUSTOMER_RFM, pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4"], "as_of": pd.to_datetime(["2025-01-01"] * 4),
                          "rfm_score": [90.0, 50.0, 70.0, 10.0]})),
        )  # fmt: skip
        wh.replace(
            RVOC.VOC_CONSULTATIONS,
            complete(RVOC.VOC_CONSULTATIONS, pd.DataFrame(
                {"consultation_id": ["Q1", "Q2", "Q3"], "consulted_at": CONSULTATIONS.consulted_at,
                 "date": CONSULTATIONS.consulted_at.dt.date,
                 "text_masked": ["[이름]입니다 [전화번호]로 전화주세요", "브레이크 소음", "경고등"]}
            )),
        )  # fmt: skip
        wh.replace(
            RVOC.VOC_KEYWORD_DAILY,
            pd.DataFrame({"date": pd.to_datetime(["2024-05-01", "2024-05-02", "2024-05-02"]).date,
                          "model": ["Tucson", "Avante", "Tucson"], "topic": ["소음", "소음", "경고등"],
                          "keyword": ["브레이크", "브레이크", "경고등"], "count": [2, 1, 4]}),
        )  # fmt: skip
    return path


def _read(path: str, scope: Scope, table: str) -> pd.DataFrame:
    with scoped(open_reader(path), scope) as r:
        return r.table(table).execute()


DEALER_D01 = Scope("kang", "dealer", frozenset({"D01"}))


def test_a_dealer_sees_exactly_its_own_rows(warehouse):
    assert sorted(_read(warehouse, DEALER_D01, S.CUSTOMERS.name).customer_id) == ["C1", "C3"]
    # Purchases by their own dealer code: C1's second car, sold by D10, is D10's row.
    assert sorted(_read(warehouse, DEALER_D01, S.PURCHASES.name).purchase_id) == ["P1", "P3"]
    assert sorted(_read(warehouse, DEALER_D01, S.CONSULTATIONS.name).consultation_id) == ["Q1"]
    # Result tables keyed by customer: the customers the dealer sees.
    assert sorted(_read(warehouse, DEALER_D01, RC.CUSTOMER_RFM.name).customer_id) == ["C1", "C3"]
    # Per-consultation results: the dealer's consultations.
    assert sorted(_read(warehouse, DEALER_D01, RVOC.VOC_CONSULTATIONS.name).consultation_id) == ["Q1"]
    # The dealers list: its own dealer only.
    assert _read(warehouse, DEALER_D01, S.DEALERS.name).dealer_code.tolist() == ["D01"]
    # Market aggregates are shared.
    assert len(_read(warehouse, DEALER_D01, S.SALES_MONTHLY.name)) == 1


def test_a_dealer_of_two_codes_sees_both_and_counts_agree(warehouse):
    both = Scope("lee", "dealer", frozenset({"D01", "D10"}))
    with scoped(open_reader(warehouse), both) as r:
        assert r.count(S.CUSTOMERS.name) == 3  # C4 has no dealer: nobody's
        assert r.count(S.PURCHASES.name) == 4
        t = r.table(S.PURCHASES.name)
        per_dealer = t.group_by("dealer_code").aggregate(n=t.count()).execute().set_index("dealer_code").n
        assert per_dealer.to_dict() == {"D01": 2, "D10": 2}


def test_personal_data_is_visible_to_admin_and_dealer(warehouse):
    for scope in (LOCAL, DEALER_D01):
        customers = _read(warehouse, scope, S.CUSTOMERS.name).set_index("customer_id")
        assert customers.loc["C1", "name"] == "김철수"
        assert customers.loc["C1", "phone"] == "010-1234-5678"


def test_hq_sees_every_customer_masked(warehouse):
    customers = _read(warehouse, Scope("hq1", "hq"), S.CUSTOMERS.name).set_index("customer_id")
    assert len(customers) == 4
    assert customers.loc["C1", ["name", "phone", "email"]].tolist() == ["김**", "****5678", "c***@example.com"]
    assert customers.loc["C2", "name"] == "J. S."
    assert pd.isna(customers.loc["C4", "phone"])
    # Not personal data: kept.
    assert customers.loc["C1", "region"] == "서울특별시"
    texts = _read(warehouse, Scope("hq1", "hq"), S.CONSULTATIONS.name).set_index("consultation_id").text
    assert texts["Q1"] == "[이름]입니다 [전화번호]로 전화주세요"


def test_an_agent_sees_the_served_customer_unmasked_and_no_one_else(warehouse):
    agent = Scope("park", "agent", serving="C2")
    customers = _read(warehouse, agent, S.CUSTOMERS.name).set_index("customer_id")
    assert customers.loc["C2", ["name", "phone", "email"]].tolist() == ["John Smith", "010-2222-3333", "john@mail.net"]
    assert customers.loc["C1", "name"] == "김**"
    texts = _read(warehouse, agent, S.CONSULTATIONS.name).set_index("consultation_id").text
    assert texts["Q2"] == "브레이크 소음"
    assert "010-1234-5678" not in texts["Q1"]


def test_without_the_voc_step_hq_sees_no_consultation_text(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    with connect(path, init=True) as wh:
        wh.upsert(S.CONSULTATIONS, CONSULTATIONS)
    texts = _read(path, Scope("hq1", "hq"), S.CONSULTATIONS.name).text
    assert texts.isna().all()


@pytest.mark.parametrize(
    ("scope", "table"),
    [
        (Scope("park", "agent"), S.LEADS.name),
        (Scope("park", "agent"), S.CAMPAIGNS.name),
        (Scope("park", "agent"), S.CAMPAIGN_CONTACTS.name),
        (DEALER_D01, S.QUARANTINE.name),
        (Scope("hq1", "hq"), S.LOAD_LOG.name),
    ],
)
def test_a_forbidden_table_is_refused_and_not_listed(warehouse, scope, table):
    with scoped(open_reader(warehouse), scope) as r:
        with pytest.raises(AccessDenied, match=table):
            r.table(table)
        assert table not in r.list_tables()
        assert table not in r.catalogue()
        assert not r.has_table(table)


def test_admin_lists_every_table(warehouse):
    with scoped(open_reader(warehouse), LOCAL) as r, open_reader(warehouse) as raw:
        assert r.list_tables() == sorted(raw.con.list_tables())


def test_a_customer_out_of_scope_is_not_found_like_one_that_does_not_exist(warehouse):
    with scoped(open_reader(warehouse), DEALER_D01) as r:
        assert r.customer("C1")["name"] == "김철수"
        with pytest.raises(NotFoundError) as elsewhere:
            r.customer("C2")
        with pytest.raises(NotFoundError) as nowhere:
            r.customer("C999")
    assert str(elsewhere.value).replace("C2", "?") == str(nowhere.value).replace("C999", "?")


def test_the_reader_hands_out_no_sql_or_connection(warehouse):
    with scoped(open_reader(warehouse), DEALER_D01) as r:
        for name in ("con", "sql", "raw_sql", "execute", "upsert", "replace"):
            assert not hasattr(r, name), name


def test_a_warehouse_from_before_dealer_codes_opens_and_shows_a_dealer_nothing(tmp_path):
    path = str(tmp_path / "old.duckdb")
    with connect(path, init=True) as wh:
        wh.upsert(S.CUSTOMERS, CUSTOMERS)
        wh.con.raw_sql(f"ALTER TABLE {S.CUSTOMERS.name} DROP COLUMN dealer_code")
    with scoped(open_reader(path), LOCAL) as r:
        assert r.count(S.CUSTOMERS.name) == 4
    with scoped(open_reader(path), DEALER_D01) as r:
        assert r.count(S.CUSTOMERS.name) == 0
        assert r.count(RC.CUSTOMER_RFM.name) == 0
    with connect(path) as wh:  # `carsight init` adds the column
        assert "added customers.dealer_code" in wh.init()


def test_every_table_has_a_rule_and_shared_tables_hold_no_person():
    personal = {"customer_id", "consultation_id", "email", "phone", "text", "text_masked"}
    for name, table in S.ALL_TABLES.items():
        rule = P.row_rule(name)
        assert rule in (P.DEALER, P.CUSTOMER, P.CONSULTATION, P.SHARED), name
        if rule == P.SHARED:
            assert not personal & set(table.column_names), (
                f"{name} is shared but holds {personal & set(table.column_names)}"
            )
    for name, columns in P.MASKED.items():
        assert set(columns) <= set(S.ALL_TABLES[name].column_names)
    # Every e-mail and phone column of the schema is masked.
    for name, table in S.ALL_TABLES.items():
        for column in ("email", "phone"):
            if column in table.column_names:
                assert column in P.MASKED.get(name, {}), f"{name}.{column} is not masked"


# ---- the edges read through it ----------------------------------------------------------------
def test_dashboard_pages_read_as_their_scope_and_never_share_a_cached_answer(warehouse):
    from carsight.dashboard import data

    with data.Reader(warehouse) as local:  # the local one-person mode: everything, as before
        assert data.count(local, S.CUSTOMERS.name) == 4
        assert data.search_customers(local, "").name.tolist()[0] == "김철수"
    with data.Reader(warehouse, scope=DEALER_D01) as dealer:
        assert data.count(dealer, S.CUSTOMERS.name) == 2
        assert data.search_customers(dealer, "").customer_id.tolist() == ["C1", "C3"]
        assert data.rows_for(dealer, S.PURCHASES.name, "customer_id", "C1").purchase_id.tolist() == ["P1"]
        assert S.QUARANTINE.name not in data.tables(dealer)
    with data.Reader(warehouse, scope=Scope("hq1", "hq")) as hq:
        assert data.count(hq, S.CUSTOMERS.name) == 4
        assert "김철수" not in data.search_customers(hq, "").name.tolist()


def test_voc_keywords_are_shared_aggregates_read_through_the_scoped_reader(warehouse):
    from carsight.voc.aggregate import top_keywords

    answers = []
    for scope in (LOCAL, DEALER_D01, Scope("park", "agent")):
        with scoped(open_reader(warehouse), scope) as r:
            answers.append(top_keywords(r, model="Tucson", start="2024-05-01", end="2024-05-31", n=5))
    for answer in answers:
        assert answer.to_dict("list") == {"keyword": ["경고등", "브레이크"], "count": [4, 2]}
    with open_reader(warehouse) as raw:  # a warehouse passed as it is reads in local mode
        assert top_keywords(raw, topic="소음", n=5).to_dict("list") == {"keyword": ["브레이크"], "count": [3]}


def test_a_report_built_on_a_dealers_reader_counts_only_its_purchases(warehouse, tmp_path):
    from carsight.config import Settings
    from carsight.reports.build import build_report

    settings = Settings(warehouse=warehouse, output_dir=tmp_path)
    with scoped(open_reader(warehouse), DEALER_D01) as r:
        report = build_report(r, settings, "customers", "2024-03", output=tmp_path / "dealer.html")
    html = report.path.read_text(encoding="utf-8")
    assert "G80" in html and "Avante" not in html  # P3 is D01's; P2 (February, D10) is not
