"""A small deterministic warehouse with two years of purchases, sales and consultations, so the
report logic is tested on known numbers (the demo warehouse adds realism in other tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

MODELS = ["아반떼", "Tucson", "Palisade", "G80"]


def _months(n: int = 24) -> list[pd.Timestamp]:
    return list(pd.date_range("2023-01-01", periods=n, freq="MS"))


@pytest.fixture
def report_wh(tmp_warehouse):
    rng = np.random.default_rng(3)
    wh = tmp_warehouse
    n_customers = 400
    wh.upsert(
        "customers",
        pd.DataFrame(
            {
                "customer_id": [f"C{i:04d}" for i in range(n_customers)],
                "name": None,
                "gender": rng.choice(["M", "F"], n_customers),
                "birth_year": rng.integers(1950, 2000, n_customers),
                "region": "서울",
                "join_date": pd.to_datetime(rng.choice(pd.date_range("2023-01-01", "2024-12-31"), n_customers)).date,
                "channel": "web",
                "email": None,
                "phone": None,
                "marketing_opt_in": True,
            }
        ),
    )
    rows = []
    for m, month in enumerate(_months()):
        # 2024-06 is planted: Palisade triples, everything else as usual.
        for model_index, model in enumerate(MODELS):
            n = 10 + 5 * model_index
            if model == "Palisade" and month == pd.Timestamp("2024-06-01"):
                n *= 3
            for k in range(n):
                rows.append(
                    {
                        "purchase_id": f"P{m:02d}{model_index}{k:03d}",
                        "customer_id": f"C{rng.integers(n_customers):04d}",
                        "purchase_date": (month + pd.Timedelta(days=int(rng.integers(0, 28)))).date(),
                        "brand": "Hyundai",
                        "model": model,
                        "amount": 3.5e7 + model_index * 1e7,
                        "payment_type": "cash",
                        "dealer": "강남",
                        "channel": "showroom",
                    }
                )
    wh.upsert("purchases", pd.DataFrame(rows))
    sales = []
    for month in _months():
        for model_index, model in enumerate(MODELS):
            for market, kind in (("Korea", "domestic"), ("USA", "export")):
                units = (
                    1000 + 200 * model_index + (500 if (model == "G80" and month == pd.Timestamp("2024-06-01")) else 0)
                )
                sales.append(
                    {
                        "brand": "Hyundai",
                        "model": model,
                        "market": market,
                        "kind": kind,
                        "month": month.date(),
                        "units": units,
                    }
                )
    wh.upsert("sales_monthly", pd.DataFrame(sales))
    consultations = []
    for m, month in enumerate(_months()):
        for category, n in (("경고등", 8), ("예약", 12), ("소음", 6)):
            if category == "경고등" and month == pd.Timestamp("2024-06-01"):
                n = 30  # planted: warning-light calls jump
            for k in range(n):
                consultations.append(
                    {
                        "consultation_id": f"V{m:02d}{category}{k:02d}",
                        "customer_id": None,
                        "consulted_at": month + pd.Timedelta(days=k % 27, hours=10),
                        "model": MODELS[k % 4],
                        "channel": "phone",
                        "category": category,
                        "text": "계기판 경고등이 켜졌어요",
                    }
                )
    wh.upsert("consultations", pd.DataFrame(consultations))
    return wh
