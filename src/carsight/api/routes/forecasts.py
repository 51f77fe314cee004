"""Backtested forecasts per series, with their intervals and the chosen model's error."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from carsight.api.deps import CUSTOMER_ROLES, SnapshotDep, require_role
from carsight.api.models import ForecastList, ForecastResponse, error_responses
from carsight.errors import NotFoundError

# Market sales forecasts hold no customer data: every role but the call centre (agent).
router = APIRouter(
    tags=["forecasts"], dependencies=[require_role(*CUSTOMER_ROLES)], responses=error_responses(401, 403)
)


@router.get("/forecasts", response_model=ForecastList, summary="Series that have a forecast")
async def list_forecasts(snap: SnapshotDep) -> dict:
    """Every forecast series with its level."""
    return {"series": [{"series_id": k, "level": v["level"]} for k, v in snap.forecasts.items()]}


# ``:path`` because series ids contain slashes (``brand/model/market``).
@router.get(
    "/forecasts/{series_id:path}",
    response_model=ForecastResponse,
    summary="Forecast of one series",
    responses=error_responses(404, 422),
)
async def forecast(
    # No control characters: the ``:path`` route matches no line break, so the schema promises none (a
    # URL with one is no route at all, 404 before any token is looked at).
    series_id: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")],
    snap: SnapshotDep,
) -> dict:
    """One series' forecast with its intervals and backtest."""
    found = snap.forecasts.get(series_id)
    if found is None:
        raise NotFoundError(f"no forecast for series '{series_id}'")
    return found
