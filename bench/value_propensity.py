"""Repurchase and response propensity on the 50k demo: carsight (the champion, or the drift model when
the drift check says so) and its LightGBM candidate against the logistic baseline and the oracle (the
generator's true probabilities) on the same time-ordered holdout; top-decile lift and ECE; then speed
at 1M customers (features + training, and scoring).

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/value_propensity.py [--customers 50000] [--scale 20]
The 1M speed part copies the 50k warehouse ``--scale`` times under new customer ids (same event
distributions) instead of generating 1M customers (about 10 minutes here). Writes
bench/results/value_propensity.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _common import goal, write_result  # noqa: E402
from carsight.customers import deciles as D  # noqa: E402
from carsight.customers import features as F  # noqa: E402
from carsight.customers.propensity import PropensityModel  # noqa: E402
from carsight.customers.targets import build_labels, last_event_date  # noqa: E402
from carsight.customers.value_pipeline import TARGETS, FeatureCache, first_event_date, train_target  # noqa: E402
from carsight.demo import (  # noqa: E402
    generate,
    load_demo,
    truth,  # noqa: E402
)
from carsight.warehouse import connect  # noqa: E402
from carsight.warehouse import schema as S  # noqa: E402


def _metrics(frame: pd.DataFrame, score_col: str) -> dict:
    y = frame.label.to_numpy()
    auc, lo, hi = D.auroc_with_ci(y, frame[score_col])
    return {
        "auroc": round(auc, 4),
        "auroc_ci": [round(lo, 4), round(hi, 4)],
        "top_decile_lift": round(float(D.decile_table(y, frame[score_col]).lift.iloc[0]), 3),
    }


def quality(wh, out_dir: Path) -> dict:
    as_of = last_event_date(wh) + dt.timedelta(days=1)
    first = first_event_date(wh)
    cache = FeatureCache(wh)
    results = {}
    for spec in TARGETS:
        if spec.name == "churn":
            continue
        start = time.perf_counter()
        res = train_target(wh, spec, as_of, first, cache)
        seconds = time.perf_counter() - start
        plan, model, cols = res["plan"], res["model"], res["features"]
        test = cache.get([plan["test"]]).merge(
            build_labels(wh, spec.name, plan["test"], spec.horizon_days), on=[F.ID, F.CUTOFF]
        )
        # What a user gets: the drift check picks the champion or the drift model for these rows.
        choice = model.choose_model(test[cols])
        test["carsight"] = model.ranking_score(test[cols], model=choice.model)
        test["lightgbm"] = model.ranking_score(test[cols], model="lightgbm")
        test["logistic"] = model.ranking_score(test[cols], model="logistic_baseline")
        if spec.name == "repurchase":
            oracle = truth.repurchase_probability(out_dir, plan["test"], spec.horizon_days)
        else:
            contacts = truth.campaign_response(out_dir)
            camp = wh.table(S.CAMPAIGN_CONTACTS.name).select("campaign_id", "customer_id", "sent_at").to_pandas()
            sent = pd.to_datetime(camp.sent_at)
            window = camp[
                (sent >= pd.Timestamp(plan["test"]))
                & (sent < pd.Timestamp(plan["test"]) + pd.Timedelta(days=spec.horizon_days))
            ]
            joined = window.merge(contacts, on=["campaign_id", "customer_id"])
            # P(responds to at least one of the contacts in the window).
            oracle = (
                joined.groupby("customer_id").p_true.apply(lambda p: 1 - np.prod(1 - p)).rename("p_true").reset_index()
            )
        test = test.merge(oracle, on=F.ID, how="left")
        covered = test.p_true.notna()
        ev = res["evaluation"].metrics.set_index("model")
        results[spec.name] = {
            "horizon_days": spec.horizon_days,
            "split": res["split"],
            "n_train": int(model.n_train_),
            "n_test": int(len(test)),
            "test_positives": int(test.label.sum()),
            "carsight": {
                **_metrics(test, "carsight"),
                "model_used": choice.model,
                "drift": choice.status,
                "adversarial_auroc": round(choice.drift.adversarial_auroc, 4) if choice.drift else None,
                "ece": round(float(ev.loc[choice.model, "ece"]), 4),
                "brier": round(float(ev.loc[choice.model, "brier"]), 4),
            },
            "champion": model.champion_,
            "drift_model": model.drift_model_,
            "late_slice": model.validation_.round(4).to_dict(orient="records"),
            "lightgbm": {**_metrics(test, "lightgbm"), "ece": round(float(ev.loc["lightgbm", "ece"]), 4)},
            "logistic_baseline": {
                **_metrics(test, "logistic"),
                "ece": round(float(ev.loc["logistic_baseline", "ece"]), 4),
            },
            "oracle": {**_metrics(test[covered], "p_true"), "rows_with_truth": int(covered.sum())},
            "carsight_on_oracle_rows": _metrics(test[covered], "carsight"),
            "calibration": model.calibration_methods_,
            "best_iteration": int(model.best_iterations_.get("lightgbm", 0)),
            "train_seconds": round(seconds, 1),
            "top_features": res["importance"].feature.head(8).tolist(),
        }
    return results


def _scaled_copy(src: Path, dst: Path, scale: int) -> None:
    """A warehouse with ``scale`` copies of every customer and event under new ids."""
    shutil.copy(src, dst)
    import duckdb

    con = duckdb.connect(str(dst))
    keyed = {
        S.CUSTOMERS.name: ["customer_id"],
        S.PURCHASES.name: ["purchase_id", "customer_id"],
        S.LEADS.name: ["lead_id", "customer_id"],
        S.SERVICE_VISITS.name: ["visit_id", "customer_id"],
        S.CONSULTATIONS.name: ["consultation_id", "customer_id"],
        S.CAMPAIGN_CONTACTS.name: ["customer_id"],
    }
    for table, ids in keyed.items():
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        con.execute(f"CREATE TEMP TABLE base_{table} AS SELECT * FROM {table}")
        for k in range(1, scale):
            select = ", ".join(f"{c} || '_{k}' AS {c}" if c in ids else c for c in cols)
            con.execute(f"INSERT INTO {table} SELECT {select} FROM base_{table}")
    con.close()


def speed(wh_path: Path, root: Path, scale: int) -> dict:
    big = root / "scaled.duckdb"
    start = time.perf_counter()
    _scaled_copy(wh_path, big, scale)
    copy_s = time.perf_counter() - start
    with connect(str(big), read_only=True) as wh:
        customers = wh.count(S.CUSTOMERS.name)
        as_of = last_event_date(wh) + dt.timedelta(days=1)
        spec = next(s for s in TARGETS if s.name == "repurchase")
        test_cut = (as_of - dt.timedelta(days=spec.horizon_days)).replace(day=1)
        valid_cut = (test_cut - dt.timedelta(days=spec.horizon_days)).replace(day=1)
        train_cut = (valid_cut - dt.timedelta(days=spec.horizon_days)).replace(day=1)
        t0 = time.perf_counter()
        feats = F.build_features(wh, [train_cut, valid_cut])
        labels = build_labels(wh, "repurchase", [train_cut, valid_cut], spec.horizon_days)
        t1 = time.perf_counter()
        data = feats.merge(labels, on=[F.ID, F.CUTOFF])
        cols = F.feature_columns(feats)
        train, valid = data[data.cutoff == pd.Timestamp(train_cut)], data[data.cutoff == pd.Timestamp(valid_cut)]
        model = PropensityModel(descriptions=F.descriptions(cols), n_jobs=2).fit(
            train[cols], train.label, eval_set=(valid[cols], valid.label)
        )
        t2 = time.perf_counter()
        now = F.build_features(wh, [as_of])
        t3 = time.perf_counter()
        scored = model.score_rows(now[cols])
        prob, grades, deciles = scored.score, scored.grade, scored.decile
        t4 = time.perf_counter()
        sample = now.sample(10_000, random_state=0)
        model.reasons(sample[cols], langs=("ko", "en"))
        t5 = time.perf_counter()
    assert len(prob) == len(grades) == len(deciles)
    return {
        "customers": customers,
        "scaled_from": f"the 50k demo copied {scale}× under new ids (copy took {copy_s:.0f} s)",
        "feature_rows_train_valid": int(len(feats)),
        "labelled_rows": int(len(data)),
        "features_s": round(t1 - t0, 1),
        "training_s": round(t2 - t1, 1),
        "features_plus_training_s": round(t2 - t0, 1),
        "scoring_rows": int(len(now)),
        "features_at_as_of_s": round(t3 - t2, 1),
        "scoring_s": round(t4 - t3, 1),
        "reasons_per_10k_rows_s": round(t5 - t4, 1),
        "best_iteration": int(model.best_iterations_["lightgbm"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="carsight-bench-value-"))
    try:
        out_dir, wh_path = root / "demo", root / "demo.duckdb"
        generate(out_dir, customers=args.customers, seed=args.seed)
        with connect(str(wh_path), init=True) as wh:
            load_demo(wh, out_dir)
        with connect(str(wh_path), read_only=True) as wh:
            q = quality(wh, out_dir)
        s = None if args.skip_speed else speed(wh_path, root, args.scale)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rep = q["repurchase"]
    goals = {
        "repurchase_auroc_above_logistic": goal(
            rep["carsight"]["auroc"] - rep["logistic_baseline"]["auroc"], 0.0, ">="
        ),
        "repurchase_top_decile_lift": goal(rep["carsight"]["top_decile_lift"], 3.0, ">="),
        "repurchase_ece": goal(rep["carsight"]["ece"], 0.03, "<="),
        "response_ece": goal(q["response"]["carsight"]["ece"], 0.03, "<="),
    }
    if s:
        goals["features_plus_training_1m_s"] = goal(s["features_plus_training_s"], 300.0, "<=")
        goals["scoring_1m_s"] = goal(s["scoring_s"], 30.0, "<=")
    write_result(
        "value_propensity",
        description="Repurchase/response propensity on the demo: LightGBM vs logistic vs the oracle on one time-ordered holdout; speed at 1M customers.",
        data={"customers": args.customers, "seed": args.seed, "scale": args.scale},
        metrics={"quality": q, "speed": s},
        goals=goals,
        baselines={
            t: {"logistic_baseline": q[t]["logistic_baseline"], "oracle (true probabilities)": q[t]["oracle"]}
            for t in q
        },
        notes=(
            "Oracle = the generator's true probabilities (carsight.demo.truth) on the same holdout rows: the best AUROC "
            "the planted effects allow. Scoring time covers probabilities, deciles and grades for every customer; reasons "
            "(SHAP + text in two languages) are timed per 10k rows. 1M = the 50k demo copied under new ids."
        ),
    )


if __name__ == "__main__":
    main()
