"""The opt-out list: customers who must never receive marketing e-mail, whatever the target list says."""

from __future__ import annotations

import pandas as pd

from carsight.errors import InputError
from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S
from carsight.warehouse.results_delivery import OPT_OUTS


def add_opt_outs(wh: Warehouse, customer_ids: list[str], *, reason: str | None = None, source: str = "cli") -> int:
    """Put customers on the opt-out list (their e-mail address too, when known); returns how many were new.

    Adding someone twice keeps the first date.
    """
    ids = list(dict.fromkeys(str(i).strip() for i in customer_ids if str(i).strip()))
    if not ids:
        raise InputError("no customer ids given", column="customer_id")
    emails: dict[str, str] = {}
    if wh.has_table(S.CUSTOMERS.name):
        t = wh.table(S.CUSTOMERS.name)
        found = t.filter(t.customer_id.isin(ids)).select("customer_id", "email").to_pandas()
        emails = {r.customer_id: r.email for r in found.itertuples() if isinstance(r.email, str)}
    existing = set()
    if wh.has_table(OPT_OUTS.name):
        t = wh.table(OPT_OUTS.name)
        existing = set(t.filter(t.customer_id.isin(ids)).customer_id.to_pandas())
    new = [i for i in ids if i not in existing]
    if new:
        now = pd.Timestamp.now()
        frame = pd.DataFrame(
            {
                "customer_id": new,
                "email": [emails.get(i) for i in new],
                "reason": reason,
                "source": source,
                "opted_out_at": now,
            }
        )
        wh.upsert(OPT_OUTS, frame)
    return len(new)


def list_opt_outs(wh: Warehouse) -> pd.DataFrame:
    """Everyone who opted out, latest first."""
    if not wh.has_table(OPT_OUTS.name):
        return pd.DataFrame(columns=OPT_OUTS.column_names)
    t = wh.table(OPT_OUTS.name)
    return t.order_by([t.opted_out_at.desc(), t.customer_id]).to_pandas()
