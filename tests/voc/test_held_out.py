"""The held-out evaluation run in another process gives exactly the report it gives in this one,
passes a too-thin verdict on as DataTooThinError, and leaves nothing behind when stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from carsight.apart import Apart
from carsight.errors import DataTooThinError
from carsight.voc.classify import TopicClassifier, evaluate
from carsight.voc.held_out import held_out_report


def test_the_report_from_another_process_is_the_one_this_process_gives(labelled, tokenizer):
    texts = labelled["text"].head(200).tolist()
    labels = labelled["category"].head(200).tolist()
    params = {"review_threshold": 0.5, "terms": ()}
    tokenizer.tokenize_many(texts)  # the word cache handed over, as the pipeline does
    apart = Apart(held_out_report, texts, labels, params, dict(tokenizer._cache)).result()
    here = evaluate(texts, labels, classifier=TopicClassifier(**params))
    assert apart == here
    assert apart["n_test"] == 50 and apart["model"]["macro_f1"] > apart["baseline"]["macro_f1"] - 0.2


def test_too_few_labels_is_data_too_thin_and_a_stopped_run_leaves_no_folder():
    texts = ["엔진 경고등 점검 요청"] * 8 + ["시승 예약 문의 드립니다"] * 7
    labels = ["정비"] * 8 + ["시승"] * 7
    with pytest.raises(DataTooThinError, match="too few labelled texts"):
        Apart(held_out_report, texts, labels, {"terms": ()}, {}).result()
    stopped = Apart(held_out_report, texts * 10, labels * 10, {"terms": ()}, {})
    folder = Path(stopped._folder.name)
    stopped.stop()
    assert not folder.exists() and stopped._process.returncode is not None
