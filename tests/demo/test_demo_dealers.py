"""The demo's dealers: loaded from a Korean-headed file, unequal in size, and carried by each
customer's records (mostly)."""

from __future__ import annotations

import pandas as pd
import pytest

from carsight.demo import dealers as D
from carsight.warehouse import connect
from carsight.warehouse import schema as S


@pytest.fixture(scope="module")
def wh(demo_wh_path):
    with connect(str(demo_wh_path), read_only=True) as w:
        yield w


@pytest.fixture(scope="module")
def customers(wh) -> pd.DataFrame:
    return wh.table(S.CUSTOMERS.name).select("customer_id", "dealer_code").to_pandas()


def test_the_dealers_file_loads_through_its_korean_headers(wh):
    dealers = wh.table(S.DEALERS.name).to_pandas().set_index("dealer_code")
    assert len(dealers) == len(D.CODES) == 22
    assert dealers.loc["D01", ["name", "region", "branch"]].tolist() == ["서울 강남지점", "서울특별시", "수도권"]
    assert dealers.notna().all().all()


def test_customers_spread_over_every_dealer_big_cities_first(wh, customers):
    dealers = wh.table(S.DEALERS.name).to_pandas().set_index("dealer_code")
    assert customers.dealer_code.notna().all()
    assert set(customers.dealer_code) == set(dealers.index)
    shares = customers.dealer_code.value_counts(normalize=True)
    assert dealers.loc[shares.index[:3], "branch"].eq("수도권").all()  # the three biggest are in the capital area
    assert shares.iloc[0] > 5 * shares.iloc[-1]
    assert shares.iloc[0] < 0.2  # no dealer has most of the customers


@pytest.mark.parametrize(
    ("table", "low", "high"),
    [
        (S.PURCHASES.name, 0.92, 0.99),
        (S.LEADS.name, 0.92, 0.99),
        (S.SERVICE_VISITS.name, 0.84, 0.92),
        (S.CONSULTATIONS.name, 1.0, 1.0),
    ],
)
def test_a_customers_records_carry_the_customers_dealer_mostly(wh, customers, table, low, high):
    records = wh.table(table).select("customer_id", "dealer_code").to_pandas()
    known = records.merge(customers, on="customer_id", suffixes=("", "_customer"))
    same = (known.dealer_code == known.dealer_code_customer).mean()
    assert low <= same <= high, same


def test_records_without_a_customer(wh):
    leads = wh.table(S.LEADS.name).select("customer_id", "dealer_code").to_pandas()
    assert leads.dealer_code[leads.customer_id.isna()].notna().all()  # walk-ins and web forms go to a dealer
    consultations = wh.table(S.CONSULTATIONS.name).select("customer_id", "dealer_code").to_pandas()
    assert consultations.dealer_code[consultations.customer_id.isna()].isna().all()  # unmatched callers: nobody's
