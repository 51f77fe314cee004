"""Trigger rules: hand-computed support, confidence and lift; the same rules and numbers as mlxtend's
FP-growth and as a recount from the data; readable cut points; pruning and ranking; bad input; and, on
the demo warehouse, the planted shopping precursors found as triggers for repurchase."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from carsight.customers.triggers import (
    RULE_COLUMNS,
    Condition,
    Discretiser,
    TriggerMiner,
    format_number,
    mine_itemsets,
    parse_condition,
    profit_efficiency,
    rule_mask,
    rule_predicate,
    triggers_on_table,
)
from carsight.errors import InputError

# Keep every mined rule: for checking numbers, not pruning.
KEEP_ALL = {"min_lift": 0.0, "min_improvement": -1.0, "alpha": 1.0}


def _small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": ["web", "web", "web", "web", "web", "shop", "shop", "shop", "shop", "shop"],
            "visits": [2, 3, 2, 0, 1, 2, 0, 0, 1, 3],
            "bought": ["Y", "Y", "N", "N", "Y", "Y", "N", "N", "N", "N"],
        }
    )


def test_hand_computed_support_confidence_lift():
    frame = _small()
    miner = triggers_on_table(
        frame, "bought", "Y", min_support=0.1, cuts={"visits": [2]}, margin=100.0, contact_cost=10.0, **KEEP_ALL
    )
    rules = miner.rules_.set_index("conditions")
    # 10 rows, 4 bought: base rate 0.4.
    assert miner.base_rate_ == 0.4
    web = rules.loc["channel=web"]  # rows 0-4: 5 customers, 3 bought
    assert (web.customers, web.responders) == (5, 3)
    assert (web.coverage, web.support, web.confidence) == (0.5, 0.3, 0.6)
    assert web.lift == pytest.approx(1.5, abs=1e-15)
    both = rules.loc["channel=web & visits>=2"]  # rows 0, 1, 2: 3 customers, 2 bought
    assert (both.customers, both.responders, both.coverage, both.support) == (3, 2, 0.3, 0.2)
    assert both.confidence == 2 / 3 and both.lift == (2 / 3) / 0.4
    # (margin × responders − cost × contacts) / (cost × contacts) = (200 − 30) / 30
    assert both.profit_efficiency == pytest.approx(170 / 30, abs=1e-12)
    assert "visits<2 & channel=web" not in rules.index  # conditions follow the table's column order
    assert list(miner.rules_.columns[: len(RULE_COLUMNS)]) == list(RULE_COLUMNS)
    # Ranked by profit efficiency, best first.
    assert miner.rules_.profit_efficiency.is_monotonic_decreasing


def test_same_rules_and_numbers_as_mlxtend_fpgrowth():
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    rng = np.random.default_rng(1)
    n = 1500
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 70, n),
            "visits": rng.poisson(1, n),
            "channel": rng.choice(["web", "showroom", "app"], n),
            "opened": rng.integers(0, 2, n),
        }
    )
    y = rng.random(n) < 0.05 + 0.2 * ((frame.visits >= 2) & (frame.channel == "web"))
    miner = TriggerMiner(min_support=0.01, **KEEP_ALL).fit(frame, y)
    onehot = pd.DataFrame(miner.discretiser_.transform(frame), columns=miner.discretiser_.condition_texts_)
    onehot["__outcome"] = y
    itemsets = fpgrowth(onehot, min_support=0.01, use_colnames=True, max_len=4)
    rules = association_rules(itemsets, len(onehot), metric="confidence", min_threshold=0.0)
    rules = rules[rules.consequents == frozenset(["__outcome"])]
    column = {c.text: c.column for c in miner.discretiser_.conditions_}
    # carsight puts at most one condition per column in a rule (two conditions on age are one range).
    rules = rules[rules.antecedents.map(lambda a: len({column[x] for x in a}) == len(a))]
    theirs = {frozenset(r.antecedents): (r.support, r.confidence, r.lift) for r in rules.itertuples()}
    ours = {frozenset(r.conditions.split(" & ")): (r.support, r.confidence, r.lift) for r in miner.mined_.itertuples()}
    assert len(ours) > 100 and set(ours) == set(theirs)
    assert max(np.abs(np.subtract(ours[k], theirs[k])).max() for k in ours) < 1e-12


def test_rule_numbers_equal_a_recount_from_the_data():
    rng = np.random.default_rng(4)
    n = 4000
    frame = pd.DataFrame(
        {
            "km": rng.gamma(2.0, 20_000.0, n).round(1),
            "tier": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )
    y = rng.random(n) < np.where(frame.tier == "d", 0.3, 0.08) + (frame.km > 60_000) * 0.1
    miner = TriggerMiner(min_support=0.005).fit(frame, y)
    assert len(miner.rules_)
    for rule in miner.rules_.itertuples():
        mask = rule_mask(frame, rule.conditions)
        customers, responders = int(mask.sum()), int(y[mask].sum())
        assert (rule.customers, rule.responders) == (customers, responders)
        assert rule.coverage == customers / n and rule.support == responders / n
        assert rule.confidence == responders / customers
        assert rule.lift == (responders / customers) / (y.sum() / n)


def test_cut_points_are_written_exactly_as_used():
    frame = pd.DataFrame({"age": [21.5, 33.0, 47.25, 55.0, 61.0, 70.0] * 5, "visits": [0, 0, 1, 2, 3, 5] * 5})
    d = Discretiser(cuts={"age": [30, 40.5]}).fit(frame)
    texts = d.condition_texts_
    # Non-integer column: right-closed; the user's cuts appear as given.
    assert {"age<=30", "30<age<=40.5", "age>40.5"} <= set(texts)
    # A count: left-closed ("at least"), cut at observed values.
    visits = [t for t in texts if t.startswith("visits") or "visits" in t]
    assert "visits>=1" in visits and all("." not in t for t in visits)
    assert format_number(2.0) == "2" and format_number(0.1) == "0.1" and float(format_number(1 / 3)) == 1 / 3
    right = Discretiser(closed="right", cuts={"visits": [1, 2]}).fit(frame)
    assert {"visits<=1", "1<visits<=2", "visits>2"} <= set(right.condition_texts_)
    left = Discretiser(closed="left", cuts={"visits": [1, 2]}).fit(frame)
    assert {"visits<1", "visits in [1, 2)", "visits>=2"} <= set(left.condition_texts_)


def test_every_condition_form_reads_back_and_filters_alike_in_pandas_and_ibis():
    frame = pd.DataFrame(
        {"channel": ["web", "app", "shop", None, "web"], "age": [25.0, 35.0, 45.0, 55.0, np.nan], "n": [0, 1, 2, 3, 4]}
    )
    texts = ["channel=web", "channel!=web", "age<=35", "age<35", "age>=45", "age>45", "30<age<=45", "n in [1, 3)"]
    expected = {
        "channel=web": [1, 0, 0, 0, 1],
        "channel!=web": [0, 1, 1, 0, 0],
        "age<=35": [1, 1, 0, 0, 0],
        "age<35": [1, 0, 0, 0, 0],
        "age>=45": [0, 0, 1, 1, 0],
        "age>45": [0, 0, 0, 1, 0],
        "30<age<=45": [0, 1, 1, 0, 0],
        "n in [1, 3)": [0, 1, 1, 0, 0],
    }
    con = ibis.duckdb.connect()
    table = ibis.memtable(frame.assign(row=range(len(frame))))
    for text in texts:
        cond = parse_condition(text)
        assert isinstance(cond, Condition) and cond.text == text
        assert rule_mask(frame, text).astype(int).tolist() == expected[text], text
        rows = con.to_pandas(table.filter(rule_predicate(table, text)).row).tolist()
        assert sorted(rows) == [i for i, v in enumerate(expected[text]) if v], text
    assert rule_mask(frame, "channel=web & 30<age<=45").tolist() == [False] * 5
    con.disconnect()


def test_redundant_supersets_and_weak_rules_are_pruned():
    rng = np.random.default_rng(7)
    n = 20_000
    frame = pd.DataFrame({"a": rng.choice(["x", "y"], n), "noise": rng.choice(["p", "q", "r"], n)})
    y = rng.random(n) < np.where(frame.a == "x", 0.3, 0.05)
    miner = TriggerMiner(min_support=0.005).fit(frame, y)
    kept = set(miner.rules_.conditions)
    assert "a=x" in kept
    # a=x & noise=… adds nothing beyond a=x (noise is independent of the outcome).
    assert not [c for c in kept if "noise" in c]
    assert (miner.rules_.lift >= 1.2).all()
    # Ranked by lift without a margin and cost; profit efficiency then is empty.
    assert miner.rules_.lift.is_monotonic_decreasing and miner.rules_.profit_efficiency.isna().all()


def test_profit_efficiency_orders_like_confidence():
    eff = profit_efficiency([10, 30], [100, 100], margin=100.0, contact_cost=10.0)
    assert eff.tolist() == [0.0, 2.0]  # 10 × 100 − 100 × 10 = 0; (3000 − 1000) / 1000 = 2


def test_identical_rules_are_reported_once_and_representatives_marked():
    frame = pd.DataFrame({"a": ["x"] * 50 + ["y"] * 150, "b": ["u"] * 50 + ["v"] * 150, "c": ["k", "m"] * 100})
    y = np.r_[np.ones(30), np.zeros(20), np.zeros(140), np.ones(10)].astype(bool)
    miner = TriggerMiner(min_support=0.01).fit(frame, y)
    rules = miner.rules_
    assert rules.conditions.tolist()[0] == "a=x"  # b=u selects the same rows: one of them is kept
    assert "b=u" not in set(rules.conditions)
    assert rules.representative.iloc[0] and rules.union_customers.iloc[0] == 50


@pytest.mark.parametrize(
    ("positive", "params", "message"),
    [
        ("maybe", {}, "no row has the value"),
        ("N", {"min_support": 0.0}, "min_support"),
        ("Y", {"margin": 1.0}, "give both"),
        ("Y", {"max_conditions": 0}, "conditions"),
    ],
)
def test_bad_input_is_one_clear_error(positive, params, message):
    with pytest.raises(InputError, match=message):
        triggers_on_table(_small(), "bought", positive, file="t.csv", **params)


def test_no_positive_and_all_positive_rows_are_refused():
    frame = _small().assign(flag=0)
    with pytest.raises(InputError, match="no positive rows"):
        triggers_on_table(frame, "flag")
    with pytest.raises(InputError, match="every row has the outcome"):
        TriggerMiner().fit(frame[["channel"]], np.ones(len(frame)))
    with pytest.raises(InputError, match="no such column"):
        triggers_on_table(frame, "nope")


def test_single_consequent_miner_respects_the_support_floor():
    items = np.array([[1, 0, 1], [1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=bool)
    y = np.array([1, 1, 0, 1], dtype=bool)
    found = mine_itemsets(items, np.array([0, 1, 2]), y, max_len=2, min_support=0.5)
    got = {s: (c, r) for s, c, r in zip(found.itemset, found.customers, found.responders, strict=True)}
    # item 0 with the outcome: rows 0, 1 → 2/4; item 1: rows 1, 3; item 2: rows 0, 3; pairs reach 1/4 only.
    assert got == {(0,): (3, 2), (1,): (3, 2), (2,): (3, 2)}


def test_demo_repurchase_triggers_recover_the_shopping_precursors(demo_wh_copy):
    """On the demo, shoppers announce themselves with leads and test drives (docs/demo-data.md): the
    best trigger rules are made of those, far above the base rate; high mileage (a planted driver of
    shopping) also shows; every rule is recounted exactly from the stored features."""
    from carsight.config import Settings
    from carsight.customers import trigger_pipeline as P
    from carsight.warehouse import connect
    from carsight.warehouse.results_insights import TRIGGER_FEATURES, TRIGGER_RULES

    with connect(str(demo_wh_copy)) as wh:
        summary = P.run(wh, Settings(warehouse=str(demo_wh_copy)))
        rules = wh.table(TRIGGER_RULES.name).to_pandas()
        today = wh.table(TRIGGER_FEATURES.name).to_pandas()
        reference = pd.Timestamp(rules.reference_date.iloc[0]).date()
        past = P.training_rows(wh, reference)
    assert len(rules) >= 3, summary
    precursors = ("leads", "test_drive", "days_since_lead")
    top = rules.head(3)
    assert all(any(p in c for p in precursors) for c in top.conditions), top.conditions.tolist()
    assert top.lift.iloc[0] > 3.0
    assert rules.conditions.str.contains("mileage_km|vehicle_age_days").any()
    assert (rules.lift >= 1.2).all() and rules.reference_date.nunique() == 1
    # Exact recount on the reference-date features; nothing about the outcome is a feature.
    for rule in rules.itertuples():
        mask = rule_mask(past, rule.conditions)
        assert (rule.customers, rule.responders) == (int(mask.sum()), int(past.label[mask].sum()))
    assert "label" not in today.columns and len(today) > 0


def test_fpgrowth_algorithm_gives_the_same_rules():
    rng = np.random.default_rng(9)
    n = 2000
    frame = pd.DataFrame({"visits": rng.poisson(1.2, n), "channel": rng.choice(["web", "app", "shop"], n)})
    y = rng.random(n) < 0.05 + 0.25 * ((frame.visits >= 2) & (frame.channel == "web"))
    fast = TriggerMiner(min_support=0.01).fit(frame, y)
    reference = TriggerMiner(min_support=0.01, algorithm="fpgrowth").fit(frame, y)
    assert fast.n_mined_ == reference.n_mined_
    pd.testing.assert_frame_equal(fast.rules_, reference.rules_)
    with pytest.raises(InputError, match="eclat or fpgrowth"):
        TriggerMiner(algorithm="apriori").fit(frame, y)
