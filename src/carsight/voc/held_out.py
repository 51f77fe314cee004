"""The topic classifier's held-out evaluation, as the VoC step runs it in a process of its own.

:class:`carsight.apart.Apart` runs it beside the final classifier's fit: liblinear draws its coordinate
order from one process-wide generator, so two SVMs fitting in threads of one process give results
that change from run to run, while in two processes each fit is what it would be alone.
"""

from __future__ import annotations

from carsight.voc.classify import TopicClassifier, evaluate
from carsight.voc.tokenise import Tokenizer


def held_out_report(texts: list[str], labels: list[str], params: dict, words: dict) -> dict:
    """:func:`carsight.voc.classify.evaluate` of a :class:`~carsight.voc.classify.TopicClassifier`.

    Parameters
    ----------
    texts, labels : list of str
        The labelled texts and their topics.
    params : dict
        The classifier's parameters (``terms`` included).
    words : dict
        The tokenizer's word cache ({word: tokens}) of the process that asks: with it, Kiwi is built
        only for words that process never analysed.

    Raises
    ------
    DataTooThinError
        When the labels cannot be evaluated.
    """
    Tokenizer(params["terms"])._cache.update(words)
    return evaluate(list(texts), list(labels), classifier=TopicClassifier(**params))
