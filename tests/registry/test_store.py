"""Saved models carry their metadata, versions increase, and the wrong kind is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from carsight.errors import ModelError
from carsight.registry import drift_report, fingerprint, list_models, load_model, profile_frame, save_model


def _data(seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1, 2000), "c": rng.choice(["a", "b", "c"], 2000)})


def test_save_load_roundtrip_with_metadata(tmp_path):
    frame = _data()
    model = LogisticRegression().fit(frame[["x"]], frame.x > 0)
    meta = save_model(tmp_path / "m", model, kind="propensity", metrics={"auroc": 0.9}, features=["x"], data=frame)
    assert meta.model_version == 1
    assert meta.fingerprint["rows"] == 2000
    assert "scikit-learn" in meta.library_versions
    loaded, meta2 = load_model(tmp_path / "m", kind="propensity")
    assert np.allclose(loaded.coef_, model.coef_)
    assert meta2.metrics == {"auroc": 0.9}
    assert save_model(tmp_path / "m", model, kind="propensity").model_version == 2
    assert [m.kind for m in list_models(tmp_path)] == ["propensity"]


def test_wrong_kind_and_missing_dir_are_clear_errors(tmp_path):
    save_model(tmp_path / "m", {"a": 1}, kind="segmenter")
    with pytest.raises(ModelError, match="'segmenter' model, not a 'propensity'"):
        load_model(tmp_path / "m", kind="propensity")
    with pytest.raises(ModelError, match="not a carsight model directory"):
        load_model(tmp_path / "nothing")


def test_fingerprint_changes_with_content():
    a, b = _data(0), _data(0)
    assert fingerprint(a) == fingerprint(b)
    b.loc[0, "x"] += 1
    assert fingerprint(a)["sha256"] != fingerprint(b)["sha256"]


def test_drift_report_flags_a_shifted_feature_only():
    profile = profile_frame(_data(0))
    same = drift_report(profile, _data(1))
    assert same.ok, same.table
    moved = drift_report(profile, _data(1, shift=1.5))
    assert moved.shifted == ["x"]
