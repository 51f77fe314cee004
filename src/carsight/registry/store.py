"""Model directories: ``model.joblib`` (the fitted estimator) beside ``meta.json``.

``meta.json`` says what the model is, how good it was on held-out data, what data it saw, and with
which library versions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from carsight.errors import ModelError

FORMAT_VERSION = 1
_LIBRARIES = ("carsight", "scikit-learn", "lightgbm", "pandas", "numpy", "statsforecast", "kiwipiepy")


@dataclass
class ModelMeta:
    """The metadata saved in ``meta.json`` beside a model.

    ``kind`` says what the model is (:func:`load_model` asked for another kind refuses it);
    ``model_version`` counts the saves to the same directory; ``params``, ``metrics``, ``features`` and
    ``extra`` are what the caller passed to :func:`save_model`; ``fingerprint`` is :func:`fingerprint`
    of the data it was given (empty if none); ``library_versions`` are the versions of carsight and its
    main libraries at save time; ``path`` is the model directory it was read from or saved to.
    """

    kind: str
    model_version: int
    created_at: str
    format_version: int = FORMAT_VERSION
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    library_versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = ""


def _versions() -> dict[str, str]:
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    """A content hash of a table plus its shape and columns, to tell later which data a model saw."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    if len(frame):
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(np.ascontiguousarray(hashed).tobytes())
    return {"sha256": digest.hexdigest(), "rows": int(len(frame)), "columns": [str(c) for c in frame.columns]}


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (pd.Timestamp, dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    return str(value)


def save_model(
    model_dir: str | Path,
    estimator: Any,
    *,
    kind: str,
    params: dict | None = None,
    metrics: dict | None = None,
    features: list[str] | None = None,
    data: pd.DataFrame | None = None,
    extra: dict | None = None,
) -> ModelMeta:
    """Save ``estimator`` with its metadata; the model version increases on each save to the same directory."""
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    previous = 0
    if (path / "meta.json").is_file():
        try:
            previous = int(json.loads((path / "meta.json").read_text())["model_version"])
        except (ValueError, KeyError, json.JSONDecodeError):
            previous = 0
    meta = ModelMeta(
        kind=kind,
        model_version=previous + 1,
        created_at=dt.datetime.now().isoformat(timespec="seconds"),
        params=params or {},
        metrics=metrics or {},
        features=list(features or []),
        fingerprint=fingerprint(data) if data is not None else {},
        library_versions=_versions(),
        extra=extra or {},
        path=str(path),
    )
    # Write the estimator first and the metadata last, so a crash never leaves metadata
    # pointing at a missing or older estimator.
    tmp = path / "model.joblib.tmp"
    joblib.dump(estimator, tmp)
    tmp.replace(path / "model.joblib")
    (path / "meta.json").write_text(json.dumps(asdict(meta), default=_json_default, indent=2, ensure_ascii=False))
    return meta


def read_meta(model_dir: str | Path) -> ModelMeta:
    """The metadata of a model directory; :class:`~carsight.errors.ModelError` if it is missing or damaged."""
    path = Path(model_dir)
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise ModelError(f"{path} is not a carsight model directory (no meta.json)")
    try:
        raw = json.loads(meta_file.read_text())
        raw["path"] = str(path)
        return ModelMeta(**raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ModelError(f"{meta_file} is damaged: {exc}") from exc


def load_model(model_dir: str | Path, kind: str | None = None) -> tuple[Any, ModelMeta]:
    """Load a saved estimator and its metadata; refuses the wrong kind or an unknown format."""
    meta = read_meta(model_dir)
    if kind is not None and meta.kind != kind:
        raise ModelError(f"{model_dir} holds a '{meta.kind}' model, not a '{kind}' model")
    if meta.format_version > FORMAT_VERSION:
        raise ModelError(f"{model_dir} was saved by a newer carsight (format {meta.format_version})")
    try:
        estimator = joblib.load(Path(model_dir) / "model.joblib")
    except FileNotFoundError as exc:
        raise ModelError(f"{model_dir} has metadata but no model.joblib") from exc
    return estimator, meta


def list_models(root: str | Path) -> list[ModelMeta]:
    """Every saved model below ``root`` (for the dashboard's Models page)."""
    root = Path(root)
    if not root.exists():
        return []
    metas = []
    for meta_file in sorted(root.rglob("meta.json")):
        try:
            metas.append(read_meta(meta_file.parent))
        except ModelError:
            continue
    return metas
