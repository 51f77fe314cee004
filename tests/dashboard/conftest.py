"""Dashboard fixtures: a small hand-built warehouse (source tables only) for pages that must work
before the pipeline ran, and helpers to run the app with Streamlit's AppTest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carsight.dashboard import APP_PATH

MARKETS = ("Korea", "USA", "Germany")
MODELS = ("Tucson", "Avante", "G80", "Ioniq 5")


def _source_frames(seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    months = pd.date_range("2023-01-01", "2024-06-01", freq="MS")
    sales = pd.DataFrame(
        [
            {
                "brand": "Genesis" if model == "G80" else "Hyundai",
                "model": model,
                "market": market,
                "kind": "domestic" if market == "Korea" else "export",
                "month": month.date(),
                "units": int(rng.integers(50, 500)),
            }
            for market in MARKETS
            for model in MODELS
            for month in months
        ]
    )
    n = 40
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "name": [f"고객{i}" for i in range(n)],
            "gender": rng.choice(["M", "F"], n),
            "birth_year": rng.integers(1960, 2000, n),
            "region": rng.choice(["서울", "부산"], n),
            "join_date": pd.to_datetime(rng.choice(months, n)).date,
            "channel": "showroom",
            "email": [f"c{i}@example.com" for i in range(n)],
            "phone": None,
            "marketing_opt_in": True,
        }
    )
    purchases = pd.DataFrame(
        {
            "purchase_id": [f"P{i:04d}" for i in range(60)],
            "customer_id": rng.choice(customers.customer_id, 60),
            "purchase_date": pd.to_datetime(rng.choice(months, 60)).date,
            "brand": "Hyundai",
            "model": rng.choice(MODELS, 60),
            "amount": rng.integers(20, 80, 60) * 1_000_000.0,
            "payment_type": "cash",
            "dealer": "Gangnam",
            "channel": "showroom",
        }
    )
    return {"sales_monthly": sales, "customers": customers, "purchases": purchases}


@pytest.fixture(scope="session")
def small_wh_path(tmp_path_factory):
    """A warehouse with a few source tables and no pipeline results."""
    from carsight.warehouse import connect

    path = tmp_path_factory.mktemp("dash-small") / "small.duckdb"
    with connect(str(path), init=True) as wh:
        for table, frame in _source_frames().items():
            wh.upsert(table, frame)
    return path


DEALER_A, DEALER_B = "D-A", "D-B"
N_A = 20  # in ``dealers_wh``, customers C0000..C0019 are dealer A's, the other 20 dealer B's


@pytest.fixture(scope="session")
def dealers_wh(tmp_path_factory):
    """The small source warehouse with every customer, purchase and dealer row tied to dealer A or B."""
    from carsight.warehouse import connect

    frames = _source_frames()
    customers = frames["customers"]
    customers["dealer_code"] = [DEALER_A if i < N_A else DEALER_B for i in range(len(customers))]
    customers["name"] = [f"{'가' if i < N_A else '나'}고객{i}" for i in range(len(customers))]
    frames["purchases"]["dealer_code"] = frames["purchases"].customer_id.map(
        customers.set_index("customer_id").dealer_code
    )
    frames["dealers"] = pd.DataFrame(
        {"dealer_code": [DEALER_A, DEALER_B], "name": ["강남", "해운대"], "region": ["서울", "부산"], "branch": None}
    )
    path = tmp_path_factory.mktemp("dash-dealers") / "dealers.duckdb"
    with connect(str(path), init=True) as wh:
        for table, frame in frames.items():
            wh.upsert(table, frame)
    return path, customers


@pytest.fixture
def app_for(monkeypatch):
    """``app_for(path)`` → an AppTest of the dashboard reading the warehouse at ``path``."""
    from streamlit.testing.v1 import AppTest

    from carsight.config import reset_settings_cache

    def make(path, lang: str = "ko", model_dir=None):
        monkeypatch.setenv("CARSIGHT_WAREHOUSE", str(path))
        # The pipeline fixture saves its models beside the warehouse file.
        monkeypatch.setenv("CARSIGHT_MODEL_DIR", str(model_dir or Path(path).parent / "models"))
        monkeypatch.setenv("CARSIGHT_LANG", lang)
        monkeypatch.setenv("CARSIGHT_DEBUG", "1")  # a bug raises (shows as an exception) instead of a notice
        reset_settings_cache()
        return AppTest.from_file(str(APP_PATH), default_timeout=60)

    return make


if os.environ.get("CARSIGHT_TEST_PIPELINE_WH"):
    # For working on the dashboard: point these tests at an already built pipeline warehouse (with
    # its models in a ``models`` folder beside it) instead of building the shared fixture.
    @pytest.fixture(scope="session")
    def pipeline_wh_path():
        return Path(os.environ["CARSIGHT_TEST_PIPELINE_WH"])
