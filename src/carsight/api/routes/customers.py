"""Scores of existing customers: segment, RFM grade, propensity with reasons, CLV, recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from carsight.api.deps import Authenticated, LangDep, SnapshotDep
from carsight.api.models import CustomerBatchRequest, CustomerBatchResponse, CustomerScores, ErrorResponse

router = APIRouter(tags=["customers"], dependencies=[Authenticated])


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerScores,
    summary="Everything known about one customer",
    responses={404: {"model": ErrorResponse, "description": "Unknown customer"}},
)
async def get_customer(
    customer_id: Annotated[str, Path(min_length=1, max_length=64, examples=["C000123"])],
    snap: SnapshotDep,
    lang: LangDep,
) -> dict:
    """One customer's segment, RFM, propensity, lifetime value and recommendations."""
    return snap.customer(customer_id, lang)


@router.post("/customers/batch", response_model=CustomerBatchResponse, summary="Scores of many customers at once")
async def customers_batch(body: CustomerBatchRequest, snap: SnapshotDep, lang: LangDep) -> dict:
    """Several customers at once; ids not in the warehouse are listed under ``missing``."""
    found, missing = [], []
    for customer_id in dict.fromkeys(body.customer_ids):
        if customer_id in snap.customer_ids:
            found.append(snap.customer(customer_id, lang))
        else:
            missing.append(customer_id)
    return {"customers": found, "missing": missing}
