"""Saved models and the drift check.

Saved models keep parameters, learned state, metrics, data fingerprint and version together; the one
drift check (per-column PSI and adversarial validation) says when new data no longer looks like the
training data.
"""

from carsight.registry.drift import (
    MATERIAL_AUROC,
    DriftCheck,
    DriftReport,
    adversarial_auroc,
    check_drift,
    drift_report,
    profile_frame,
)
from carsight.registry.store import ModelMeta, fingerprint, list_models, load_model, save_model

__all__ = [
    "MATERIAL_AUROC",
    "DriftCheck",
    "DriftReport",
    "adversarial_auroc",
    "check_drift",
    "ModelMeta",
    "drift_report",
    "fingerprint",
    "list_models",
    "load_model",
    "profile_frame",
    "save_model",
]
