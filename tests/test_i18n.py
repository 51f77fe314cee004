"""The message catalogue answers in both languages from every area's file."""

from carsight.i18n import LANGS, catalogue, t


def test_every_message_has_korean_and_english():
    missing = [key for key, entry in catalogue().items() if any(not entry.get(lang) for lang in LANGS)]
    assert missing == []


def test_lookup_formats_and_falls_back_to_key():
    assert "12" in t("pipeline.done", "en", step="x", seconds=12.0)
    assert t("pipeline.done", "ko", step="voc", seconds=1.0).startswith("voc")
    assert t("no.such.key", "ko") == "no.such.key"
