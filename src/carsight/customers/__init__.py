"""Customer analytics.

RFM grades, customer-type segments with readable profiles, the segment of a new customer at the
desk, learned vehicle recommendations, propensity models with lift tables and reasons, and lifetime
value.

Heavier modules (scikit-learn, LightGBM) load on first use, so importing RFM stays cheap.
"""

from __future__ import annotations

import importlib

from carsight.customers.rfm import GradeCutoffs, rfm_table

__all__ = [
    "BetaGeoModel",
    "CustomerSegmenter",
    "GammaGammaModel",
    "GradeCutoffs",
    "HurdleCLV",
    "PropensityModel",
    "VehicleRecommender",
    "assign_segment",
    "best_grade",
    "build_features",
    "build_labels",
    "customer_value",
    "decile_table",
    "profit_table",
    "rfm_table",
    "score_table",
    "train_on_table",
]

_LAZY = {
    "CustomerSegmenter": "carsight.customers.segments",
    "assign_segment": "carsight.customers.segments_desk",
    "VehicleRecommender": "carsight.customers.recommend",
    "PropensityModel": "carsight.customers.propensity",
    "train_on_table": "carsight.customers.propensity_table",
    "score_table": "carsight.customers.propensity_table",
    "build_features": "carsight.customers.features",
    "build_labels": "carsight.customers.targets",
    "decile_table": "carsight.customers.deciles",
    "profit_table": "carsight.customers.deciles",
    "best_grade": "carsight.customers.deciles",
    "BetaGeoModel": "carsight.customers.clv",
    "GammaGammaModel": "carsight.customers.clv",
    "HurdleCLV": "carsight.customers.clv_hurdle",
    "customer_value": "carsight.customers.clv_select",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'carsight.customers' has no attribute {name!r}")
