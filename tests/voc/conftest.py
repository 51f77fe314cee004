"""VoC test fixtures: one Kiwi-backed tokenizer per session and a small labelled corpus."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    from carsight.voc.tokenise import Tokenizer

    return Tokenizer()


@pytest.fixture(scope="session")
def labelled():
    """1,200 synthetic consultations with their true topic, plus 8% wrong labels (agents err)."""
    import numpy as np

    from carsight.demo.text import CATEGORY_LABELS, generate_consultation_texts

    frame = generate_consultation_texts(1200, seed=11)
    rng = np.random.default_rng(3)
    noisy = rng.random(len(frame)) < 0.08
    frame.loc[noisy, "category"] = rng.choice(CATEGORY_LABELS, noisy.sum())
    return frame
