import pytest
from sklearn.metrics import adjusted_rand_score

from carsight.errors import DataTooThinError
from carsight.voc.topics import TopicDiscovery, discover_topics


def test_discovered_topics_follow_the_true_ones(labelled):
    texts = labelled["text"].tolist()[:800]
    truth = labelled["category"].tolist()[:800]
    assigned, topics, warning = discover_topics(texts, k=10, random_state=0)
    assert len(topics) == 10 and topics["size"].sum() == (assigned["topic"] >= 0).sum()
    assert adjusted_rand_score(truth, assigned["topic"]) > 0.3
    # every label is built from its own top words
    assert all(row.label.split(" · ")[0] in row.top_words for row in topics.itertuples() if row.size)
    assert warning is None


def test_too_few_texts_for_k():
    with pytest.raises(DataTooThinError):
        TopicDiscovery(k=10).fit(["엔진 소음"] * 5)
