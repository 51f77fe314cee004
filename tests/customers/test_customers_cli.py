"""The customer commands end to end, as a user runs them: files in, files out, no warehouse; and
the pipeline step writing its tables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

CARSIGHT = [str(Path(sys.executable).parent / "carsight")]


def _run(args, tmp_path, **env):
    environment = {**os.environ, "CARSIGHT_LANG": "en", **env}
    return subprocess.run(
        [*CARSIGHT, *map(str, args)], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300
    )


def _demo_file(demo_files: Path, table: str) -> Path:
    """The first data file of a demo table (loading writes ``*.rejected.csv`` beside them)."""
    return sorted(p for p in (demo_files / table).glob("*.csv") if not p.name.endswith(".rejected.csv"))[0]


@pytest.fixture(scope="module")
def files(demo_files, tmp_path_factory):
    """The demo's customers and purchases, with Korean headers a user would map."""
    out = tmp_path_factory.mktemp("customer-files")
    purchases = pd.read_csv(_demo_file(demo_files, "purchases"), dtype=str)
    purchases = purchases.rename(columns={"customer_id": "고객 코드", "amount": "결제액"})
    purchases.to_csv(out / "tx.csv", index=False, encoding="utf-8")
    customers = _demo_file(demo_files, "customers")
    vehicles = next((demo_files / "vehicles").glob("*.xlsx"))
    return {"tx": out / "tx.csv", "customers": customers, "vehicles": vehicles}


@pytest.mark.slow
def test_rfm_file_in_file_out_with_map(files, tmp_path):
    out = tmp_path / "rfm.csv"
    result = _run(
        ["rfm", "--transactions", files["tx"], "--as-of", "2025-07-01", "--output", out,
         "--map", "고객 코드=customer_id", "--map", "결제액=amount"],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rejected" in result.stderr  # the demo's planted bad rows are reported, not fatal
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert {"customer_id", "rfm_score", "grade", "named_segment", "group"} <= set(frame.columns)
    assert frame["customer_id"].is_unique and frame["rfm_score"].between(0, 100).all()
    assert set(frame["group"]) <= {"VIP", "Regular", "New", "Churn risk"}
    assert (frame.loc[frame["rfm_score"] >= 90, "grade"] == "Very Strong").all()


def test_rfm_on_a_plain_log_of_customer_date_and_amount(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "customer,date,amount\nA,2024-01-05,100\nA,2024-03-01,50\nB,2023-06-10,30\nC,2024-02-20,500\n",
        encoding="utf-8",
    )
    out = tmp_path / "rfm.csv"
    result = _run(["rfm", "--transactions", log, "--as-of", "2024-04-01", "--output", out], tmp_path)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out, encoding="utf-8-sig").set_index("customer_id")
    assert frame.loc["A", "frequency"] == 2 and frame.loc["A", "monetary_total"] == 150
    assert frame.loc["C", "rfm_score"] > frame.loc["B", "rfm_score"]


@pytest.mark.slow
def test_segment_fit_then_assign(files, tmp_path):
    model_dir = tmp_path / "seg"
    fit = _run(
        ["segment", "fit", "--customers", files["customers"], "--transactions", files["tx"],
         "--vehicles", files["vehicles"], "--model-dir", model_dir, "--output", tmp_path / "segments.csv",
         "--map", "고객 코드=customer_id", "--map", "결제액=amount"],
        tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    assert (model_dir / "meta.json").is_file()
    meta = json.loads((model_dir / "meta.json").read_text())
    assert meta["kind"] == "segmenter" and meta["metrics"]["k"] >= 2
    assert pd.read_csv(tmp_path / "segments.csv")["segment_id"].nunique() == meta["metrics"]["k"]
    fields = {"age": 34, "gender": "F", "body_type": "suv", "budget": 52_000_000, "payment_type": "lease"}
    assign = _run(["segment", "assign", "--model-dir", model_dir, "--json", json.dumps(fields)], tmp_path)
    assert assign.returncode == 0, assign.stderr
    answer = json.loads(assign.stdout)
    assert answer["segment_id"] in range(meta["metrics"]["k"]) and answer["profile_en"]
    assert "region" in answer["imputed"]
    bad = _run(["segment", "assign", "--model-dir", model_dir, "--json", '{"age": "abc"}'], tmp_path)
    assert bad.returncode == 2
    assert "age" in bad.stderr and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2


@pytest.mark.slow
def test_recommend_file_in_file_out(files, tmp_path):
    out = tmp_path / "recs.csv"
    result = _run(
        ["recommend", "--transactions", files["tx"], "--customers", files["customers"], "--vehicles", files["vehicles"],
         "--k", "3", "--output", out, "--no-evaluate", "--map", "고객 코드=customer_id", "--map", "결제액=amount"],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    recs = pd.read_csv(out, encoding="utf-8-sig")
    assert list(recs.columns) == ["customer_id", "rank", "model", "score", "reason"]
    assert recs.groupby("customer_id").size().eq(3).all()
    assert recs["reason"].notna().all()


def test_unknown_map_header_is_one_clear_line(tmp_path):
    tx = tmp_path / "tx.csv"
    tx.write_text('purchase_id,customer_id,purchase_date,model,amount\nP1,C1,2024-01-05,Tucson," 31,000,000 "\n')
    result = _run(["rfm", "-t", tx, "-o", tmp_path / "o.csv", "--map", "고객=customer_id"], tmp_path)
    assert result.returncode == 2
    assert "고객" in result.stderr and "Traceback" not in result.stderr
    ok = _run(["rfm", "-t", tx, "-o", tmp_path / "o.csv"], tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert pd.read_csv(tmp_path / "o.csv", encoding="utf-8-sig").loc[0, "monetary_total"] == 31_000_000


@pytest.fixture(scope="module")
def pipeline_run(pipeline_wh_path, pipeline_results):
    """The customers step of the shared pipeline run over the demo (tests/conftest.py)."""
    from carsight.warehouse import connect

    with connect(str(pipeline_wh_path), read_only=True) as wh:
        tables = {
            name: wh.table(name).to_pandas()
            for name in ("customers", "customer_rfm", "customer_segments", "segment_profiles", "segment_k_curve",
                         "recommendations", "recommendation_eval")
        }  # fmt: skip
    return pipeline_results["customers"].summary, tables, pipeline_wh_path.parent / "models"


@pytest.mark.slow
def test_pipeline_step_writes_its_tables(pipeline_run):
    summary, tables, models = pipeline_run
    n_customers = len(tables["customers"])
    rfm, segments, profiles = tables["customer_rfm"], tables["customer_segments"], tables["segment_profiles"]
    recs = tables["recommendations"]
    assert summary["rfm_customers"] == len(rfm) > 0
    assert len(segments) == n_customers and segments["segment_id"].nunique() == summary["segments"]
    assert profiles["size"].sum() == n_customers and profiles["profile_ko"].str.len().gt(0).all()
    assert tables["segment_k_curve"]["chosen"].sum() == 1
    assert recs.groupby("customer_id").size().eq(5).all() and recs["customer_id"].nunique() == n_customers
    assert set(tables["recommendation_eval"]["method"]) == {"learned", "popularity", "segment_popularity"}
    assert (models / "segmenter" / "meta.json").is_file() and (models / "recommender" / "meta.json").is_file()


@pytest.mark.slow
def test_pipeline_recovers_the_demo_customer_types(pipeline_run, demo_files):
    """Planted customer types are found with default settings: adjusted Rand index ≥ 0.8."""
    from sklearn.metrics import adjusted_rand_score

    _, tables, _ = pipeline_run
    truth = pd.read_csv(demo_files / "truth" / "customer_types.csv", dtype=str).set_index("customer_id")["true_type"]
    segments = tables["customer_segments"].set_index("customer_id")["segment_id"]
    assert adjusted_rand_score(truth.loc[segments.index], segments) >= 0.8


@pytest.mark.slow
def test_pipeline_learned_recommender_beats_both_baselines(pipeline_run):
    """On each customer's latest purchase held out in time (same split for all three)."""
    _, tables, _ = pipeline_run
    scores = tables["recommendation_eval"].set_index("method")
    assert scores["n"].nunique() == 1 and scores.loc["learned", "n"] >= 300
    for baseline in ("popularity", "segment_popularity"):
        assert scores.loc["learned", "hit_at_3"] > scores.loc[baseline, "hit_at_3"]
        assert scores.loc["learned", "ndcg_at_5"] > scores.loc[baseline, "ndcg_at_5"]


@pytest.mark.slow
def test_a_back_dated_pipeline_run_recommends_from_the_past_only(demo_wh_path, tmp_path):
    import datetime as dt

    from carsight.config import Settings
    from carsight.customers.pipeline import run
    from carsight.registry import load_model
    from carsight.warehouse import connect

    path = tmp_path / "wh.duckdb"
    shutil.copy(demo_wh_path, path)
    settings = Settings(warehouse=str(path), model_dir=tmp_path / "models")
    as_of = dt.date(2023, 1, 1)
    with connect(str(path)) as wh:
        run(wh, settings, as_of=as_of, k_range=(6, 6))
        p = wh.table("purchases").to_pandas()
    known = p[(pd.to_datetime(p["purchase_date"]) < pd.Timestamp(as_of)) & (p["amount"] > 0)]
    recommender = load_model(settings.model_dir / "recommender", kind="recommender")[0]
    assert 0 < recommender.n_train_events_ <= len(known)
