"""The consultation text generator: topics, models, noise and personal data as documented."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from carsight.demo.text import CATEGORY_LABELS, generate_consultation_texts
from carsight.demo.vehicles import EV_MODELS, MODEL_NAMES


@pytest.fixture(scope="module")
def texts() -> pd.DataFrame:
    return generate_consultation_texts(10_000, seed=3)


def test_shape_and_labels(texts):
    assert list(texts.columns) == ["text", "category", "model"]
    assert len(texts) == 10_000
    assert set(texts["category"]) == set(CATEGORY_LABELS)
    assert set(texts["model"]) <= set(MODEL_NAMES)
    assert texts["text"].str.len().between(5, 300).all()


def test_deterministic_for_a_seed(texts):
    again = generate_consultation_texts(10_000, seed=3)
    pd.testing.assert_frame_equal(texts, again)
    assert not generate_consultation_texts(2_000, seed=4)["text"].equals(texts["text"].iloc[:2_000])


def test_charging_calls_only_for_evs(texts):
    charging = texts[texts["category"] == "충전"]
    assert len(charging) > 100
    assert charging["model"].isin(EV_MODELS).all()


def test_topic_vocabulary_is_in_the_text(texts):
    korean = texts[~texts["text"].str.contains(r"^[A-Za-z0-9 ]+:", regex=True)]
    for label, word in (
        ("경고등", "경고"),
        ("충전", "충전"),
        ("출고지연", "출고"),
        ("정비예약", "예약"),
        ("리콜", "리콜"),
    ):
        share = korean.loc[korean["category"] == label, "text"].str.replace(" ", "").str.contains(word).mean()
        assert share > 0.6, label


def test_noise_and_personal_data_are_present(texts):
    t = texts["text"]
    forms = {
        "dashed phone": r"010-\d{4}-\d{4}",
        "plain phone": r"010\d{8}",
        "international phone": r"\+82 ?10 ?\d{4} ?\d{4}",
        "e-mail": r"[a-z]+\d+@[a-z]+\.[a-z]+",
        "name": r"[가-힣]{3} ?고객님",
        "short plate": r"(?<!\d)\d{2}[가-힣]\d{4}(?!\d)",
        "long plate": r"(?<!\d)\d{3}[가-힣]\d{4}(?!\d)",
    }
    for name, pattern in forms.items():
        assert t.str.contains(pattern, regex=True).mean() > 0.005, name
    for mark in ("ㅠㅠ", "ㅋㅋ", "^^", "요요요"):
        assert t.str.contains(mark, regex=False).any(), mark
    no_spaces = ~t.str.contains(" ")
    assert 0.05 < no_spaces.mean() < 0.25
    english = t.str.match(r"^[A-Za-z0-9 ]+: [A-Za-z]")
    assert 0.02 < english.mean() < 0.09
    assert t.str.contains("|".join(map(re.escape, ("안녕하세여", "햇는데", "주세여", "함니다")))).any()


def test_restricting_models():
    frame = generate_consultation_texts(500, seed=1, models=["Tucson", "EV6"])
    assert set(frame["model"]) == {"Tucson", "EV6"}


def test_unknown_model_is_an_input_error():
    from carsight.errors import InputError

    with pytest.raises(InputError):
        generate_consultation_texts(10, seed=1, models=["Model T"])
