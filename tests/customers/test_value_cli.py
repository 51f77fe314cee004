"""`carsight propensity train|score` on a user's own table (categories, dates, an ID column, a
time column) end to end, and the refusal of a table that does not fit the model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from carsight.cli import app
from carsight.errors import InputError


def _table(n: int, seed: int) -> pd.DataFrame:
    """Leads as a dealer might export them: Korean date spellings, amounts with separators, an ID."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["서울", "부산", "대구", "인천"], n)
    visits = rng.poisson(1.5, n)
    registered = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1800, n), unit="D")
    contacted = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 700, n)), unit="D")
    price = rng.uniform(2e7, 8e7, n)
    logit = -1.5 + 0.7 * visits + 0.9 * (region == "서울") - 0.3 * (registered.year < 2021) + 0.4 * (price > 5e7)
    bought = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "상담번호": [f"L{100000 + i}" for i in range(n)],
            "region": region,
            "visits": visits,
            "registered": registered.strftime("%Y년 %m월 %d일"),
            "contacted": contacted.strftime("%Y-%m-%d"),
            "price": [f"{v:,.0f}" for v in price],
            "result": np.where(bought, "계약", "미계약"),
        }
    )


@pytest.fixture
def trained(tmp_path):
    train = tmp_path / "leads.csv"
    _table(3000, 1).to_csv(train, index=False, encoding="utf-8-sig")
    model_dir = tmp_path / "model"
    app(
        [
            "--lang",
            "en",
            "propensity",
            "train",
            "--table",
            str(train),
            "--target",
            "result",
            "--positive",
            "계약",
            "--time-col",
            "contacted",
            "--model-dir",
            str(model_dir),
        ],
        standalone_mode=False,
    )
    return tmp_path, model_dir


def test_train_saves_model_metrics_and_deciles(trained):
    _, model_dir = trained
    meta = json.loads((model_dir / "meta.json").read_text())
    assert meta["kind"] == "propensity" and meta["model_version"] == 1
    assert meta["fingerprint"]["rows"] == 3000 and meta["library_versions"]["lightgbm"]
    assert meta["extra"]["id_columns"] == ["상담번호"]
    assert "time-ordered" in meta["metrics"]["split"]
    holdout = {row["model"]: row for row in meta["metrics"]["holdout"]}
    # Both models beat the base rate on the same (latest) rows; the table says which is which.
    assert holdout["lightgbm"]["auroc"] > 0.7 and holdout["logistic_baseline"]["auroc"] > 0.7
    assert holdout["lightgbm"]["n"] == holdout["logistic_baseline"]["n"] == 600
    deciles = pd.read_csv(model_dir / "holdout_deciles.csv")
    assert deciles.customers.sum() == 600 and deciles.cum_gain.iloc[-1] == pytest.approx(1.0)
    assert deciles.rate.iloc[0] > deciles.rate.iloc[-1]
    assert {"registered__age_days", "price", "region"} <= set(meta["features"])


def test_score_writes_scores_grades_and_reasons(trained):
    tmp_path, model_dir = trained
    new = tmp_path / "new.csv"
    _table(400, 2).drop(columns=["result"]).to_csv(new, index=False)
    out = tmp_path / "scores.csv"
    app(
        [
            "--lang",
            "ko",
            "propensity",
            "score",
            "--model-dir",
            str(model_dir),
            "--table",
            str(new),
            "--output",
            str(out),
        ],
        standalone_mode=False,
    )
    scores = pd.read_csv(out, encoding="utf-8-sig")
    assert list(scores.columns) == [
        "상담번호",
        "score",
        "decile",
        "grade",
        "reason1",
        "reason2",
        "reason3",
        "model_used",
        "drift",
    ]
    assert len(scores) == 400 and scores.score.between(0, 1).all()
    assert set(scores.decile) == set(range(1, 11)) and scores.grade.between(1, 10).all()
    assert scores.reason1.str.contains(r"\([+-]\d").all()
    # Higher grades really respond more: mean visits fall from grade 1 to grade 10.
    merged = scores.join(_table(400, 2)[["visits"]])
    by_grade = merged.groupby(merged.decile <= 3).visits.mean()
    assert by_grade[True] > by_grade[False]


def test_score_refuses_a_table_that_does_not_fit(trained):
    tmp_path, model_dir = trained
    missing = tmp_path / "missing.csv"
    _table(50, 3).drop(columns=["result", "price", "visits"]).to_csv(missing, index=False)
    with pytest.raises(InputError) as info:
        app(
            [
                "propensity",
                "score",
                "--model-dir",
                str(model_dir),
                "--table",
                str(missing),
                "--output",
                str(tmp_path / "x.csv"),
            ],
            standalone_mode=False,
        )
    assert "visits" in str(info.value) and "price" in str(info.value) and "missing.csv" in str(info.value)
    wrong = tmp_path / "wrong.csv"
    _table(50, 3).drop(columns=["result"]).assign(visits="several").to_csv(wrong, index=False)
    with pytest.raises(InputError) as info:
        app(
            [
                "propensity",
                "score",
                "--model-dir",
                str(model_dir),
                "--table",
                str(wrong),
                "--output",
                str(tmp_path / "x.csv"),
            ],
            standalone_mode=False,
        )
    assert info.value.column == "visits" and info.value.row == 1 and "number" in str(info.value)
    assert not (tmp_path / "x.csv").exists()


def test_train_refuses_a_target_that_is_not_yes_no(tmp_path):
    train = tmp_path / "t.csv"
    _table(200, 1).to_csv(train, index=False)
    with pytest.raises(InputError, match="region"):
        app(
            ["propensity", "train", "--table", str(train), "--target", "region", "--model-dir", str(tmp_path / "m")],
            standalone_mode=False,
        )
