"""The segment of a new customer typed in at the dealer's desk.

What a dealer may type (:data:`SEGMENT_FIELDS`), its validation into one clear error per field, the
feature row it makes, and the scoring that says which feature blocks decided the segment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from carsight.customers.segments_features import CATEGORY_BLOCKS
from carsight.customers.segments_one_row import one_row_of, score_one_row
from carsight.errors import InputError, ModelError
from carsight.i18n import t
from carsight.warehouse import schema as S

if TYPE_CHECKING:
    from carsight.customers.segments import CustomerSegmenter

SEGMENT_FIELDS = {
    "age": "whole years, 16–100",
    "gender": "M or F (남/여, male/female)",
    "region": "a region (시/도) name",
    "interest_model": "a model name from the line-up",
    "body_type": "one of " + ", ".join(S.BODY_TYPES),
    "budget": "a positive amount in KRW",
    "payment_type": "one of " + ", ".join(S.PAYMENT_TYPES),
    "channel": "an acquisition channel (showroom, web, referral, …)",
}

_GENDER_WORDS = {"m": "M", "male": "M", "man": "M", "남": "M", "남성": "M", "남자": "M",
                 "f": "F", "female": "F", "woman": "F", "여": "F", "여성": "F", "여자": "F"}  # fmt: skip


def _validate_fields(fields: Mapping, model: CustomerSegmenter) -> dict:
    if not isinstance(fields, Mapping):
        raise InputError("customer fields must be an object", expected="{" + ", ".join(SEGMENT_FIELDS) + "}")
    unknown = [k for k in fields if k not in SEGMENT_FIELDS]
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(map(str, unknown))}",
            column=str(unknown[0]),
            expected="one of " + ", ".join(SEGMENT_FIELDS),
        )
    clean: dict = {}
    for key, value in fields.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key == "age":
            try:
                age = float(str(value).strip())
            except ValueError:
                raise InputError(
                    f"age '{value}' is not a number", column="age", expected=SEGMENT_FIELDS["age"]
                ) from None
            if not 16 <= age <= 100:
                raise InputError(f"age {value} is out of range", column="age", expected=SEGMENT_FIELDS["age"])
            clean["age"] = age
        elif key == "budget":
            try:
                budget = float(str(value).replace(",", "").replace("₩", "").strip())
            except ValueError:
                raise InputError(
                    f"budget '{value}' is not a number", column="budget", expected=SEGMENT_FIELDS["budget"]
                ) from None
            if not budget > 0 or not math.isfinite(budget):
                raise InputError(f"budget {value} must be positive", column="budget", expected=SEGMENT_FIELDS["budget"])
            clean["budget"] = budget
        elif key == "gender":
            code = _GENDER_WORDS.get(str(value).strip().lower())
            if code is None:
                raise InputError(f"unknown gender code '{value}'", column="gender", expected=SEGMENT_FIELDS["gender"])
            clean["gender"] = code
        elif key in ("body_type", "payment_type"):
            code = str(value).strip().lower()
            if code not in (S.BODY_TYPES if key == "body_type" else S.PAYMENT_TYPES):
                words = key.replace("_", " ")
                raise InputError(f"unknown {words} '{value}'", column=key, expected=SEGMENT_FIELDS[key])
            clean[key] = code
        elif key == "interest_model":
            name = str(value).strip()
            lookup = getattr(model, "vehicle_lookup_", {}) or {}
            if lookup:
                match = {m.lower(): m for m in lookup}.get(name.lower())
                if match is None:
                    raise InputError(
                        f"unknown model '{value}'",
                        column="interest_model",
                        expected="one of " + ", ".join(sorted(lookup)),
                    )
                name = match
            clean["interest_model"] = name
        else:
            clean[key] = str(value).strip()
    return clean


def assign_segment(model: CustomerSegmenter, fields: Mapping, lang: str = "ko") -> dict:
    """The segment of a new customer from what a dealer types in, with the features that decided it.

    Fields (all optional): see :data:`SEGMENT_FIELDS`. Missing fields are imputed (categories with
    the base's mix, numbers with the base's median) and listed under ``imputed``; purchase history
    a new customer cannot have (frequency, recency) is set as for the base's recent first-time
    buyers. Returns segment_id, profile (ko/en), decided_by (per feature block: how much it pulls
    towards the chosen segment rather than the runner-up), runner_up, imputed, notes.
    """
    return _assign(model, fields, lang, fast=True)


def _assign(model: CustomerSegmenter, fields: Mapping, lang: str, *, fast: bool) -> dict:
    if not hasattr(model, "kmeans_"):
        raise ModelError("the segmenter is not fitted")
    clean = _validate_fields(fields, model)
    row, given_blocks, notes = _new_customer_row(model, clean, lang)
    state = one_row_of(model) if fast else None
    if state is None:
        return _score_full(model, row, given_blocks, notes, lang)
    return score_one_row(state, row, given_blocks, notes, lang)


def _new_customer_row(model: CustomerSegmenter, clean: dict, lang: str) -> tuple[dict, set[str], list[str]]:
    """The raw feature row of a new customer (NaN where unknown), the blocks given, and notes."""
    row: dict = {c: np.nan for c in model.feature_names_in_}
    given_blocks: set[str] = set()
    notes: list[str] = []
    names = set(model.feature_names_in_)

    def set_share(block: str, level: str) -> None:
        cols = [c for c in names if c.startswith(f"{block}=")]
        if not cols:
            return
        if f"{block}={level}" not in names:
            notes.append(t("segment.note.unseen_level", lang, field=block, value=level))
            return
        for c in cols:
            row[c] = 1.0 if c == f"{block}={level}" else 0.0
        given_blocks.add(block)

    if "age" in clean and "age" in names:
        row["age"] = clean["age"]
        given_blocks.add("age")
    for block in CATEGORY_BLOCKS:
        if block in clean and block in names:
            row[block] = clean[block]
            if clean[block] not in model.levels_.get(block, []):
                notes.append(t("segment.note.unseen_level", lang, field=block, value=clean[block]))
            else:
                given_blocks.add(block)
    vehicle = (model.vehicle_lookup_ or {}).get(clean.get("interest_model")) if "interest_model" in clean else None
    body = clean.get("body_type") or (vehicle or {}).get("body_type")
    if body:
        set_share("body_type", body)
    if vehicle:
        for block, key in (("powertrain", "powertrain"), ("brand", "brand")):
            if vehicle.get(key):
                set_share(block, vehicle[key])
    if "payment_type" in clean:
        set_share("payment", clean["payment_type"])
    price = clean.get("budget") or (vehicle or {}).get("base_price")
    if price and "price_log" in names:
        row["price_log"] = math.log(price)
        given_blocks.add("price")
    defaults = model.new_customer_defaults_
    for column in ("recency_log", "frequency_log"):
        if column in names and column in defaults:
            row[column] = defaults[column]
            given_blocks.add(column.split("_")[0])
    if (
        "price_log" in names
        and row.get("price_log") != row.get("price_log")
        and defaults.get("price_log_new") == defaults.get("price_log_new")
    ):
        row["price_log"] = defaults["price_log_new"]

    return row, given_blocks, notes


def _score_full(model: CustomerSegmenter, row: dict, given_blocks: set[str], notes: list[str], lang: str) -> dict:
    """Scores the row through the fitted ColumnTransformer.

    The reference for :func:`score_one_row` and the path for models whose preprocessing the one-row
    encoder does not know.
    """
    frame = pd.DataFrame([row], index=pd.Index(["new"], name="customer_id"))
    Z = model._encode(model._check(frame))[0]
    blocks = model.scaler_.blocks_
    # A missing field is filled with the base's mix and then left out of the distance: the
    # customer is compared with every segment on what we know, so a blank never decides.
    imputed = [b for b in model.scaler_.block_names_ if b not in given_blocks]
    for block in imputed:
        Z[blocks == block] = model.block_means_[block]
    known = ~np.isin(blocks, imputed)
    centers = model._ordered_centers()
    d2 = (((centers - Z) ** 2) * known).sum(axis=1)
    order = np.argsort(d2, kind="stable")
    ids = model.segment_ids_
    chosen, runner = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    contrib = ((Z - centers[runner]) ** 2 - (Z - centers[chosen]) ** 2) * known
    per_block = pd.Series(contrib).groupby(blocks).sum()
    decided = [
        {
            "feature": block,
            "label": t(f"segment.block.{block}", lang),
            "pull": round(float(v), 4),
            "imputed": block in imputed,
            "assumed_new_customer": block in ("recency", "frequency"),
        }
        for block, v in per_block.sort_values(ascending=False).items()
    ]
    if imputed:
        notes.append(t("segment.note.imputed", lang, fields=", ".join(t(f"segment.block.{b}", lang) for b in imputed)))
    if {"recency", "frequency"} & set(model.scaler_.block_names_):
        notes.append(t("segment.note.new_history", lang))
    profile = model.profiles_.set_index("segment_id").loc[int(ids[chosen])]
    return {
        "segment_id": int(ids[chosen]),
        "profile_ko": profile["profile_ko"],
        "profile_en": profile["profile_en"],
        "profile": profile[f"profile_{lang}"] if f"profile_{lang}" in profile else profile["profile_en"],
        "distance": float(math.sqrt(d2[chosen])),
        "runner_up": int(ids[runner]),
        "runner_up_distance": float(math.sqrt(d2[runner])),
        "decided_by": decided,
        "imputed": sorted(b for b in imputed),
        "notes": notes,
    }
