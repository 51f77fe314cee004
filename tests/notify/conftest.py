"""A real SMTP server on loopback (aiosmtpd) that can be told to fail part-way, and a small
warehouse of customers to mail."""

from __future__ import annotations

import socket

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from carsight.config import Settings, SmtpSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """Accepts mail, or after ``fail_after`` messages answers ``fail_code`` (or drops the connection)."""

    def __init__(self):
        self.messages: list = []
        self.connections = 0
        self.fail_after: int | None = None
        self.fail_code = "451 4.3.0 try again later"
        self.drop = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            if self.drop:
                server.transport.close()
                return "421 closing"
            return self.fail_code
        self.messages.append(envelope)
        return "250 OK"

    def recipients(self) -> list[str]:
        return [r for env in self.messages for r in env.rcpt_tos]


@pytest.fixture
def smtp_server():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(tmp_path, smtp_server):
    _, port = smtp_server
    return Settings(
        warehouse=str(tmp_path / "wh.duckdb"),
        output_dir=tmp_path / "out",
        smtp=SmtpSettings(host="127.0.0.1", port=port, sender="crm@dealer.example", rate_per_second=0, timeout_s=5),
    )


def make_customers(n: int = 8) -> pd.DataFrame:
    ids = [f"C{i:03d}" for i in range(n)]
    return pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"고객{i}" for i in range(n)],
            "gender": ["M"] * n,
            "birth_year": [1980] * n,
            "region": ["서울"] * n,
            "join_date": pd.to_datetime(["2020-01-01"] * n).date,
            "channel": ["web"] * n,
            "email": [f"c{i}@mail.example" for i in range(n)],
            "phone": [None] * n,
            "marketing_opt_in": [True] * n,
        }
    )


@pytest.fixture
def customer_wh(tmp_warehouse):
    tmp_warehouse.upsert("customers", make_customers())
    return tmp_warehouse


def put_rfm_groups(wh, groups: dict[str, str]) -> None:
    """customer_rfm rows as the customers pipeline writes them, with the given groups."""
    n = len(groups)
    wh.replace(
        "customer_rfm",
        pd.DataFrame(
            {
                "customer_id": list(groups),
                "as_of": [pd.Timestamp("2024-01-01").date()] * n,
                "recency_days": [30] * n,
                "frequency": [2] * n,
                "monetary_total": [5e7] * n,
                "monetary_avg": [2.5e7] * n,
                "r_score": [5] * n,
                "f_score": [4] * n,
                "m_score": [5] * n,
                "rfm_score": [92.0] * n,
                "grade": ["Very Strong"] * n,
                "named_segment": ["Champions"] * n,
                "group": list(groups.values()),
            }
        ),
    )


def put_recommendations(wh, models: dict[str, list[str]]) -> None:
    rows = [
        {"customer_id": cid, "rank": i + 1, "model": m, "score": 1.0 / (i + 1), "reason_ko": "이유", "reason_en": "why"}
        for cid, ms in models.items()
        for i, m in enumerate(ms)
    ]
    wh.replace("recommendations", pd.DataFrame(rows))
