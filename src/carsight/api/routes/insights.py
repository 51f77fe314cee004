"""Insights from the last pipeline run.

Repurchase trigger rules, and the segments that drove the change in sales or purchases.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from carsight.api.deps import AGGREGATE_ROLES, SnapshotDep, require_role
from carsight.api.models import DriverResponse, TriggerResponse, error_responses
from carsight.errors import NotFoundError

# Rules and drivers are counted over every dealer's customers: administrators and HQ only.
router = APIRouter(
    tags=["insights"], dependencies=[require_role(*AGGREGATE_ROLES)], responses=error_responses(401, 403, 404, 422)
)
_RUN = "run `carsight pipeline run`, then restart or wait for the reload"


@router.get(
    "/insights/triggers",
    response_model=TriggerResponse,
    summary="Repurchase trigger rules, best first",
)
async def triggers(
    snap: SnapshotDep,
    representative: Annotated[bool, Query(description="Only rules that overlap no better rule by half")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    """The stored repurchase trigger rules, best first."""
    if snap.triggers is None:
        raise NotFoundError(f"no trigger rules are stored: {_RUN}")
    rules = [r for r in snap.triggers["rules"] if r["representative"] or not representative]
    return {**snap.triggers, "rules": rules[:limit]}


@router.get(
    "/insights/drivers",
    response_model=DriverResponse,
    summary="The segments that drove the change in sales or purchases",
)
async def drivers(
    snap: SnapshotDep,
    analysis: Annotated[Literal["sales", "purchases"], Query(description="sales units or purchase revenue")] = "sales",
    comparison: Annotated[
        Literal["year", "quarter"], Query(description="last 12 months vs the 12 before, or last 3 vs a year earlier")
    ] = "year",
) -> dict:
    """The segments that explain the change in sales units or purchase revenue."""
    found = snap.drivers.get((analysis, comparison))
    if found is None:
        raise NotFoundError(f"no {analysis} drivers for the {comparison} comparison: {_RUN}")
    return found
