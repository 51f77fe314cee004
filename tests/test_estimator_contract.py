"""Every estimator in carsight keeps scikit-learn's contract: ``__init__`` stores its parameters
unchanged (so ``get_params`` and ``clone`` work), ``fit`` learns only state whose name ends in ``_``
and leaves the parameters alone, and predicting (or evaluating) does not change the fitted model.

The list of estimators is checked against the package itself: a new class with a ``fit`` method that
is not covered here fails ``test_every_estimator_is_covered``."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone

import carsight

# Classes with a fit method that are not scikit-learn estimators, and why.
NOT_ESTIMATORS = {
    # statsforecast-style orchestrator of a long table of series (unique_id, ds, y), not an X → y model;
    # reworked under the forecasting issue.
    "carsight.market.forecast.Forecaster",
    # The Forecaster's per-series regression of declared events on log values (months in, effects
    # out), fitted inside Forecaster.fit; it has no X → y interface of its own.
    "carsight.market.event_effects.EventEffects",
}
# Added while this test was written, by work under other issues (forecast intervals, trigger rules);
# not checked here yet: each needs a case below (and may need to subclass BaseEstimator).
PENDING = {
    "carsight.market.intervals.HorizonQuantiles",
    "carsight.market.intervals.ConformalIntervals",
    "carsight.customers.conditions.Discretiser",
    "carsight.customers.triggers.TriggerMiner",
}


def _transactions(n_customers: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_customers):
        day, rate = float(rng.integers(0, 200)), rng.gamma(1.0, 1 / 25)
        end = min(day + rng.exponential(600), 900)
        while day < end:
            rows.append((f"C{i:04d}", pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(day)), rng.gamma(4, 25)))
            day += rng.exponential(1 / rate)
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def _propensity_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    visits, age = rng.poisson(1.5, n).astype(float), rng.uniform(0, 10, n)
    region = rng.choice(["Seoul", "Busan", "Daegu"], n)
    logit = -2 + 1.1 * (visits >= 2) * (age > 4) + 0.7 * (region == "Seoul")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame({"visits": visits, "age_of_car": age, "region": region}), y


def _case_propensity():
    from carsight.customers.propensity import PropensityModel

    X, y = _propensity_data(2500, 1)
    Xv, yv = _propensity_data(1200, 2)
    return (
        PropensityModel(n_estimators=200),
        lambda m: m.fit(X, y, eval_set=(Xv, yv)),
        [
            lambda m: m.predict_proba(Xv),
            lambda m: m.predict(Xv),
            lambda m: m.ranking_score(Xv, model="logistic_baseline"),
            lambda m: m.grades(Xv),
            lambda m: m.reasons(Xv.head(20), lang="en"),
            lambda m: m.choose_model(Xv),
            lambda m: m.evaluate(Xv, yv),
            lambda m: m.partial_dependence(Xv, ["visits"]),
        ],
    )


def _case_encoder():
    from carsight.customers.encoding import TableEncoder

    X, _ = _propensity_data(300, 3)
    X = X.assign(signed=pd.date_range("2024-01-01", periods=300, freq="D").strftime("%Y.%m.%d"))
    return TableEncoder(), lambda m: m.fit(X), [lambda m: m.transform(X), lambda m: m.check(X)]


def _case_baseline():
    from carsight.customers.baseline import LogisticBaseline
    from carsight.customers.encoding import TableEncoder

    X, y = _propensity_data(500, 4)
    Xt = TableEncoder().fit(X).transform(X)
    return (
        LogisticBaseline(),
        lambda m: m.fit(Xt, y),
        [lambda m: m.predict_proba(Xt), lambda m: m.contributions(Xt, list(Xt.columns))],
    )


def _case_bgnbd():
    from carsight.customers.clv import BetaGeoModel, summarise_transactions

    summary = summarise_transactions(_transactions(), "2024-06-30")
    return (
        BetaGeoModel(penalizer=0.001),
        lambda m: m.fit(summary),
        [
            lambda m: m.p_alive(summary),
            lambda m: m.expected_purchases(summary, 10),
            lambda m: m.p_any_purchase(summary, 10),
        ],
    )


def _case_gamma_gamma():
    from carsight.customers.clv import GammaGammaModel, summarise_transactions

    summary = summarise_transactions(_transactions(), "2024-06-30")
    return GammaGammaModel(), lambda m: m.fit(summary), [lambda m: m.expected_spend(summary)]


def _clv_case(cls):
    tx = _transactions()
    return cls(horizon_days=120), lambda m: m.fit(tx, calibration_end="2024-03-31"), [lambda m: m.predict(tx)]


def _case_bgnbd_clv():
    from carsight.customers.clv import BGNBDCLV

    return _clv_case(BGNBDCLV)


def _case_hurdle_clv():
    from carsight.customers.clv_hurdle import HurdleCLV

    return _clv_case(HurdleCLV)


def _case_past_rate_clv():
    from carsight.customers.clv_hurdle import PastRateCLV

    return _clv_case(PastRateCLV)


def _case_block_scaler():
    from carsight.customers.segments_features import BlockScaler

    X = np.random.default_rng(0).normal(size=(50, 4))
    return BlockScaler(feature_names=["a", "b", "c", "d"]), lambda m: m.fit(X), [lambda m: m.transform(X)]


def _case_segmenter():
    import ibis

    from carsight.customers.segments import CustomerSegmenter
    from carsight.customers.segments_features import segment_frame

    rng = np.random.default_rng(0)
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(120)],
            "gender": rng.choice(["M", "F"], 120),
            "birth_year": rng.integers(1960, 2000, 120),
            "region": rng.choice(["서울", "부산"], 120),
            "channel": rng.choice(["web", "showroom"], 120),
        }
    )
    vehicles = pd.DataFrame(
        {
            "model": ["Volt", "Lux"],
            "brand": ["A", "P"],
            "body_type": ["suv", "sedan"],
            "powertrain": ["EV", "ICE"],
            "base_price": [5.5e7, 8.0e7],
        }
    )
    purchases = pd.DataFrame(
        {
            "customer_id": customers.customer_id,
            "purchase_date": [dt.date(2023, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 600, 120)],
            "model": rng.choice(["Volt", "Lux"], 120),
            "amount": rng.uniform(4e7, 9e7, 120),
            "payment_type": rng.choice(["cash", "lease"], 120),
        }
    )
    frame = segment_frame(ibis.memtable(customers), ibis.memtable(purchases), ibis.memtable(vehicles))
    return (
        CustomerSegmenter(k_range=(2, 3)),
        lambda m: m.fit(frame, vehicles=vehicles),
        [lambda m: m.predict(frame), lambda m: m.transform(frame)],
    )


def _case_recommender():
    from carsight.customers.recommend import VehicleRecommender
    from carsight.customers.recommend_data import RecData

    rng = np.random.default_rng(0)
    models = ["Compact", "Volt", "Family", "Lux"]
    purchases = []
    for i in range(200):
        day = dt.date(2019, 1, 1) + dt.timedelta(days=int(rng.integers(0, 900)))
        for step in range(int(rng.integers(1, 3))):
            purchases.append(
                {"customer_id": f"C{i:03d}", "purchase_date": day, "model": models[(i + step) % 4], "amount": 3e7}
            )
            day += dt.timedelta(days=int(rng.integers(300, 900)))
    data = RecData(
        purchases=pd.DataFrame(purchases),
        vehicles=pd.DataFrame(
            {"model": models, "brand": "A", "body_type": "suv", "powertrain": "ICE", "base_price": 3e7}
        ),
    )
    return VehicleRecommender(n_estimators=30), lambda m: m.fit(data), [lambda m: m.recommend(data, k=2)]


def _case_topic_classifier():
    from carsight.demo.text import generate_consultation_texts
    from carsight.voc.classify import TopicClassifier

    frame = generate_consultation_texts(300, seed=2)
    texts, labels = frame["text"].tolist(), frame["category"].tolist()
    return (
        TopicClassifier(),
        lambda m: m.fit(texts, labels),
        [lambda m: m.predict(texts[:20]), lambda m: m.review(texts[:5])],
    )


def _case_topic_discovery():
    from carsight.demo.text import generate_consultation_texts
    from carsight.voc.topics import TopicDiscovery

    texts = generate_consultation_texts(300, seed=3)["text"].tolist()
    return (
        TopicDiscovery(k=4),
        lambda m: m.fit(texts),
        [lambda m: m.transform(texts[:20]), lambda m: m.predict(texts[:20])],
    )


CASES = {
    "carsight.customers.propensity.PropensityModel": _case_propensity,
    "carsight.customers.encoding.TableEncoder": _case_encoder,
    "carsight.customers.baseline.LogisticBaseline": _case_baseline,
    "carsight.customers.clv.BetaGeoModel": _case_bgnbd,
    "carsight.customers.clv.GammaGammaModel": _case_gamma_gamma,
    "carsight.customers.clv.BGNBDCLV": _case_bgnbd_clv,
    "carsight.customers.clv_hurdle.HurdleCLV": _case_hurdle_clv,
    "carsight.customers.clv_hurdle.PastRateCLV": _case_past_rate_clv,
    "carsight.customers.segments_features.BlockScaler": _case_block_scaler,
    "carsight.customers.segments.CustomerSegmenter": _case_segmenter,
    "carsight.customers.recommend.VehicleRecommender": _case_recommender,
    "carsight.voc.classify.TopicClassifier": _case_topic_classifier,
    "carsight.voc.topics.TopicDiscovery": _case_topic_discovery,
}


def _classes_with_fit() -> set[type]:
    found = set()
    for info in pkgutil.walk_packages(carsight.__path__, "carsight."):
        if ".dashboard" in info.name or info.name.endswith("__main__"):
            continue  # Streamlit pages run on import
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and callable(getattr(cls, "fit", None)):
                found.add(cls)
    return found


def _covered_classes() -> set[type]:
    """The classes the cases above build, imported the way the cases import them (a class that moves
    to another module but stays importable from the same place is still covered)."""
    from carsight.customers.baseline import LogisticBaseline
    from carsight.customers.clv import BGNBDCLV, BetaGeoModel, GammaGammaModel
    from carsight.customers.clv_hurdle import HurdleCLV, PastRateCLV
    from carsight.customers.encoding import TableEncoder
    from carsight.customers.propensity import PropensityModel
    from carsight.customers.recommend import VehicleRecommender
    from carsight.customers.segments import BlockScaler, CustomerSegmenter
    from carsight.voc.classify import TopicClassifier
    from carsight.voc.topics import TopicDiscovery

    return {
        LogisticBaseline,
        BGNBDCLV,
        BetaGeoModel,
        GammaGammaModel,
        HurdleCLV,
        PastRateCLV,
        TableEncoder,
        PropensityModel,
        VehicleRecommender,
        BlockScaler,
        CustomerSegmenter,
        TopicClassifier,
        TopicDiscovery,
    }


def test_every_estimator_is_covered():
    found = _classes_with_fit()
    covered = _covered_classes()
    assert len(covered) == len(CASES)
    missing = {f"{c.__module__}.{c.__qualname__}" for c in found - covered} - NOT_ESTIMATORS - PENDING
    assert missing == set(), "add a contract case for these estimators"
    assert covered <= found  # no stale entries


def _public_state(model) -> set[str]:
    return {k for k in vars(model) if not k.startswith("_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_estimator_contract(name):
    estimator, fit, predictions = CASES[name]()
    assert isinstance(estimator, BaseEstimator), f"{name} does not subclass BaseEstimator"
    params = estimator.get_params()
    # __init__ stores each parameter unchanged, under its own name; nothing else.
    assert set(params) == set(inspect.signature(type(estimator).__init__).parameters) - {"self"}
    assert _public_state(estimator) == set(params)
    twin = clone(estimator)
    assert joblib.hash(twin.get_params()) == joblib.hash(params)
    fitted = fit(estimator)
    assert fitted is estimator
    learned = _public_state(estimator) - set(params)
    assert learned and all(k.endswith("_") for k in learned), f"learned state without a trailing _: {learned}"
    assert joblib.hash(estimator.get_params()) == joblib.hash(params), "fit changed a parameter"
    # A clone of a fitted estimator is unfitted and has the same parameters.
    assert _public_state(clone(estimator)) == set(params)
    before = joblib.hash(estimator)
    for predict in predictions:
        predict(estimator)
        assert joblib.hash(estimator) == before, f"{name}: predicting changed the model"
