"""Drivers of a change: a two-segment change decomposed exactly, volume + mix + rate adding up to
hand-computed numbers, a concentrated drop reported where it is, bad input refused clearly, and the
planted US-plant switch of the demo found in the warehouse."""

from __future__ import annotations

import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.market.drivers import drivers_from_long, explain_change, month_range


def _grid(value: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        [{"A": a, "B": b, "C": c, "v": value} for a in ("a1", "a2", "a3") for b in ("b1", "b2") for c in ("c1", "c2")]
    )


def test_two_segment_change_is_decomposed_exactly():
    base = _grid()
    current = base.copy()
    current.loc[current.A == "a1", "v"] += 25.0  # +100 over 4 cells
    current.loc[(current.A == "a2") & (current.B == "b2"), "v"] -= 25.0  # −50 over 2 cells
    result = explain_change(base, current, ["A", "B", "C"], "v")
    seg = result.segments
    assert seg[["A", "B", "C"]].to_dict(orient="records") == [
        {"A": "a1", "B": None, "C": None},
        {"A": "a2", "B": "b2", "C": None},
    ]
    assert seg[["base", "current", "change", "share_of_change"]].values.tolist() == [
        [40.0, 140.0, 100.0, 2.0],
        [20.0, -30.0, -50.0, -1.0],
    ]
    assert (result.base_total, result.current_total, result.change) == (120.0, 170.0, 50.0)
    assert result.explained == 1.0 and result.other_change == 0.0
    assert result.labels() == ["A=a1", "A=a2 & B=b2"]


def test_volume_mix_and_rate_add_up_to_the_change():
    # Segment A=x: cell p 10 units × 100 → 14 × 100; cell q 10 × 50 → 10 × 60.
    base = pd.DataFrame({"A": ["x", "x", "y"], "B": ["p", "q", "p"], "value": [1000.0, 500.0, 300.0], "n": [10, 10, 3]})
    current = pd.DataFrame(
        {"A": ["x", "x", "y"], "B": ["p", "q", "p"], "value": [1400.0, 600.0, 300.0], "n": [14, 10, 3]}
    )
    result = explain_change(base, current, ["A", "B"], "value", size="n", max_depth=1)
    row = result.segments.set_index("A").loc["x"]
    # base 1500 over 20 units (75 a unit), 24 units now: volume 4 × 75 = 300;
    # mix: 14 × 100 + 10 × 50 − 24 × 75 = 100; rate: 10 × (60 − 50) = 100; change 2000 − 1500 = 500.
    assert (row.volume, row.mix, row.rate, row.change) == (300.0, 100.0, 100.0, 500.0)


def test_concentrated_drop_is_reported_where_it_is_and_a_spread_one_as_the_parent():
    base = _grid(100.0)
    concentrated = base.copy()
    concentrated.loc[(concentrated.A == "a2") & (concentrated.C == "c1"), "v"] *= 0.5
    top = explain_change(base, concentrated, ["A", "B", "C"], "v").segments.iloc[0]
    assert (top.A, top.B, top.C, top.change) == ("a2", None, "c1", -100.0)
    spread = base.copy()
    spread.loc[spread.A == "a3", "v"] *= 0.8
    top = explain_change(base, spread, ["A", "B", "C"], "v").segments.iloc[0]
    assert (top.A, top.B, top.C, top.change) == ("a3", None, None, -80.0)


def test_segments_never_overlap_and_the_biggest_comes_first():
    base = _grid(100.0)
    current = base.copy()
    current.loc[current.A == "a1", "v"] *= 1.5
    current.loc[(current.A == "a2") & (current.B == "b1") & (current.C == "c2"), "v"] -= 30
    current.loc[current.B == "b2", "v"] -= 5
    seg = explain_change(base, current, ["A", "B", "C"], "v", max_segments=5).segments
    assert seg.change.abs().is_monotonic_decreasing
    masks = [
        (base.A.eq(r.A) | (r.A is None)) & (base.B.eq(r.B) | (r.B is None)) & (base.C.eq(r.C) | (r.C is None))
        for r in seg.itertuples()
    ]
    assert (sum(m.astype(int) for m in masks) <= 1).all()


def _long() -> pd.DataFrame:
    rows = []
    for month in pd.date_range("2024-01-01", "2024-12-01", freq="MS"):
        for model in ("Tucson", "Avante"):
            for market in ("Korea", "USA"):
                units = 100 + (40 if (model == "Tucson" and market == "USA" and month.month > 6) else 0)
                rows.append({"month": month.strftime("%Y-%m"), "model": model, "market": market, "units": f" {units} "})
    return pd.DataFrame(rows)


def test_long_file_with_inclusive_month_ranges():
    result = drivers_from_long(
        _long(),
        value_col="units",
        date_col="month",
        dims=["model", "market"],
        base="2024-01:2024-06",
        current="2024-07:2024-12",
    )
    top = result.segments.iloc[0]
    assert (top.model, top.market, top.base, top.current, top.share_of_change) == ("Tucson", "USA", 600.0, 840.0, 1.0)
    assert month_range("2024-05") == (pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-01"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": "2019-01:2019-06"}, "no rows in --base"),
        ({"current": "2030-01:2030-03"}, "no rows in --current"),
        ({"base": "2024-01:2024-07"}, "overlap"),
        ({"base": "2024-13:2024-14"}, "not a month"),
        ({"base": "2024-06:2024-01"}, "ends before it starts"),
        ({"dims": ["model", "brand"]}, "no such column"),
        ({"dims": ["model", "model"]}, "named twice"),
    ],
)
def test_bad_input_is_refused_clearly(kwargs, message):
    args = {
        "value_col": "units",
        "date_col": "month",
        "dims": ["model", "market"],
        "base": "2024-01:2024-06",
        "current": "2024-07:2024-12",
    }
    with pytest.raises(InputError, match=message):
        drivers_from_long(_long(), file="sales.csv", **{**args, **kwargs})


def test_a_dimension_with_one_value_and_text_in_the_value_column_are_refused():
    frame = _long()
    one = frame[frame.market == "Korea"]
    with pytest.raises(InputError, match="dimension 'market' has only one value"):
        drivers_from_long(
            one,
            value_col="units",
            date_col="month",
            dims=["model", "market"],
            base="2024-01:2024-06",
            current="2024-07:2024-12",
        )
    frame.loc[5, "units"] = "문의중"
    with pytest.raises(InputError) as info:
        drivers_from_long(
            frame,
            value_col="units",
            date_col="month",
            dims=["model", "market"],
            base="2024-01:2024-06",
            current="2024-07:2024-12",
        )
    assert info.value.row == 6 and info.value.column == "units"


def test_demo_sales_drivers_find_the_planted_us_plant_switch(demo_wh_path):
    """The demo moves IONIQ 5 for the USA from export to the US plant from 2024-10 (docs/demo-data.md):
    over 2024-10 … 2025-09 against the year before, that is the biggest rise and the biggest fall."""
    from carsight.market.driver_pipeline import sales_change
    from carsight.warehouse import connect

    with connect(str(demo_wh_path), read_only=True) as wh:
        result = sales_change(wh, (pd.Timestamp("2023-10-01").date(), pd.Timestamp("2024-09-01").date()),
                              (pd.Timestamp("2024-10-01").date(), pd.Timestamp("2025-09-01").date()))  # fmt: skip
    seg = result.segments
    rise, fall = seg.loc[seg.change.idxmax()], seg.loc[seg.change.idxmin()]
    assert rise.model == "IONIQ 5" and rise.kind == "overseas_plant"
    assert fall.model == "IONIQ 5" and fall.kind == "export" and fall.market in ("USA", None)
    assert seg.change.sum() + result.other_change == pytest.approx(result.change)
