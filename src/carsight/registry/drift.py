"""Population stability checks: does new data look like the data a model was trained on?

PSI (population stability index) per feature over the training quantile bins (numbers) or
categories; the usual reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 shifted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_EPS = 1e-4


def profile_frame(frame: pd.DataFrame, bins: int = 10, top: int = 30) -> dict:
    """Summarise each column so that later data can be compared without keeping the training data."""
    out: dict[str, dict] = {}
    for name, col in frame.items():
        if pd.api.types.is_bool_dtype(col):
            col = col.astype("float64")
        if pd.api.types.is_numeric_dtype(col):
            values = col.dropna().to_numpy(dtype="float64")
            if values.size == 0:
                continue
            edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
            counts = np.histogram(values, bins=_open_edges(edges))[0]
            out[str(name)] = {
                "type": "numeric",
                "edges": edges.tolist(),
                "share": (counts / counts.sum()).tolist(),
                "missing": float(col.isna().mean()),
            }
        else:
            share = col.astype("string").fillna("<NA>").value_counts(normalize=True)
            head = share.head(top)
            out[str(name)] = {"type": "categorical", "share": head.to_dict(), "other": float(1 - head.sum())}
    return out


def _open_edges(edges: np.ndarray) -> np.ndarray:
    inner = edges[1:-1] if edges.size > 2 else np.array([])
    return np.concatenate([[-np.inf], inner, [np.inf]])


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(expected, _EPS, None)
    a = np.clip(actual, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class DriftReport:
    table: pd.DataFrame  # feature, psi, status

    @property
    def shifted(self) -> list[str]:
        return self.table.loc[self.table.status == "shifted", "feature"].tolist()

    @property
    def ok(self) -> bool:
        return not self.shifted


def drift_report(profile: dict, frame: pd.DataFrame) -> DriftReport:
    rows = []
    for name, prof in profile.items():
        if name not in frame.columns:
            rows.append({"feature": name, "psi": np.nan, "status": "missing"})
            continue
        col = frame[name]
        if prof["type"] == "numeric":
            values = pd.to_numeric(col, errors="coerce").dropna().to_numpy(dtype="float64")
            if values.size == 0:
                rows.append({"feature": name, "psi": np.nan, "status": "empty"})
                continue
            counts = np.histogram(values, bins=_open_edges(np.asarray(prof["edges"])))[0]
            psi = _psi(np.asarray(prof["share"]), counts / counts.sum())
        else:
            share = col.astype("string").fillna("<NA>").value_counts(normalize=True)
            cats = list(prof["share"])
            expected = np.array([prof["share"][c] for c in cats] + [prof["other"]])
            actual = np.array([share.get(c, 0.0) for c in cats] + [max(0.0, 1 - share.reindex(cats).fillna(0).sum())])
            psi = _psi(expected, actual)
        status = "stable" if psi < 0.1 else "moderate" if psi < 0.25 else "shifted"
        rows.append({"feature": name, "psi": psi, "status": status})
    return DriftReport(pd.DataFrame(rows, columns=["feature", "psi", "status"]))
