"""The drift check of the code base: whether new data looks like the data a model was trained on.

Two views, used together by :func:`check_drift` (propensity scoring; monitoring reuses it):

- PSI (population stability index) per column over the training quantile bins (numbers) or
  categories; the usual reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 shifted.
- Adversarial validation: the cross-validated AUROC of a classifier that tells new rows from training
  rows. It sees all columns at once, so it also catches shifts no single column shows.
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
    """PSI of each profiled column against new data, from :func:`drift_report`.

    ``table`` has one row per column of the profile: ``feature``, ``psi`` and ``status`` (stable,
    moderate or shifted by the PSI reading above; missing when the new data lacks the column, empty
    when it has no numbers in it).
    """

    table: pd.DataFrame  # feature, psi, status

    @property
    def shifted(self) -> list[str]:
        """Columns with PSI of 0.25 or more."""
        return self.table.loc[self.table.status == "shifted", "feature"].tolist()

    @property
    def ok(self) -> bool:
        """True when no column is shifted."""
        return not self.shifted


def drift_report(profile: dict, frame: pd.DataFrame) -> DriftReport:
    """PSI of each column of ``frame`` against its ``profile`` from :func:`profile_frame`."""
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


# ---------------------------------------------------------------------------------------------
# Adversarial validation: can a classifier tell the new rows from the training rows?
# ---------------------------------------------------------------------------------------------
# AUROC at which a shift counts as material: a classifier tells a random new row from a random
# training row apart 7 times in 10. Below it, single columns may move (PSI) without the rows as a
# whole leaving the region the model was validated on.
MATERIAL_AUROC = 0.70
# Rows per side: enough for a stable AUROC (± 0.01), few enough to stay fast.
ADVERSARIAL_ROWS = 5000


def adversarial_auroc(
    reference: pd.DataFrame, current: pd.DataFrame, *, max_rows: int = ADVERSARIAL_ROWS, random_state: int = 0
) -> tuple[float, pd.Series]:
    """How well a classifier tells ``current`` rows from ``reference`` rows, and by which columns.

    Returns the cross-validated AUROC of a LightGBM classifier that tells ``current`` rows from
    ``reference`` rows (0.5 = indistinguishable, 1 = disjoint), and each column's share of the
    classifier's gain (which columns give the new rows away). Both frames hold the same columns:
    numbers and pandas categoricals, as a model's encoder produces them. ``ValueError`` when either
    side has fewer than 20 rows.
    """
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    columns = [c for c in reference.columns if c in current.columns]
    n = min(len(reference), len(current), max_rows)
    if n < 20:
        raise ValueError(f"adversarial validation needs at least 20 rows on each side, got {n}")
    ref = reference[columns].sample(n, random_state=random_state) if len(reference) > n else reference[columns]
    cur = current[columns].sample(n, random_state=random_state) if len(current) > n else current[columns]
    both = pd.concat([ref, cur], ignore_index=True)
    for name in columns:
        if isinstance(ref[name].dtype, pd.CategoricalDtype):
            both[name] = pd.Categorical(both[name].astype("object"), categories=ref[name].cat.categories)
    label = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    scores = np.zeros(len(both))
    gain = np.zeros(len(columns))
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=random_state)
    for train, test in folds.split(both, label):
        clf = lgb.LGBMClassifier(
            n_estimators=100, learning_rate=0.1, num_leaves=15, min_child_samples=20, n_jobs=1, verbose=-1
        )
        clf.fit(both.iloc[train], label[train])
        scores[test] = clf.predict_proba(both.iloc[test])[:, 1]
        gain += clf.booster_.feature_importance(importance_type="gain")
    share = pd.Series(gain / gain.sum() if gain.sum() > 0 else gain, index=columns).sort_values(ascending=False)
    return float(roc_auc_score(label, scores)), share


@dataclass
class DriftCheck:
    """New rows against a model's training data: per-column PSI and the adversarial AUROC."""

    adversarial_auroc: float
    psi: DriftReport
    giveaway: pd.Series  # share of the adversarial classifier's gain per column
    n_reference: int
    n_current: int
    threshold: float = MATERIAL_AUROC

    @property
    def material(self) -> bool:
        """True when the new rows as a whole sit apart from the training rows."""
        return self.adversarial_auroc >= self.threshold

    @property
    def shifted(self) -> list[str]:
        """Columns with PSI > 0.25."""
        return self.psi.shifted

    def to_dict(self) -> dict:
        """A JSON-ready summary (for model metadata, monitoring and the CLI)."""
        return {
            "adversarial_auroc": round(self.adversarial_auroc, 4),
            "material": self.material,
            "threshold": self.threshold,
            "shifted_columns": self.shifted,
            "top_giveaway_columns": [str(c) for c in self.giveaway.head(5).index],
            "rows": {"reference": self.n_reference, "current": self.n_current},
        }


def check_drift(
    profile: dict,
    reference: pd.DataFrame,
    current_profiled: pd.DataFrame,
    current_encoded: pd.DataFrame,
    *,
    threshold: float = MATERIAL_AUROC,
    random_state: int = 0,
) -> DriftCheck:
    """The one drift check: per-column PSI and the adversarial AUROC.

    PSI of each profiled column (``current_profiled`` against ``profile`` from :func:`profile_frame`)
    and the adversarial AUROC of ``current_encoded`` against ``reference`` (a sample of the encoded
    training rows). Material when the AUROC reaches ``threshold``.
    """
    report = drift_report(profile, current_profiled)
    auc, share = adversarial_auroc(reference, current_encoded, random_state=random_state)
    return DriftCheck(auc, report, share, min(len(reference), ADVERSARIAL_ROWS), len(current_encoded), threshold)
