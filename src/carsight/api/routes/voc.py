"""Classifying customer texts: personal data masked first, then topic, confidence and keywords."""

from __future__ import annotations

from fastapi import APIRouter

from carsight.api.deps import EVERY_ROLE, SnapshotDep, require_role
from carsight.api.models import VocClassifyRequest, VocClassifyResponse, error_responses

# Texts the caller sends, masked first: every role.
router = APIRouter(
    tags=["voc"], dependencies=[require_role(*EVERY_ROLE)], responses=error_responses(400, 401, 403, 413, 422, 503)
)
MAX_KEYWORDS = 8


@router.post(
    "/voc/classify",
    response_model=VocClassifyResponse,
    summary="Mask, classify and extract keywords from texts",
)
def classify(body: VocClassifyRequest, snap: SnapshotDep) -> dict:
    """Mask texts and give each its topic, confidence and keywords."""
    from carsight.voc.normalise import clean_and_mask

    model = snap.need("voc_model", "the VoC topic classifier")
    masked = [clean_and_mask(text) for text in body.texts]
    review = model.review(masked)
    keywords: list[list[str]] = [[] for _ in masked]
    if snap.tokenizer is not None:
        keywords = [list(dict.fromkeys(tokens))[:MAX_KEYWORDS] for tokens in snap.tokenizer.tokenize_many(masked)]
    return {
        "results": [
            {
                "masked_text": text,
                "topic": str(row.label),
                "confidence": float(row.confidence),
                "needs_review": bool(row.needs_review),
                "keywords": words,
            }
            for text, row, words in zip(masked, review.itertuples(index=False), keywords, strict=True)
        ]
    }
