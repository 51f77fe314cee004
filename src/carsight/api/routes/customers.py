"""Scores of existing customers: segment, RFM grade, propensity with reasons, CLV, recommendations.

Only customers in the caller's scope: a dealer user's token sees its dealers' customers, and any other
id answers 404 exactly as an unknown one (existence is not revealed). Every read is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from carsight.access.scope import Scope
from carsight.api.deps import CUSTOMER_ROLES, EVERY_ROLE, AuditDep, LangDep, SnapshotDep, require_role
from carsight.api.models import CustomerBatchRequest, CustomerBatchResponse, CustomerScores, error_responses
from carsight.errors import NotFoundError

router = APIRouter(tags=["customers"], responses=error_responses(401, 403, 422))


# /customers/batch is declared before /customers/{customer_id}: an OPTIONS or PUT on it then answers
# 405 with `Allow: POST` (the route it names), not the GET of a customer called 'batch'.
@router.post(
    "/customers/batch",
    response_model=CustomerBatchResponse,
    summary="Scores of many customers at once",
    responses=error_responses(400, 413),
)
async def customers_batch(
    body: CustomerBatchRequest,
    scope: Annotated[Scope, require_role(*CUSTOMER_ROLES)],
    snap: SnapshotDep,
    lang: LangDep,
    audit: AuditDep,
) -> dict:
    """Several customers at once (admin, hq, dealer); ids not found, or outside the caller's dealers, are under ``missing``."""
    found, missing = [], []
    for customer_id in dict.fromkeys(body.customer_ids):
        if snap.visible(customer_id, scope):
            found.append(snap.customer(customer_id, lang))
        else:
            missing.append(customer_id)
    audit.read([c["customer_id"] for c in found], detail=f"{len(missing)} not found" if missing else None)
    return {"customers": found, "missing": missing}


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerScores,
    summary="Everything known about one customer",
    responses=error_responses(404),
)
async def get_customer(
    customer_id: Annotated[str, Path(min_length=1, max_length=64, examples=["C000123"])],
    scope: Annotated[Scope, require_role(*EVERY_ROLE)],
    snap: SnapshotDep,
    lang: LangDep,
    audit: AuditDep,
) -> dict:
    """One customer's segment, RFM, propensity, lifetime value and recommendations (any role)."""
    if not snap.visible(customer_id, scope):
        audit.read((), detail=f"not found: {customer_id}")
        raise NotFoundError(f"customer {customer_id} is not in the warehouse")
    audit.read((customer_id,))
    return snap.customer(customer_id, lang)
