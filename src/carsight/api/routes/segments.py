"""Segment of a new customer, from what a dealer types in."""

from __future__ import annotations

from fastapi import APIRouter

from carsight.api.deps import EVERY_ROLE, LangDep, SnapshotDep, require_role
from carsight.api.models import AssignBatchRequest, AssignBatchResponse, NewCustomer, SegmentAssignment, error_responses

# A new customer's segment reads no stored customer: every role.
router = APIRouter(
    tags=["segments"], dependencies=[require_role(*EVERY_ROLE)], responses=error_responses(400, 401, 403, 413, 422, 503)
)


def _assign(snap, customer: NewCustomer, lang: str) -> dict:
    from carsight.customers import assign_segment

    model = snap.need("segmenter", "the segmentation model")
    return assign_segment(model, customer.model_dump(exclude_none=True), lang=lang)


@router.post("/segments/assign", response_model=SegmentAssignment, summary="Segment of a new customer")
def assign(body: NewCustomer, snap: SnapshotDep, lang: LangDep) -> dict:
    """The segment of a new customer from what a dealer types in."""
    return _assign(snap, body, lang)


@router.post(
    "/segments/assign/batch",
    response_model=AssignBatchResponse,
    summary="Segments of many new customers",
)
def assign_batch(body: AssignBatchRequest, snap: SnapshotDep, lang: LangDep) -> dict:
    """The segments of several new customers at once."""
    return {"results": [_assign(snap, c, lang) for c in body.customers]}
