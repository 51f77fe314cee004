"""The one drift check: per-column PSI and adversarial validation, on data with known shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.registry import MATERIAL_AUROC, adversarial_auroc, check_drift, drift_report, profile_frame


def _frame(n: int, seed: int, shift: float = 0.0, mix: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100 + shift, 20, n),
            "visits": rng.poisson(2, n).astype(float),
            "channel": pd.Categorical(rng.choice(["web", "dealer"], n, p=[mix, 1 - mix]), categories=["dealer", "web"]),
        }
    )


def test_same_distribution_is_not_drift():
    auc, _ = adversarial_auroc(_frame(3000, 1), _frame(3000, 2))
    assert auc == pytest.approx(0.5, abs=0.04)
    reference = _frame(3000, 1)
    check = check_drift(profile_frame(reference), reference, _frame(2000, 2), _frame(2000, 2))
    assert not check.material and check.shifted == []


def test_a_moved_column_is_found_by_both_views():
    reference, moved = _frame(3000, 1), _frame(3000, 2, shift=40)
    check = check_drift(profile_frame(reference), reference, moved, moved)
    assert check.material and check.adversarial_auroc > 0.9 and check.adversarial_auroc >= MATERIAL_AUROC
    assert check.shifted == ["amount"]
    assert check.giveaway.index[0] == "amount"  # the column that gives the new rows away
    assert check.to_dict()["top_giveaway_columns"][0] == "amount"


def test_a_shift_no_single_column_shows_is_caught_by_adversarial_validation():
    # Two columns keep their distributions but lose their correlation: PSI sees nothing.
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 4000)
    reference = pd.DataFrame({"a": a, "b": a + rng.normal(0, 0.1, 4000)})
    c = rng.normal(0, 1, 4000)
    current = pd.DataFrame({"a": c, "b": rng.permutation(c) + rng.normal(0, 0.1, 4000)})
    assert drift_report(profile_frame(reference), current).shifted == []
    check = check_drift(profile_frame(reference), reference, current, current)
    assert check.material


def test_too_few_rows_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 20 rows"):
        adversarial_auroc(_frame(10, 1), _frame(10, 2))
