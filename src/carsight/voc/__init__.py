"""Voice of the customer: Korean-first call-centre and complaint text analytics.

Masks personal data, tokenises with Kiwi and a domain dictionary, ranks keywords, classifies and
discovers topics, draws word clouds, and keeps daily pre-aggregates for fast filtering.
"""

from carsight.voc.aggregate import build_daily, top_keywords, top_keywords_scan, topic_counts
from carsight.voc.classify import TopicClassifier, baseline_classifier, evaluate
from carsight.voc.keywords import keyword_frequencies, rank_keywords, rising_keywords
from carsight.voc.normalise import clean_and_mask, mask_pii, normalise_text
from carsight.voc.tokenise import Tokenizer, detect_language, load_terms
from carsight.voc.topics import TopicDiscovery, discover_topics
from carsight.voc.wordcloud import render_wordcloud

__all__ = [
    "TopicClassifier",
    "TopicDiscovery",
    "Tokenizer",
    "baseline_classifier",
    "build_daily",
    "clean_and_mask",
    "detect_language",
    "discover_topics",
    "evaluate",
    "keyword_frequencies",
    "load_terms",
    "mask_pii",
    "normalise_text",
    "rank_keywords",
    "render_wordcloud",
    "rising_keywords",
    "top_keywords",
    "top_keywords_scan",
    "topic_counts",
]
