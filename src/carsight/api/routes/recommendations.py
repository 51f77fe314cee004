"""Vehicle recommendations: stored ones for existing customers, scored now for new profiles."""

from __future__ import annotations

from fastapi import APIRouter

from carsight.api.deps import Authenticated, LangDep, SnapshotDep
from carsight.api.models import ErrorResponse, RecommendationRequest, RecommendationResponse
from carsight.errors import NotFoundError

router = APIRouter(tags=["recommendations"], dependencies=[Authenticated])


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    summary="Top models for a customer or a new profile",
    responses={404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
def recommend(body: RecommendationRequest, snap: SnapshotDep, lang: LangDep) -> dict:
    """Recommended models of a customer in the warehouse, or of a new customer's profile."""
    if body.customer_id is not None:
        if body.customer_id not in snap.customer_ids:
            raise NotFoundError(f"customer {body.customer_id} is not in the warehouse")
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
