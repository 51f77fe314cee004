"""Vehicle recommendations: stored ones for existing customers, scored now for new profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from carsight.access.scope import Scope
from carsight.api.deps import EVERY_ROLE, AuditDep, LangDep, SnapshotDep, require_role
from carsight.api.models import RecommendationRequest, RecommendationResponse, error_responses
from carsight.errors import NotFoundError

router = APIRouter(tags=["recommendations"], responses=error_responses(400, 401, 403, 413, 422))


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    summary="Top models for a customer or a new profile",
    responses=error_responses(404, 503),
)
def recommend(
    body: RecommendationRequest,
    scope: Annotated[Scope, require_role(*EVERY_ROLE)],
    snap: SnapshotDep,
    lang: LangDep,
    audit: AuditDep,
) -> dict:
    """Recommended models of a customer in the caller's scope, or of a new customer's profile (any role)."""
    if body.customer_id is not None:
        if not snap.visible(body.customer_id, scope):
            audit.read((), detail=f"not found: {body.customer_id}")
            raise NotFoundError(f"customer {body.customer_id} is not in the warehouse")
        audit.read((body.customer_id,))
        stored = snap.recommendations.get(body.customer_id, [])
        items = [
            {"rank": r["rank"], "model": r["model"], "score": r["score"], "reason": r[f"reason_{lang}"]}
            for r in stored[: body.k]
        ]
        return {"customer_id": body.customer_id, "source": "stored", "recommendations": items}
    model = snap.need("recommender", "the recommendation model")
    data = snap.need("rec_data", "the recommendation model's data")
    fields = body.customer.model_dump(exclude_none=True)
    segment = None
    if snap.segmenter is not None:
        from carsight.customers import assign_segment

        segment = assign_segment(snap.segmenter, fields, lang=lang)["segment_id"]
    known = {k: v for k, v in fields.items() if k in ("age", "gender", "region", "channel", "budget", "interest_model")}
    frame = model.recommend_profile(data, known, k=body.k, segment=segment)
    items = [
        {
            "rank": int(r.rank),
            "model": str(r.model),
            "score": float(r.score),
            "reason": getattr(r, f"reason_{lang}", None),
        }
        for r in frame.itertuples(index=False)
    ]
    return {"customer_id": None, "source": "model", "recommendations": items}
