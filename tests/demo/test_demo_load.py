"""Loading the demo through ingest: everything lands except the planted bad rows, re-loading
changes nothing, and the planted market structure is visible in the warehouse."""

from __future__ import annotations

import pandas as pd
import pytest

from carsight.demo import config as C
from carsight.demo import load_demo
from carsight.demo import truth as T
from carsight.warehouse import connect
from carsight.warehouse import schema as S


@pytest.fixture(scope="module")
def wh(demo_wh_path):
    with connect(str(demo_wh_path), read_only=True) as w:
        yield w


@pytest.fixture(scope="module")
def sales(wh) -> pd.DataFrame:
    frame = wh.table(S.SALES_MONTHLY.name).to_pandas()
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def test_every_table_is_loaded(wh, demo_files):
    for name in S.SOURCE_TABLES:
        assert wh.count(name) > 0, name
    customers = pd.read_csv(demo_files / "customers/customers_000.csv")
    assert wh.count(S.CUSTOMERS.name) == len(customers)
    consultations = pd.read_csv(demo_files / "consultations/consultations_000.csv")
    assert wh.count(S.CONSULTATIONS.name) == len(consultations)
    leads = pd.read_parquet(demo_files / "leads/leads_000.parquet")
    assert wh.count(S.LEADS.name) == len(leads)
    vehicles = wh.table(S.VEHICLES.name).to_pandas()
    assert {"EV", "HEV", "ICE"} <= set(vehicles["powertrain"])  # Korean values were recognised
    assert vehicles["discontinued_month"].notna().sum() == 2


def test_only_the_planted_bad_rows_are_quarantined(wh, demo_files):
    purchases_file = pd.read_csv(demo_files / "purchases/purchases_000.csv", dtype=str)
    assert wh.count(S.PURCHASES.name) == len(purchases_file) - C.BAD_PURCHASE_ROWS
    quarantine = wh.table(S.QUARANTINE.name).to_pandas()
    assert set(quarantine["table_name"]) == {S.PURCHASES.name}
    bad = T.bad_rows(demo_files)
    assert sorted(quarantine["row_number"].unique()) == sorted(bad["row_number"])
    log = wh.table(S.LOAD_LOG.name).to_pandas()
    assert log["rejected"].sum() == C.BAD_PURCHASE_ROWS
    assert log.loc[log["table_name"] == S.SALES_MONTHLY.name, "subtotals"].sum() == 7  # one 합계 per sheet


def test_messy_export_sheets_load_as_monthly_rows(sales):
    export = sales[sales["kind"] == "export"]
    assert export["month"].dt.year.nunique() == 7
    assert not export["model"].str.contains("합계").any()
    assert set(export["market"]) >= {"USA", "Germany", "India", "Saudi Arabia"}
    # 84 months for a long-running domestic series.
    sonata = sales[(sales["model"] == "Sonata") & (sales["market"] == "Korea")]
    assert sonata["month"].nunique() == 84


def _share_ratio(sales: pd.DataFrame, model: str, market: str) -> float:
    """Model's share of units in ``market`` divided by its share in the other markets selling it."""
    recent = sales[sales["month"] >= "2024-01-01"]
    totals = recent.groupby("market")["units"].sum()
    units = recent[recent["model"] == model].groupby("market")["units"].sum()
    share = units / totals[units.index]
    return float(share[market] / share.drop(market).mean())


@pytest.mark.parametrize(
    ("model", "market"),
    [("G80", "Korea"), ("Santa Fe", "USA"), ("Palisade", "Canada"), ("G90", "Saudi Arabia"), ("IONIQ 5", "Germany")],
)
def test_planted_market_affinity_is_visible(sales, model, market):
    assert _share_ratio(sales, model, market) > 1.4


def test_seltos_is_big_in_india(sales):
    recent = sales[(sales["month"] >= "2024-01-01") & (sales["market"] == "India")]
    by_model = recent.groupby("model")["units"].sum()
    assert by_model.idxmax() == "Seltos"


def test_shock_launch_and_discontinued_model(sales):
    korea = sales[sales["market"] == "Korea"].groupby("month")["units"].sum()
    shock = korea["2021-05-01":"2021-09-01"].mean()
    before = korea["2020-05-01":"2020-09-01"].mean()
    assert shock < 0.75 * before
    ev9 = sales[(sales["model"] == "EV9") & (sales["market"] == "Korea")]
    assert ev9["month"].min() == pd.Timestamp("2023-06-01")
    stinger = sales[(sales["model"] == "Stinger") & (sales["kind"] != "export")]
    assert stinger["month"].max() == pd.Timestamp("2023-04-01")
    tail = sales[(sales["model"] == "Stinger") & (sales["month"] >= "2022-11-01") & (sales["month"] <= "2023-04-01")]
    assert (tail["units"] == 0).mean() > 0.3  # intermittent
    assert (sales["units"] == 0).any()


@pytest.mark.slow
def test_reloading_changes_nothing(demo_wh_copy, demo_files):
    with connect(str(demo_wh_copy)) as wh:
        before = {name: wh.count(name) for name in S.SOURCE_TABLES}
        summary = load_demo(wh, demo_files)
        after = {name: wh.count(name) for name in S.SOURCE_TABLES}
    assert before == after
    for table, row in summary.items():
        assert row["inserted"] == 0, table
        assert row["updated"] == 0, table
    assert summary[S.PURCHASES.name]["rejected"] == C.BAD_PURCHASE_ROWS
