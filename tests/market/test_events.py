"""Declared events: a known uplift recovered within its interval and applied to the coming occurrence,
scopes matched to the series' id parts, shock months left out of the calibration, and bad events
files answered in one clear line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.market.events import check_events, read_events
from carsight.market.forecast import Forecaster

UPLIFT = 0.30
N = 72
PAST = [5, 17, 26, 40, 51, 63]  # irregular months, so no season absorbs them
COMING = N + 4


def _month(i: int) -> pd.Timestamp:
    return pd.Timestamp(year=2019 + i // 12, month=i % 12 + 1, day=1)


def _series(markets=("Korea", "USA", "Korea", "USA"), scope=None) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = np.arange(N)
    parts = []
    for k, market in enumerate(markets):
        base = (200 + 40 * k) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * (1 + 0.003 * t)
        on = np.isin(t, PAST) & (scope is None or market == scope)
        y = rng.poisson(base * np.where(on, 1 + UPLIFT, 1.0)).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": f"m{k}/{market}",
                    "ds": pd.date_range("2019-01-01", periods=N, freq="MS"),
                    "y": y,
                    "market": market,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _events(**scope) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"name": "Spring campaign", "start": _month(i), "end": _month(i), "kind": "incentive", **scope}
            for i in [*PAST, COMING]
        ]
    )


@pytest.fixture(scope="module")
def fitted():
    frame = _series()
    events = check_events(_events())
    with_events = Forecaster(horizon=12).fit(frame[["unique_id", "ds", "y"]], events=events)
    without = Forecaster(horizon=12).fit(frame[["unique_id", "ds", "y"]])
    return with_events, without


def test_a_constant_uplift_is_recovered_within_its_interval(fitted):
    with_events, _ = fitted
    table = with_events.events()
    learnt = table[table["status"] == "learnt"]
    assert len(learnt) == len(PAST)
    truth = 100 * UPLIFT
    assert ((learnt["lo_pct"] <= truth) & (truth <= learnt["hi_pct"])).all(), learnt
    coming = table[table["status"] == "applied"].iloc[0]
    assert coming["source"] == "name" and coming["lo_pct"] <= truth <= coming["hi_pct"]
    assert abs(coming["effect_pct"] - truth) < 8


def test_the_coming_occurrence_is_applied_to_its_month_only(fitted):
    with_events, without = fitted
    a = with_events.predict().query("unique_id == 'm0/Korea'").set_index("ds")
    b = without.predict().query("unique_id == 'm0/Korea'").set_index("ds")
    month = _month(COMING)
    ratio = a.loc[month, "yhat"] / b.loc[month, "yhat"]
    assert 1.15 < ratio < 1.45
    others = a.index != month
    # Outside the event the forecast is of the clean history: nearer the true curve than the one that
    # took past campaign months (three of them Aprils) for its season.
    t = np.arange(N, N + 12)
    truth = pd.Series(200 * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * (1 + 0.003 * t), index=a.index)
    error_with = (a.loc[others, "yhat"] - truth[others]).abs().mean()
    error_without = (b.loc[others, "yhat"] - truth[others]).abs().mean()
    assert error_with < error_without
    # The uncertainty of the event's effect widens its month's interval beyond the model's own.
    y = with_events._arrays["m0/Korea"][1]
    model_only = with_events.intervals_.width("m0/Korea", "seasonal", 95, y, 12)[COMING - N]
    assert (a.loc[month, "yhat_hi_95"] - a.loc[month, "yhat_lo_95"]) / 2 > 1.05 * model_only


def test_an_event_scoped_to_a_market_moves_that_market_and_its_totals_only():
    from carsight.market.hierarchy import aggregate

    frame = _series(scope="Korea")
    frame["model"] = frame["unique_id"].str.split("/").str[0]
    Y_df, _, meta = aggregate(frame, ["model", "market"], [("total", []), ("market", ["market"])])
    events = check_events(_events(market="Korea"), meta)
    f = Forecaster(horizon=12).fit(Y_df, events=events, keys=meta)
    covered = set(f.events_.covering)
    assert covered == {"m0/Korea", "m2/Korea", "market:Korea", "Total"}
    table = f.events()
    assert table.loc[table["status"] == "learnt", "series_covered"].eq(4).all()


def test_declared_shock_months_are_left_out_of_the_calibration():
    frame = _series()[["unique_id", "ds", "y"]]
    events = pd.DataFrame([{"name": "chip shortage", "start": _month(50), "end": _month(55), "kind": "shock"}])
    f = Forecaster(horizon=12).fit(frame, events=check_events(events))
    r = f.residuals_
    in_shock = r["ds"].between(_month(50), _month(55))
    assert in_shock.any() and (r.loc[in_shock, "weight"] == 0).all() and (r.loc[~in_shock, "weight"] == 1).all()


def _csv(tmp_path, text: str):
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_events_file_with_korean_headers_reads_as_ingest_reads_it(tmp_path):
    path = _csv(
        tmp_path,
        "이벤트명,시작월,종료월,유형,국가\n연말 프로모션,2024-12,2024-12,인센티브,Korea\n반도체 부족,2021-05,2022-01,쇼크,\n",
    )
    frame = read_events(path)
    assert list(frame["kind"]) == ["incentive", "shock"]
    assert list(frame["market"]) == ["Korea", "(all)"] and set(frame["model"]) == {"(all)"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name,start,end,kind\nA,2024-05,2024-03,incentive\n",
            "row 1, column 'end': event 'A' ends (2024-03) before it starts (2024-05)",
        ),
        (
            "name,start,end,kind,market\nA,2024-05,2024-05,incentive,Narnia\n",
            "unknown scope: no series has market 'Narnia'",
        ),
        (
            "name,start,end,kind\nA,2024-01,2024-06,incentive\nB,2024-06,2024-08,incentive\n",
            "events 'A' (row 1) and 'B' overlap in 2024-06",
        ),
        ("name,start,end,kind\nA,2024-13,2024-06,incentive\n", "row 1"),
        ("name,start,end,kind,dealer\nA,2024-01,2024-01,incentive,Seoul\n", "unknown scope column 'dealer'"),
    ],
)
def test_a_bad_events_file_is_one_clear_error(tmp_path, text, message):
    keys = pd.DataFrame({"unique_id": ["a/Korea"], "market": ["Korea"]})
    with pytest.raises(InputError) as err:
        check_events(read_events(_csv(tmp_path, text)), keys, file="events.csv")
    assert message in str(err.value)


def _cli(args, capsys) -> tuple[int, str]:
    from carsight.cli import main

    with pytest.raises(SystemExit) as stop:
        main(args)
    captured = capsys.readouterr()
    return stop.value.code, captured.out + captured.err


def test_forecast_cli_applies_events_and_refuses_a_bad_file_in_one_line(tmp_path, capsys):
    frame = _series()
    data = tmp_path / "sales.csv"
    frame.assign(model=frame["unique_id"].str.split("/").str[0]).drop(columns="unique_id").to_csv(data, index=False)
    events = tmp_path / "events.csv"
    _events(market="Korea").assign(
        start=lambda d: d.start.dt.strftime("%Y-%m"), end=lambda d: d.end.dt.strftime("%Y-%m")
    ).to_csv(events, index=False)
    out = tmp_path / "fc.csv"
    args = ["--lang", "en", "forecast", "-i", str(data), "-o", str(out), "--date-col", "ds", "--value-col", "y",
            "--hierarchy", "market/model", "--horizon", "12", "--jobs", "1", "--events", str(events)]  # fmt: skip
    code, output = _cli(args, capsys)
    assert code == 0, output
    assert "Event effects" in output and "applied" in output
    assert list(pd.read_csv(out).columns[:4]) == ["unique_id", "ds", "model_name", "yhat"]
    bad = _csv(tmp_path, "name,start,end,kind,market\nA,2024-05,2024-05,incentive,Narnia\n")
    code, output = _cli([*args[:-1], str(bad)], capsys)
    assert code == 2
    assert "unknown scope: no series has market 'Narnia'" in " ".join(output.split())
    assert "Traceback" not in output and len(output.strip().splitlines()) <= 3


def test_a_shock_is_taken_out_month_by_month_and_an_aggregate_keeps_its_own_effect():
    """A shock that deepens and recovers is adjusted per month (no dip or overshoot left in the
    history), and a total over two markets keeps its own, smaller effect of a one-market event."""
    from carsight.market.event_forecast import EventAdjustment

    rng = np.random.default_rng(5)
    t = np.arange(N)
    shock = {30: 0.5, 31: 0.5, 32: 0.6, 33: 0.8, 34: 0.9}  # deepens, then recovers
    base = {u: (300 + 50 * k) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) for k, u in enumerate(["a/Korea", "b/USA"])}
    factor = np.array([shock.get(i, 1.0) for i in t])
    lift = np.where(np.isin(t, PAST), 1 + UPLIFT, 1.0)
    ys = {
        "a/Korea": base["a/Korea"] * factor * lift * rng.normal(1, 0.02, N),
        "b/USA": base["b/USA"] * factor * rng.normal(1, 0.02, N),
    }
    ys["total"] = ys["a/Korea"] + ys["b/USA"]
    ds = pd.date_range("2019-01-01", periods=N, freq="MS").to_numpy()
    keys = pd.DataFrame({"unique_id": ["a/Korea", "b/USA", "total"], "market": ["Korea", "USA", None]})
    events = pd.concat(
        [
            _events(market="Korea"),
            pd.DataFrame([{"name": "supply", "start": _month(30), "end": _month(34), "kind": "shock"}]),
        ],
        ignore_index=True,
    )
    adj = EventAdjustment(check_events(events, keys), keys, {u: (ds, y) for u, y in ys.items()}, 12)
    adj.learn([])
    for uid in ("a/Korea", "b/USA"):
        # What is left in the shock months is noise around the series without the shock.
        ratio = adj.adjusted(uid)[30:35] / (base[uid][30:35] * (lift[30:35] if uid == "a/Korea" else 1))
        assert np.all(np.abs(ratio - 1) < 0.08), (uid, ratio)
    table = adj.table()
    coming = table[table["status"] == "applied"]
    assert len(coming) == 1
    korea_effect = adj.final.log_effect("a/Korea", int(coming.index[0]))[0]
    total_effect = adj.final.log_effect("total", int(coming.index[0]))[0]
    # The total moves by Korea's share of the uplift only: about 0.3 × 300/650 ≈ 14%.
    assert abs(np.expm1(korea_effect) - UPLIFT) < 0.08
    assert 0.05 < np.expm1(total_effect) < 0.22, total_effect
