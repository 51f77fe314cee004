"""RFM on hand-checked examples: ties, one-purchase customers, refunds, zero amounts, grade and
segment rules, and the cut-off date."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

from carsight.customers.rfm import GROUPS, NAMED_SEGMENTS, RFM_COLUMNS, GradeCutoffs, rfm_table
from carsight.errors import InputError


def _tx(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "purchase_date", "amount"])
    frame["purchase_date"] = pd.to_datetime(frame["purchase_date"]).dt.date
    return ibis.memtable(frame)


@pytest.fixture
def small():
    return _tx(
        [
            ("a", "2024-01-01", 100.0),
            ("a", "2024-06-01", 200.0),
            ("b", "2024-03-01", 300.0),
            ("c", "2024-02-01", 50.0),
            ("c", "2024-02-05", -50.0),  # refund of the whole purchase
            ("d", "2024-05-01", 0.0),  # zero amount only: not a purchase
            ("e", "2025-01-01", 999.0),  # after the as-of date
            ("f", "2024-04-01", 300.0),
        ]
    )


def _run(t, as_of="2024-12-31", **kw):
    return rfm_table(t, as_of, **kw).to_pandas().set_index("customer_id").sort_index()


def test_hand_checked_example(small):
    out = _run(small)
    assert list(out.reset_index().columns) == list(RFM_COLUMNS)
    # d has only a zero-amount row, e bought after the as-of date: neither is scored.
    assert list(out.index) == ["a", "b", "c", "f"]
    assert out.loc["a", "recency_days"] == (dt.date(2024, 12, 31) - dt.date(2024, 6, 1)).days
    assert out.loc["a", "frequency"] == 2 and out.loc["a", "monetary_total"] == 300.0
    assert out.loc["a", "monetary_avg"] == 150.0
    # The refund nets c's spend to zero but does not remove the purchase.
    assert out.loc["c", "frequency"] == 1 and out.loc["c", "monetary_total"] == 0.0
    # Recency: four distinct values → mid-ranks 1/8, 3/8, 5/8, 7/8 of 5 → scores 1, 2, 4, 5.
    assert out["r_score"].to_dict() == {"a": 5, "b": 2, "c": 1, "f": 4}
    # Frequency: three customers tied at one purchase share one score (mid-rank 3/8 → 2).
    assert out["f_score"].to_dict() == {"a": 5, "b": 2, "c": 2, "f": 2}
    # Monetary: three tied at 300 share score 4; the netted-to-zero customer gets 1.
    assert out["m_score"].to_dict() == {"a": 4, "b": 4, "c": 1, "f": 4}
    assert out.loc["a", "rfm_score"] == pytest.approx(round((5 + 5 + 4 - 3) / 12 * 100, 1))
    assert out.loc["a", "grade"] == "Very Strong" and out.loc["a", "group"] == "VIP"
    assert out.loc["a", "named_segment"] == "Champions"
    assert out.loc["f", "named_segment"] == "New" and out.loc["f", "group"] == "New"
    assert out.loc["b", "named_segment"] == "At risk" and out.loc["b", "group"] == "Churn risk"
    assert out.loc["c", "named_segment"] == "Lost" and out.loc["c", "grade"] == "Weak"


def test_identical_customers_always_share_scores():
    rows = [(f"c{i}", "2024-05-01", 1000.0) for i in range(7)] + [
        ("x", "2023-01-01", 10.0),
        ("y", "2024-11-01", 5000.0),
    ]
    out = _run(_tx(rows))
    tied = out.loc[[f"c{i}" for i in range(7)], ["r_score", "f_score", "m_score", "rfm_score"]]
    assert len(tied.drop_duplicates()) == 1
    assert out.loc["y", "r_score"] > tied["r_score"].iloc[0] > out.loc["x", "r_score"]


def test_scores_are_quintiles_on_distinct_values():
    rows = [(f"c{i:02d}", (dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat(), 100.0 * (i + 1)) for i in range(20)]
    out = _run(_tx(rows))
    # 20 distinct recencies and amounts: exactly 4 customers in each score.
    assert out["r_score"].value_counts().sort_index().tolist() == [4, 4, 4, 4, 4]
    assert out["m_score"].value_counts().sort_index().tolist() == [4, 4, 4, 4, 4]
    # Most recent and biggest spender get the top scores.
    assert out.loc["c19", "r_score"] == 5 and out.loc["c19", "m_score"] == 5
    assert out.loc["c00", "r_score"] == 1 and out.loc["c00", "m_score"] == 1


def test_monetary_average_option_changes_m_score():
    rows = [("big", "2024-01-01", 100.0)] * 1 + [("many", f"2024-0{m}-01", 40.0) for m in range(1, 6)]
    rows += [("mid", "2024-02-01", 60.0)]
    total = _run(_tx(rows), monetary="total")
    average = _run(_tx(rows), monetary="average")
    assert total.loc["many", "m_score"] > total.loc["big", "m_score"]
    assert average.loc["big", "m_score"] > average.loc["many", "m_score"]
    assert average.loc["many", "monetary_avg"] == pytest.approx(40.0)


def test_only_purchases_before_as_of_count(small):
    early = _run(small, as_of="2024-03-02")
    assert set(early.index) == {"a", "b", "c"}
    assert early.loc["a", "frequency"] == 1 and early.loc["b", "recency_days"] == 1
    # A purchase on the as-of day itself is not yet history.
    assert "b" not in _run(small, as_of="2024-03-01").index


def test_grade_boundaries_and_custom_cutoffs():
    # 20 customers with distinct recency/frequency/monetary give every score combination a spread.
    rows = []
    for i in range(20):
        for k in range(i % 5 + 1):
            rows.append(
                (f"c{i:02d}", (dt.date(2023, 1, 1) + dt.timedelta(days=15 * i + k)).isoformat(), 10.0 * (i + 1))
            )
    out = _run(_tx(rows))
    default = GradeCutoffs()
    for score, grade in zip(out["rfm_score"], out["grade"], strict=True):
        expected = (
            "Very Strong"
            if score >= default.very_strong
            else "Strong"
            if score >= default.strong
            else "Normal"
            if score >= default.normal
            else "Weak"
        )
        assert grade == expected
    strict = _run(_tx(rows), cutoffs=GradeCutoffs(very_strong=99.0, strong=80.0, normal=50.0))
    assert (strict["grade"] == "Very Strong").sum() <= (out["grade"] == "Very Strong").sum()
    assert set(out["named_segment"]) <= set(NAMED_SEGMENTS)
    assert set(out["group"]) <= set(GROUPS)


def test_score_100_is_very_strong_and_exact_cutoff_is_inclusive():
    rows = [("top", "2024-12-01", 900.0), ("top", "2024-11-01", 900.0)] + [
        (f"c{i}", "2022-01-01", 10.0) for i in range(9)
    ]
    out = _run(_tx(rows))
    assert out.loc["top", "rfm_score"] == 100.0 and out.loc["top", "grade"] == "Very Strong"
    cut = GradeCutoffs(very_strong=100.0, strong=50.0, normal=10.0)
    assert _run(_tx(rows), cutoffs=cut).loc["top", "grade"] == "Very Strong"


def test_bad_arguments_raise_input_error(small):
    with pytest.raises(InputError, match="monetary"):
        rfm_table(small, "2024-12-31", monetary="median")
    with pytest.raises(InputError, match="as_of|as-of"):
        rfm_table(small, "31/12/2024")
    with pytest.raises(InputError, match="cut-offs"):
        GradeCutoffs(very_strong=50, strong=70, normal=40)
    with pytest.raises(InputError, match="amount"):
        rfm_table(
            ibis.memtable(pd.DataFrame({"customer_id": ["a"], "purchase_date": [dt.date(2024, 1, 1)]})), "2024-12-31"
        )


def test_runs_inside_duckdb(tmp_warehouse):
    """The same expression runs on a warehouse table (pushed down to DuckDB, not pandas)."""
    frame = pd.DataFrame(
        {
            "purchase_id": ["p1", "p2", "p3"],
            "customer_id": ["a", "a", "b"],
            "purchase_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]).date,
            "brand": "Hyundai",
            "model": "Tucson",
            "amount": [3.0e7, 3.2e7, 5.0e7],
            "payment_type": "cash",
            "dealer": "Seoul",
            "channel": "showroom",
        }
    )
    tmp_warehouse.upsert("purchases", frame)
    expr = rfm_table(tmp_warehouse.table("purchases"), dt.date(2024, 4, 1))
    assert "RANK()" in ibis.to_sql(expr) or "rank()" in ibis.to_sql(expr).lower()
    out = expr.to_pandas().set_index("customer_id")
    assert out.loc["a", "frequency"] == 2 and out.loc["b", "recency_days"] == 31
