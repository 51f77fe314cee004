"""What the customer desk shows about one customer, and the answer for a new one.

The answer is the segment and recommended models from the saved models. Reads result tables; never
computes analytics itself.
"""

from __future__ import annotations

import ibis
import pandas as pd
import streamlit as st

from carsight.dashboard import data, results
from carsight.dashboard.data import Reader
from carsight.i18n import t, word
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import CUSTOMER_SEGMENTS
from carsight.warehouse.results_value import CUSTOMER_CLV, PROPENSITY_SCORES
from carsight.warehouse.results_voc import VOC_CONSULTATIONS

# Columns of a consultation that may be shown: never the original text, only the masked one.
_MASKED_TEXT = ("masked_text", "text_masked", "masked")
_CONSULTATION_COLUMNS = ("consulted_at", "model", "channel", "category", "topic", "confidence", "needs_review")


def segment_of(r: Reader, customer_id: str, lang: str) -> dict | None:
    """The segment of an existing customer and its profile in ``lang``."""
    seg = data.rows_for(r, CUSTOMER_SEGMENTS.name, "customer_id", customer_id)
    if seg.empty:
        return None
    segment_id = int(seg.segment_id.iloc[0])
    profiles = results.segment_profiles(r)
    match = profiles[profiles.segment_id == segment_id]
    profile = match[f"profile_{lang}"].iloc[0] if not match.empty else ""
    return {"segment_id": segment_id, "profile": profile}


def propensity_of(r: Reader, customer_id: str, lang: str) -> pd.DataFrame:
    """One row per target, in the words of ``lang``.

    Target, grade, score in percent, horizon and the three reasons; ``as_of`` (the scoring date)
    rides along for the caption.
    """
    if not r.has(PROPENSITY_SCORES.name):
        raise data.MissingTable(PROPENSITY_SCORES.name)
    frame = data.rows_for(r, PROPENSITY_SCORES.name, "customer_id", customer_id)
    if frame.empty:
        return frame
    return frame.assign(
        target=[word("value.target", v, lang) for v in frame.target],
        score_pct=frame.score * 100,
        **{f"reason{i}": frame[f"reason{i}_{lang}"] for i in (1, 2, 3)},
    ).sort_values("grade")


def clv_of(r: Reader, customer_id: str) -> dict | None:
    """Lifetime value over the CLV step's horizon.

    Probability still active, expected purchases, expected spend (BG/NBD + Gamma-Gamma) and the
    hurdle model's expected spend.
    """
    if not r.has(CUSTOMER_CLV.name):
        raise data.MissingTable(CUSTOMER_CLV.name)
    frame = data.rows_for(r, CUSTOMER_CLV.name, "customer_id", customer_id)
    if frame.empty:
        return None
    return frame.iloc[0].to_dict()


def masked_consultations(r: Reader, customer_id: str) -> pd.DataFrame:
    """The customer's consultations, with masked text only.

    From the VoC step's table, matched to the customer through the source table's consultation ids.
    """
    return _masked_consultations(r, r.key, customer_id)


@data._cache
def _masked_consultations(_r: Reader, key: str, customer_id: str) -> pd.DataFrame:
    voc = _r.table(VOC_CONSULTATIONS.name)
    src = _r.table(S.CONSULTATIONS.name)
    ids = src.filter(src.customer_id == customer_id).select("consultation_id")
    mine = voc.filter(voc.consultation_id.isin(ids.consultation_id))
    keep = [c for c in _CONSULTATION_COLUMNS if c in voc.columns] + [c for c in _MASKED_TEXT if c in voc.columns][:1]
    return mine.select(keep).order_by(ibis.desc("consulted_at")).limit(200).execute()


# ---- new customer -------------------------------------------------------------------------------
def _find_model(kind_words: tuple[str, ...]):
    for meta in results.saved_models():
        if any(w in meta.kind for w in kind_words):
            return meta
    return None


@st.cache_resource(show_spinner=False, max_entries=8)
def _load(path: str, version: int, created_at: str):
    from carsight.registry import load_model

    estimator, _meta = load_model(path)
    return estimator


def new_customer_answer(r: Reader, profile: dict, lang: str) -> dict:
    """Segment and recommended models for a customer typed in at the desk (nothing is saved)."""
    from carsight.customers import assign_segment

    fields = {k: v for k, v in profile.items() if v not in (None, "")}
    answer: dict = {"segment": None, "recommendations": None}
    meta = _find_model(("segment",))
    if meta is None:
        answer["segment_missing"] = t("dash.desk.no_segmenter", lang)
    else:
        model = _load(meta.path, meta.model_version, meta.created_at)
        answer["segment"] = assign_segment(model, fields, lang=lang)
    answer["recommendations"] = _recommend(r, fields, answer["segment"], lang, answer)
    return answer


@st.cache_resource(show_spinner=False, max_entries=2)
def _rec_data(key: str, _r: Reader):
    """The purchase history the recommender scores against, loaded once per warehouse version."""
    from carsight.customers.recommend_data import RecData

    segments = None
    if _r.has(CUSTOMER_SEGMENTS.name):
        seg = _r.table(CUSTOMER_SEGMENTS.name).select("customer_id", "segment_id").execute()
        segments = seg.set_index("customer_id").segment_id
    return RecData.from_warehouse(_r.wh, segments=segments)


def _numeric(value) -> float | None:
    if value in (None, ""):
        return None
    return float(str(value).replace(",", "").replace("₩", "").strip())


def _recommend(r: Reader, fields: dict, segment: dict | None, lang: str, answer: dict):
    meta = _find_model(("recommend",))
    if meta is None:
        answer["recs_missing"] = t("dash.desk.no_recommender", lang)
        return None
    model = _load(meta.path, meta.model_version, meta.created_at)
    profile = dict(fields)
    for key in ("age", "budget"):
        if key in profile:
            profile[key] = _numeric(profile[key])
    recs = model.recommend_profile(
        _rec_data(r.key, r), profile, k=5, segment=None if segment is None else segment["segment_id"]
    )
    return recs[["rank", "model", "score", f"reason_{lang}"]]
