"""Monitoring alerts: what is wrong with the data, the models or the key figures, most severe first."""

from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Query

from carsight.api.deps import AGGREGATE_ROLES, LangDep, SnapshotDep, require_role
from carsight.api.models import AlertList, error_responses

# Alerts name tables, models and figures over every dealer: administrators and HQ only.
router = APIRouter(
    tags=["alerts"], dependencies=[require_role(*AGGREGATE_ROLES)], responses=error_responses(401, 403, 422)
)


def _time(value):
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


@router.get("/alerts", response_model=AlertList, summary="Monitoring alerts")
async def alerts(
    snap: SnapshotDep,
    lang: LangDep,
    status: Annotated[Literal["open", "closed", "all"], Query(description="open (default), closed or all")] = "open",
) -> dict:
    """The alerts of `carsight monitor run`: one open alert per cause until it clears."""
    return {
        "alerts": [
            {
                "alert_id": a["alert_id"],
                "check": a["check_name"],
                "subject": a["subject"],
                "severity": a["severity"],
                "status": a["status"],
                "message": a[f"message_{lang}"],
                "value": None if pd.isna(a["value"]) else float(a["value"]),
                "threshold": None if pd.isna(a["threshold"]) else float(a["threshold"]),
                "opened_at": _time(a["opened_at"]),
                "last_seen_at": _time(a["last_seen_at"]),
                "closed_at": _time(a["closed_at"]),
            }
            for a in snap.alerts
            if status == "all" or a["status"] == status
        ]
    }
