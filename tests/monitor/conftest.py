"""A real SMTP server on loopback (aiosmtpd) for the alert e-mails, and a small warehouse with a
purchases feed whose dates the tests choose."""

from __future__ import annotations

import datetime as dt
import socket

import numpy as np
import pandas as pd
import pytest
from aiosmtpd.controller import Controller


class Inbox:
    """Keeps every message the server accepts."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_inbox():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def make_purchases():
    """``make_purchases(start, days, …)``: a purchases feed (see :func:`purchases`)."""
    return purchases


def purchases(
    start: dt.date, days: int, n_per_day: int = 20, seed: int = 0, amount_factor: float = 1.0
) -> pd.DataFrame:
    """A purchases feed: ``n_per_day`` purchases on each of ``days`` days from ``start``."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(pd.date_range(start, periods=days, freq="D").date, n_per_day)
    n = len(dates)
    return pd.DataFrame(
        {
            "purchase_id": [f"P{seed}-{i:07d}" for i in range(n)],
            "customer_id": [f"C{i % 500:04d}" for i in range(n)],
            "purchase_date": dates,
            "brand": "Hyundai",
            "model": rng.choice(["Tucson", "Avante", "Sonata"], n),
            "amount": rng.lognormal(np.log(3e7), 0.2, n) * amount_factor,
            "payment_type": rng.choice(["cash", "installment", "lease"], n),
            "dealer": "서울",
            "channel": rng.choice(["showroom", "online"], n, p=[0.8, 0.2]),
        }
    )
