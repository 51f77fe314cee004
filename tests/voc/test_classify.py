import numpy as np
import pytest
from sklearn.base import clone

from carsight.errors import DataTooThinError
from carsight.registry import load_model, save_model
from carsight.voc.classify import MODEL_KIND, TopicClassifier, evaluate


@pytest.mark.slow
def test_classifier_beats_the_baseline_on_the_same_split(labelled):
    report = evaluate(labelled["text"], labelled["category"], random_state=0)
    assert report["n_test"] == pytest.approx(0.25 * len(labelled), abs=15)
    ours, base = report["model"], report["baseline"]
    assert ours["macro_f1"] > base["macro_f1"]
    assert ours["macro_f1"] > 0.8
    size = len(report["labels"])
    assert np.asarray(ours["confusion"]).shape == (size, size)
    assert np.asarray(ours["confusion"]).sum() == report["n_test"]


@pytest.fixture(scope="module")
def fitted(labelled):
    return TopicClassifier().fit(labelled["text"].tolist(), labelled["category"].tolist())


def test_review_marks_low_confidence(fitted):
    texts = ["블루투스 연결이 자꾸 끊겨요", "음 그냥 전화했어요", "ㅎㅎ"]
    out = fitted.review(texts)
    assert out.loc[0, "label"] == "인포테인먼트/내비"
    assert out.loc[0, "confidence"] > out.loc[1, "confidence"]
    assert not out.loc[0, "needs_review"]
    assert out.loc[1:, "needs_review"].all()
    strict = clone(fitted).set_params(review_threshold=1.01)
    assert strict.review_threshold == 1.01
    assert np.allclose(fitted.predict_proba(texts).sum(axis=1), 1.0)


def test_saved_model_round_trip(fitted, tmp_path):
    save_model(tmp_path / "m", fitted, kind=MODEL_KIND, params=fitted.get_params())
    loaded, meta = load_model(tmp_path / "m", kind=MODEL_KIND)
    texts = ["충전이 80%에서 멈춰요", "출고가 계속 지연되고 있어요"]
    assert list(loaded.predict(texts)) == list(fitted.predict(texts)) == ["충전", "출고지연"]
    assert meta.params["review_threshold"] == 0.5


def test_too_few_labels_is_a_clear_error():
    with pytest.raises(DataTooThinError):
        TopicClassifier().fit(["엔진 소음", "충전 오류"], ["a", "b"])
    with pytest.raises(DataTooThinError):
        evaluate(["엔진 소음"] * 10 + ["충전 오류"] * 3, ["a"] * 10 + ["b"] * 3)
