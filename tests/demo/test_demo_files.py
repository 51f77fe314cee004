"""The demo files: deterministic for a seed, realistic proportions, and really messy where promised."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carsight.demo import config as C
from carsight.demo import generate
from carsight.demo import truth as T
from carsight.demo.vehicles import vehicles_frame

N = 2_000


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo-2000")
    return out, generate(out, customers=N, seed=11)


@pytest.fixture(scope="module")
def small(generated) -> Path:
    return generated[0]


def test_same_seed_gives_identical_files(small, tmp_path):
    generate(tmp_path, customers=N, seed=11)
    assert _digests(tmp_path) == _digests(small)


def test_different_seed_gives_different_files(small, tmp_path):
    generate(tmp_path, customers=N, seed=12)
    a, b = _digests(tmp_path), _digests(small)
    assert a.keys() == b.keys()
    assert a["customers/customers_000.csv"] != b["customers/customers_000.csv"]
    assert a["sales_monthly/domestic.csv"] != b["sales_monthly/domestic.csv"]


def test_generate_returns_every_table_and_truth(generated):
    _, files = generated
    for table in (
        "vehicles",
        "customers",
        "purchases",
        "leads",
        "service_visits",
        "consultations",
        "campaigns",
        "campaign_contacts",
        "sales_monthly",
    ):
        assert files[table], table
        assert all(Path(p).is_file() for p in files[table])
    names = {Path(p).name for p in files["truth"]}
    assert {"customer_types.csv", "campaign_response.csv", "params.json", "bad_rows.csv"} <= names


def test_rows_per_table_within_documented_ratios(small):
    """docs/demo-data.md 'Scale': per purchase in 2023–2025, leads ≈ 5.2, test drives ≈ 0.67,
    service ≈ 3.7, consultations ≈ 1.43 (wide bounds: 2,000 customers are noisy)."""
    customers = pd.read_csv(small / "customers/customers_000.csv")
    purchases = pd.read_csv(small / "purchases/purchases_000.csv", dtype=str).iloc[: -C.BAD_PURCHASE_ROWS]
    purchases["amount"] = purchases["amount"].astype(float)
    leads = pd.read_parquet(small / "leads/leads_000.parquet")
    service = pd.read_parquet(small / "service_visits/service_visits_000.parquet")
    consultations = pd.read_csv(small / "consultations/consultations_000.csv")
    assert len(customers) == N
    assert customers["customer_id"].is_unique
    in_window = purchases[(purchases["purchase_date"] >= "2023-01-01") & (purchases["amount"] > 0)]
    per = len(in_window)
    assert 0.35 * N < per < 1.05 * N
    assert 3.5 < len(leads) / per < 6.5
    assert 0.35 < (leads["lead_type"] == "test_drive").sum() / per < 0.8
    assert 2.7 < len(service) / per < 5.0
    assert 1.1 < len(consultations) / per < 1.8
    # Every customer has bought at least once; some are repeat buyers; refunds are rare but present.
    counts = purchases[purchases["amount"] > 0].groupby("customer_id").size()
    assert len(counts) == N
    assert 0.15 < (counts >= 2).mean() < 0.5
    assert 0 < (purchases["amount"] < 0).sum() < 0.01 * len(purchases)
    # Dates stay in the documented windows.
    assert leads["lead_date"].min() >= pd.Timestamp("2023-01-01").date()
    assert leads["lead_date"].max() <= pd.Timestamp("2025-12-31").date()
    assert purchases["purchase_date"].min() >= "2016-01-01"
    assert purchases["purchase_date"].max() <= "2025-12-31"  # refunds too: nothing after the data ends


def test_customers_look_korean_and_valid(small):
    customers = pd.read_csv(small / "customers/customers_000.csv")
    assert customers["phone"].str.fullmatch(r"010-\d{4}-\d{4}").all()
    assert customers["email"].str.fullmatch(r"[a-z]+\d{5}@[a-z.]+").all()
    assert customers["name"].str.fullmatch(r"[가-힣]{3}").all()
    assert customers["region"].nunique() == 17
    assert set(customers["marketing_opt_in"]) == {"Y", "N"}
    assert customers["birth_year"].between(1930, 2006).all()


def test_planted_types_differ_as_documented(small):
    customers = pd.read_csv(small / "customers/customers_000.csv")
    purchases = pd.read_csv(small / "purchases/purchases_000.csv", dtype=str).iloc[: -C.BAD_PURCHASE_ROWS]
    types = T.customer_types(small)
    frame = purchases.merge(types, on="customer_id").merge(vehicles_frame().drop(columns="brand"), on="model")
    by_type = frame.groupby("true_type")
    assert by_type["powertrain"].apply(lambda s: (s == "EV").mean())["young_urban_ev"] > 0.8
    assert by_type["brand"].apply(lambda s: (s == "Genesis").mean())["premium_loyalist"] > 0.8
    assert by_type["body_type"].apply(lambda s: s.isin(["truck", "van", "mpv"]).mean())["business_fleet"] > 0.8
    assert by_type["payment_type"].apply(lambda s: (s == "cash").mean())["retiree_sedan"] > 0.6
    ages = (
        customers.merge(types, on="customer_id")
        .assign(age=lambda d: 2025 - d.birth_year)
        .groupby("true_type")
        .age.mean()
    )
    assert ages["retiree_sedan"] > ages["premium_loyalist"] > ages["family_suv"] > ages["first_time_compact"]
    shares = types["true_type"].value_counts(normalize=True)
    for name, share in zip(C.TYPES, C.TYPE_SHARES, strict=True):
        assert abs(shares[name] - share) < 0.04, name


def test_messy_export_file_is_cp949_wide_with_subtotal(small):
    path = small / "sales_monthly" / "수출실적_2024.csv"
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp949")
    lines = text.split("\r\n")
    assert lines[0].split(",") == ["브랜드", "모델", "국가명"] + [f"{m}월" for m in range(1, 13)]
    assert "2024" not in text  # the year is only in the file name
    assert any(line.startswith("합계,") for line in lines)
    frame = pd.read_csv(path, encoding="cp949", dtype=str, keep_default_na=False)
    cells = frame[[f"{m}월" for m in range(1, 13)]].to_numpy().ravel()
    assert any(c == "-" for c in cells)
    assert any(c.startswith(" ") and c.endswith(" ") and "," in c for c in cells)  # " 4,120 "


def test_vehicles_workbook_has_korean_headers(small):
    frame = pd.read_excel(small / "vehicles" / "vehicles.xlsx")
    assert list(frame.columns)[:3] == ["모델명", "브랜드", "차급"]
    assert {"세단", "SUV"} <= set(frame["차체형태"])
    assert {"전기", "하이브리드", "가솔린"} <= set(frame["연료구분"])
    assert 20 <= len(frame) <= 30
    assert frame["단종월"].notna().sum() >= 1
    assert set(frame["브랜드"]) == {"Hyundai", "Kia", "Genesis"}


def test_bad_rows_are_documented(small):
    bad = T.bad_rows(small)
    assert len(bad) == C.BAD_PURCHASE_ROWS
    purchases = pd.read_csv(small / "purchases/purchases_000.csv", dtype=str, keep_default_na=False)
    tail = purchases.iloc[-C.BAD_PURCHASE_ROWS :]
    assert list(tail["purchase_id"]) == list(bad["purchase_id"])
    assert list(bad["row_number"]) == list(range(len(purchases) - 3, len(purchases) + 1))


def test_campaign_truth_matches_contacts(small):
    contacts = pd.read_csv(small / "campaign_contacts/campaign_contacts_000.csv")
    p = T.campaign_response(small)
    assert len(p) == len(contacts)
    assert (p["campaign_id"].to_numpy() == contacts["campaign_id"].to_numpy()).all()
    # The true probabilities are calibrated: expected responders ≈ observed responders.
    expected, observed = p["p_true"].sum(), contacts["responded"].sum()
    assert abs(expected - observed) < 4 * np.sqrt(expected)
    assert (contacts.loc[contacts["responded"], "opened"]).all()
    assert contacts["responded_at"].isna().eq(~contacts["responded"]).all()


def test_bad_customer_count_is_an_input_error(tmp_path):
    from carsight.errors import InputError

    with pytest.raises(InputError):
        generate(tmp_path, customers=0)


def test_blocks_of_customers_fit_together(tmp_path, monkeypatch):
    """Large runs are generated in blocks; ids stay unique across blocks and the truth covers all."""
    monkeypatch.setattr(C, "CHUNK_CUSTOMERS", 300)
    files = generate(tmp_path, customers=700, seed=5)
    assert len(files["customers"]) == 3
    customers = pd.concat(pd.read_csv(p) for p in files["customers"])
    purchases = pd.concat(pd.read_csv(p, dtype=str) for p in files["purchases"])
    leads = pd.concat(pd.read_parquet(p) for p in files["leads"])
    assert len(customers) == 700 and customers["customer_id"].is_unique
    assert purchases["purchase_id"].is_unique
    assert leads["lead_id"].is_unique
    assert set(purchases["customer_id"].dropna()) - {""} <= set(customers["customer_id"])
    p = T.repurchase_probability(tmp_path, "2025-01-01", 90, n_paths=4)
    joined = pd.to_datetime(customers["join_date"]) <= "2025-01-01"
    assert set(p["customer_id"]) == set(customers.loc[joined, "customer_id"])
