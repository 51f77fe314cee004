"""``/health``: open (no token), for load balancers and `carsight serve api` checks."""

from __future__ import annotations

from fastapi import APIRouter

from carsight import __version__
from carsight.api.deps import SnapshotDep
from carsight.api.models import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness and what data is loaded")
async def health(snap: SnapshotDep) -> dict:
    """Whether the API has loaded data, and which parts have data or a model behind them."""
    return {
        "status": "ok" if snap.customer_ids else "degraded",
        "version": __version__,
        "loaded_at": snap.loaded_at,
        "customers": len(snap.customer_ids),
        "available": snap.available,
    }
