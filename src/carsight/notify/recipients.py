"""Who a campaign may mail, and the personal fields its templates use.

Name, segment and recommended model, read from the customers table and, when the pipeline has
produced them, the segment and recommendation result tables.
"""

from __future__ import annotations

import re

import ibis
import pandas as pd

from carsight.warehouse import Warehouse
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import CUSTOMER_RFM, CUSTOMER_SEGMENTS, RECOMMENDATIONS
from carsight.warehouse.results_delivery import OPT_OUTS

# Deliberately loose: it rejects what cannot be an address; the server decides the rest.
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _for_ids(wh: Warehouse, table_name: str, ids: list[str]) -> pd.DataFrame | None:
    if not wh.has_table(table_name):
        return None
    table = wh.table(table_name)
    if len(ids) <= 500:
        return table.filter(table.customer_id.isin(ids)).to_pandas()
    # A long IN-list makes a huge SQL text; join a memtable of the ids instead.
    wanted = ibis.memtable({"customer_id": list(ids)})
    return table.semi_join(wanted, table.customer_id == wanted.customer_id).to_pandas()


def customers_frame(wh: Warehouse, ids: list[str]) -> pd.DataFrame:
    """The customers rows for ``ids`` (indexed by customer_id) with the RFM group (VIP, Regular, New, Churn risk.

    What templates are chosen by), RFM grade, customer-type segment and recommended models where the
    pipeline has produced them.
    """
    base = _for_ids(wh, S.CUSTOMERS.name, ids) if ids else None
    if base is None:
        base = pd.DataFrame(columns=S.CUSTOMERS.column_names)
    base = base.drop_duplicates("customer_id").set_index("customer_id")
    base["segment"] = None
    base["rfm_grade"] = None
    base["segment_id"] = None
    base["recommended_model"] = None
    base["recommended_models"] = [[] for _ in range(len(base))]
    if base.empty:
        return base
    rfm = _for_ids(wh, CUSTOMER_RFM.name, ids)
    if rfm is not None and len(rfm):
        rfm = rfm.drop_duplicates("customer_id").set_index("customer_id").reindex(base.index)
        base["segment"] = rfm["group"].astype(object).where(rfm["group"].notna(), None)
        base["rfm_grade"] = rfm["grade"].astype(object).where(rfm["grade"].notna(), None)
    seg = _for_ids(wh, CUSTOMER_SEGMENTS.name, ids)
    if seg is not None and len(seg):
        seg = seg.drop_duplicates("customer_id").set_index("customer_id").reindex(base.index)
        base["segment_id"] = [None if pd.isna(v) else int(v) for v in seg["segment_id"]]
    reco = _for_ids(wh, RECOMMENDATIONS.name, ids)
    if reco is not None and len(reco):
        lists = reco.sort_values(["customer_id", "rank"]).groupby("customer_id", sort=False)["model"].agg(list)
        lists = lists.reindex(base.index)
        base["recommended_models"] = [v if isinstance(v, list) else [] for v in lists]
        base["recommended_model"] = [v[0] if v else None for v in base["recommended_models"]]
    return base


def opted_out(wh: Warehouse) -> tuple[set[str], set[str]]:
    """Customer ids and (lower-cased) addresses on the opt-out list."""
    if not wh.has_table(OPT_OUTS.name):
        return set(), set()
    frame = wh.table(OPT_OUTS.name).select("customer_id", "email").to_pandas()
    emails = {str(e).strip().lower() for e in frame.email.dropna()}
    return set(frame.customer_id.astype(str)), emails
