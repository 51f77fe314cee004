"""A small warehouse with result tables and really fitted models (segmenter, topic classifier), so
the API is tested without waiting for the whole pipeline; the demo-based tests use
``pipeline_wh_path`` on top."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pandas as pd
import pytest

from carsight.config import Settings

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
N_CUSTOMERS = 120
MODELS = [
    ("Avante", "sedan", "ICE", 2.2e7),
    ("Tucson", "suv", "HEV", 3.3e7),
    ("Palisade", "suv", "ICE", 4.8e7),
    ("Ioniq 5", "suv", "EV", 5.2e7),
]
TEXTS = {
    "경고등": [
        "계기판에 엔진 경고등이 켜졌어요",
        "경고등이 계속 깜빡입니다",
        "주행 중 경고등 점등 문의",
        "타이어 경고등이 들어왔어요",
    ],
    "예약": [
        "정비 예약을 변경하고 싶어요",
        "서비스센터 예약 문의드립니다",
        "예약 시간 확인 부탁드려요",
        "내일 점검 예약 가능할까요",
    ],
    "소음": [
        "주행 중 하부에서 소음이 나요",
        "브레이크 밟을 때 끽 소리",
        "엔진룸 소음이 심해요",
        "창문 쪽 바람 소리가 커요",
    ],
}


def _customers(rng) -> pd.DataFrame:
    n = N_CUSTOMERS
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "name": [f"고객{i}" for i in range(n)],
            "gender": rng.choice(["M", "F"], n),
            "birth_year": rng.integers(1955, 2000, n),
            "region": rng.choice(["서울", "부산", "경기"], n),
            "join_date": pd.to_datetime(rng.choice(pd.date_range("2020-01-01", "2023-12-31"), n)).date,
            "channel": rng.choice(["web", "showroom"], n),
            "email": [f"c{i}@mail.example" for i in range(n)],
            "phone": None,
            "marketing_opt_in": True,
        }
    )


def _purchases(rng, ids) -> pd.DataFrame:
    rows = []
    for k in range(260):
        model, _, _, price = MODELS[int(rng.integers(len(MODELS)))]
        rows.append(
            {
                "purchase_id": f"P{k:05d}",
                "customer_id": ids[int(rng.integers(len(ids)))],
                "purchase_date": (pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(rng.integers(0, 1000)))).date(),
                "brand": "Hyundai",
                "model": model,
                "amount": price,
                "payment_type": rng.choice(["cash", "installment"]),
                "dealer": "강남",
                "channel": "showroom",
            }
        )
    return pd.DataFrame(rows)


def _results(ids: list[str]) -> dict[str, pd.DataFrame]:
    scored = ids[:100]  # the rest are customers the pipeline has not scored (new since the run)
    n = len(scored)
    as_of = pd.Timestamp("2024-01-01").date()
    rfm = pd.DataFrame(
        {
            "customer_id": scored,
            "as_of": as_of,
            "recency_days": np.arange(n) * 3,
            "frequency": 1 + np.arange(n) % 4,
            "monetary_total": 3e7 + np.arange(n) * 1e5,
            "monetary_avg": 3e7,
            "r_score": 1 + np.arange(n) % 5,
            "f_score": 1 + np.arange(n) % 5,
            "m_score": 1 + np.arange(n) % 5,
            "rfm_score": np.linspace(100, 1, n),
            "grade": ["Very Strong" if i < 10 else "Normal" for i in range(n)],
            "named_segment": "Loyal",
            "group": ["VIP" if i < 10 else "Regular" for i in range(n)],
        }
    )
    scores = pd.DataFrame(
        [
            {
                "customer_id": c,
                "target": target,
                "as_of": as_of,
                "horizon_days": 180,
                "score": 0.5 if target == "repurchase" else 0.2,
                "decile": 3,
                "grade": 3,
                "reason1_ko": "최근 시승",
                "reason2_ko": "보유 차량 5년 경과",
                "reason3_ko": None,
                "reason1_en": "recent test drive",
                "reason2_en": "car is 5 years old",
                "reason3_en": None,
                "reason1_feature": "leads_90d",
                "reason2_feature": "car_age",
                "reason3_feature": None,
            }
            for c in scored
            for target in ("repurchase", "response")
        ]
    )
    clv = pd.DataFrame(
        {
            "customer_id": scored,
            "as_of": as_of,
            "horizon_days": 365,
            "frequency": 1,
            "recency_days": 100.0,
            "tenure_days": 400.0,
            "p_alive": 0.8,
            "expected_purchases": 0.3,
            "p_any_purchase": 0.25,
            "expected_avg_value": 4e7,
            "expected_value": 1.2e7,
            "hurdle_p_any": 0.2,
            "hurdle_expected_value": 1.0e7,
        }
    )
    reco = pd.DataFrame(
        [
            {
                "customer_id": c,
                "rank": r + 1,
                "model": MODELS[r][0],
                "score": 1.0 - r / 10,
                "reason_ko": "비슷한 고객 선택",
                "reason_en": "chosen by similar customers",
            }
            for c in scored
            for r in range(3)
        ]
    )
    months = pd.date_range("2024-01-01", periods=3, freq="MS").date
    forecasts = pd.DataFrame(
        [
            {"unique_id": uid, "level": level, "brand": "Hyundai", "model": model, "market": market, "ds": ds, "model_name": "AutoETS",
             "yhat": 100.0 + i, "yhat_lo_80": 90.0 + i, "yhat_hi_80": 110.0 + i, "yhat_lo_95": 80.0 + i, "yhat_hi_95": 120.0 + i}
            for uid, level, model, market in (("Total", "total", None, None), ("Hyundai/투싼/Korea", "brand/model/market", "투싼", "Korea"))
            for i, ds in enumerate(months)
        ]
    )  # fmt: skip
    choice = pd.DataFrame(
        {
            "unique_id": ["Total", "Hyundai/투싼/Korea"], "level": ["total", "brand/model/market"], "series_class": "seasonal",
            "model_name": "AutoETS", "mase": [0.7, 1.2], "mase_snaive": [1.0, 1.0], "baseline": "SeasonalNaive", "h_backtest": 6,
            "n_months": 36, "coverage_80": 0.8, "coverage_95": 0.95, "reconciliation": "mint_shrink", "warning": [None, "short history"],
        }
    )  # fmt: skip
    return {
        "customer_rfm": rfm,
        "propensity_scores": scores,
        "customer_clv": clv,
        "recommendations": reco,
        "forecasts": forecasts,
        "forecast_choice": choice,
    }


@pytest.fixture(scope="session")
def api_env(tmp_path_factory):
    """(warehouse path, model dir) with data and fitted models; read-only for tests."""
    from carsight.customers.segments import CustomerSegmenter
    from carsight.customers.segments_features import segment_frame
    from carsight.registry import save_model
    from carsight.voc.classify import MODEL_KIND, TopicClassifier
    from carsight.warehouse import connect
    from carsight.warehouse.results_customers import SEGMENT_PROFILES

    root = tmp_path_factory.mktemp("api")
    rng = np.random.default_rng(11)
    path, models = root / "api.duckdb", root / "models"
    customers = _customers(rng)
    ids = list(customers.customer_id)
    with connect(str(path), init=True) as wh:
        wh.upsert("customers", customers)
        wh.upsert(
            "vehicles",
            pd.DataFrame(
                {
                    "model": [m[0] for m in MODELS],
                    "brand": "Hyundai",
                    "segment": "C",
                    "body_type": [m[1] for m in MODELS],
                    "powertrain": [m[2] for m in MODELS],
                    "launch_month": pd.Timestamp("2019-01-01").date(),
                    "discontinued_month": None,
                    "base_price": [int(m[3]) for m in MODELS],
                }
            ),
        )
        wh.upsert("purchases", _purchases(rng, ids))
        for name, frame in _results(ids).items():
            wh.replace(name, frame)
        frame = segment_frame(wh.table("customers"), wh.table("purchases"), wh.table("vehicles"))
        segmenter = CustomerSegmenter(k_range=(2, 3), n_init=2, random_state=0).fit(frame)
        save_model(models / "segmenter", segmenter, kind="segmenter")
        segments = segmenter.predict(frame)
        scored = frame.index.isin(ids[:100])
        wh.replace(
            "customer_segments",
            pd.DataFrame(
                {"customer_id": frame.index[scored], "segment_id": segments[scored], "distance": 1.0, "margin": 0.5}
            ),
        )
        wh.replace("segment_profiles", segmenter.profiles_[SEGMENT_PROFILES.column_names])
    texts = [t for words in TEXTS.values() for t in words] * 3
    labels = [label for label, words in TEXTS.items() for _ in words] * 3
    classifier = TopicClassifier(min_df=1, calibration_cv=2).fit(texts, labels)
    save_model(models / "voc_topic", classifier, kind=MODEL_KIND)
    return path, models


@pytest.fixture
def api_settings(api_env, tmp_path):
    path, models = api_env
    return Settings(
        warehouse=str(path), model_dir=models, output_dir=tmp_path / "out", api_token=TOKEN, api_max_body_bytes=20_000
    )


@pytest.fixture
def client(api_settings):
    from fastapi.testclient import TestClient

    from carsight.api import create_app

    with TestClient(create_app(api_settings), raise_server_exceptions=False) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving the app on a loopback port in a thread, stopped at the end."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
