"""One customer scored without pandas or the ColumnTransformer: the desk's fast path.

A desk request scores one row; building a DataFrame and running the ColumnTransformer on it costs
tens of milliseconds, nearly all overhead. The fitted steps are read once into plain arrays and
dicts and one row is encoded with the same floating-point operations, so the result is
bit-identical to the full path (tests/customers/test_segments.py compares the two).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from carsight.customers.segments_features import BlockScaler
from carsight.i18n import t

if TYPE_CHECKING:
    from carsight.customers.segments import CustomerSegmenter

_UNSEEN = "\x00unseen level\x00"
# Models saved before ``one_row_`` existed get their state built on first use, kept beside them.
_ONE_ROW_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def one_row_of(model: CustomerSegmenter) -> dict | None:
    """The one-row state of ``model``, built once for models saved without it."""
    if hasattr(model, "one_row_"):
        return model.one_row_
    try:
        return _ONE_ROW_CACHE[model]
    except KeyError:
        state = one_row_state(model)
        _ONE_ROW_CACHE[model] = state
        return state
    except TypeError:  # not weak-referenceable: build each time rather than fail
        return one_row_state(model)


def one_row_state(model: CustomerSegmenter) -> dict | None:
    """What scoring one new customer needs, read from the fitted preprocessing.

    Per numeric column its fill value, mean and scale; per category column the one-hot vector of
    every level (and of a missing and an unseen value); per share column its fill value; the block
    factors, centres, ids and profiles. None when the preprocessing has a step this encoder does not
    know, so the caller uses the ColumnTransformer instead.
    """
    pre, scaler = model.preprocessor_, model.scaler_
    if not isinstance(pre, ColumnTransformer) or not isinstance(scaler, BlockScaler):
        return None
    width = len(scaler.factors_)
    numeric, shares, categories = [], [], []
    covered = 0
    for name, step, columns in pre.transformers_:
        part = pre.output_indices_.get(name)
        if isinstance(step, str):
            if step == "drop" or part is None or part.stop == part.start:
                continue
            return None
        if part is None:
            return None
        steps = [s for _, s in step.steps] if isinstance(step, Pipeline) else [step]
        imputer, rest = steps[0], steps[1:]
        if not isinstance(imputer, SimpleImputer) or imputer.add_indicator:
            return None
        columns = list(columns)
        if not rest and part.stop - part.start == len(columns):
            shares.extend(
                (c, part.start + i, float(v)) for i, (c, v) in enumerate(zip(columns, imputer.statistics_, strict=True))
            )
        elif len(columns) == 1 and len(rest) == 1 and isinstance(rest[0], StandardScaler):
            mean = float(rest[0].mean_[0]) if rest[0].with_mean else 0.0
            scale = float(rest[0].scale_[0]) if rest[0].with_std else 1.0
            numeric.append((columns[0], part.start, float(imputer.statistics_[0]), mean, scale))
        elif len(columns) == 1 and len(rest) == 1 and isinstance(rest[0], OneHotEncoder):
            # The fitted pipeline itself encodes every level once, so infrequent levels, the fill
            # for missing values and unknown levels come out exactly as in the full path.
            levels = list(rest[0].categories_[0])
            probe = pd.DataFrame({columns[0]: [*levels, np.nan, _UNSEEN]}, dtype=object)
            vectors = np.asarray(step.transform(probe), dtype=float)
            if vectors.shape[1] != part.stop - part.start:
                return None
            table = {level: vectors[i] for i, level in enumerate(levels)}
            categories.append((columns[0], part, table, vectors[-2], vectors[-1]))
        else:
            return None
        covered += part.stop - part.start
    if covered != width:
        return None
    blocks = np.asarray(scaler.blocks_)
    groups = sorted(set(blocks.tolist()))  # pandas' groupby order in the full path
    profiles = model.profiles_.set_index("segment_id")
    return {
        "width": width,
        "numeric": numeric,
        "shares": shares,
        "categories": categories,
        "factors": np.array(scaler.factors_, dtype=float),
        "block_names": list(scaler.block_names_),
        "block_masks": {b: blocks == b for b in scaler.block_names_},
        "block_means": {b: np.asarray(model.block_means_[b]) for b in scaler.block_names_},
        "groups": groups,
        "group_columns": [np.flatnonzero(blocks == g).tolist() for g in groups],
        "centers": model._ordered_centers(),
        "segment_ids": [int(i) for i in model.segment_ids_],
        "profiles": {
            int(seg): {c: v for c, v in row.items() if str(c).startswith("profile_")}
            for seg, row in profiles.to_dict("index").items()
        },
    }


def encode_one(state: dict, row: Mapping) -> np.ndarray:
    """One raw feature row → the scaled vector ``model._encode`` gives for it."""
    raw = np.empty(state["width"])
    for column, index, fill, mean, scale in state["numeric"]:
        value = float(row.get(column, np.nan))
        raw[index] = ((fill if value != value else value) - mean) / scale
    for column, index, fill in state["shares"]:
        value = float(row.get(column, np.nan))
        raw[index] = fill if value != value else value
    for column, part, table, missing, unseen in state["categories"]:
        value = row.get(column, np.nan)
        # Only NaN is missing to SimpleImputer; None is a level of its own there, and here.
        if isinstance(value, float) and value != value:
            raw[part] = missing
        else:
            raw[part] = table.get(value, unseen)
    return raw * state["factors"]


def _compensated_sum(values) -> float:
    """Kahan summation in the order given, as pandas' grouped sum does, so block pulls match the full path to the last bit."""
    total = compensation = 0.0
    for value in values:
        y = value - compensation
        t_ = total + y
        compensation = t_ - total - y
        if compensation != compensation:
            compensation = 0.0
        total = t_
    return total


def score_one_row(state: dict, row: dict, given_blocks: set[str], notes: list[str], lang: str) -> dict:
    """Score one encoded new customer: the segment, the runner-up and what decided it."""
    Z = encode_one(state, row)
    masks = state["block_masks"]
    # As in _score_full: a missing field takes the base's mix and is left out of the distance.
    imputed = [b for b in state["block_names"] if b not in given_blocks]
    known = np.ones(len(Z), dtype=bool)
    for block in imputed:
        Z[masks[block]] = state["block_means"][block]
        known[masks[block]] = False
    centers = state["centers"]
    d2 = (((centers - Z) ** 2) * known).sum(axis=1)
    order = np.argsort(d2, kind="stable")
    ids = state["segment_ids"]
    chosen, runner = int(order[0]), int(order[1]) if len(order) > 1 else int(order[0])
    contrib = (((Z - centers[runner]) ** 2 - (Z - centers[chosen]) ** 2) * known).tolist()
    pulls = np.array([_compensated_sum(contrib[i] for i in cols) for cols in state["group_columns"]])
    # Descending with ties in the order pandas' sort_values(ascending=False) leaves them.
    positions = np.arange(len(pulls))[::-1][pulls[::-1].argsort(kind="quicksort")][::-1]
    groups = state["groups"]
    decided = [
        {
            "feature": groups[p],
            "label": t(f"segment.block.{groups[p]}", lang),
            "pull": round(float(pulls[p]), 4),
            "imputed": groups[p] in imputed,
            "assumed_new_customer": groups[p] in ("recency", "frequency"),
        }
        for p in positions
    ]
    if imputed:
        notes.append(t("segment.note.imputed", lang, fields=", ".join(t(f"segment.block.{b}", lang) for b in imputed)))
    if {"recency", "frequency"} & set(state["block_names"]):
        notes.append(t("segment.note.new_history", lang))
    profile = state["profiles"][ids[chosen]]
    return {
        "segment_id": ids[chosen],
        "profile_ko": profile["profile_ko"],
        "profile_en": profile["profile_en"],
        "profile": profile.get(f"profile_{lang}", profile["profile_en"]),
        "distance": float(math.sqrt(d2[chosen])),
        "runner_up": ids[runner],
        "runner_up_distance": float(math.sqrt(d2[runner])),
        "decided_by": decided,
        "imputed": sorted(imputed),
        "notes": notes,
    }
