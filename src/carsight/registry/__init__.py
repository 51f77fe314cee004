"""Saved models: parameters, learned state, metrics, data fingerprint and version together;
drift checks that say when new data no longer looks like the training data."""

from carsight.registry.drift import DriftReport, drift_report, profile_frame
from carsight.registry.store import ModelMeta, fingerprint, list_models, load_model, save_model

__all__ = [
    "DriftReport",
    "ModelMeta",
    "drift_report",
    "fingerprint",
    "list_models",
    "load_model",
    "profile_frame",
    "save_model",
]
