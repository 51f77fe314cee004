"""The written summary.

Sentences built from computed facts through the message catalogue, and an optional extra paragraph
from a language model (OpenAI-compatible endpoint, off by default). The report is complete without
it; any failure becomes a note, never an error.
"""

from __future__ import annotations

import json

from carsight.config import Settings
from carsight.i18n import catalogue, t
from carsight.reports.facts import Fact


def sentence(fact: Fact, lang: str) -> str:
    """One fact as a sentence in ``lang``."""
    values = dict(fact.values)
    what = values.get("what")
    if isinstance(what, str) and f"delivery.report.what.{what}" in catalogue():
        values["what"] = t(f"delivery.report.what.{what}", lang)
    return t(fact.key, lang, **values)


def llm_paragraph(settings: Settings, sentences: list[str], lang: str) -> tuple[str | None, str | None]:
    """(paragraph, note). Only the computed sentences are sent: no customer data leaves the host."""
    cfg = settings.llm
    if not cfg.base_url:
        return None, None
    import httpx

    instruction = t("delivery.llm.instruction", lang)
    headers = {"Authorization": f"Bearer {cfg.api_key.get_secret_value()}"} if cfg.api_key else {}
    body = {
        "model": cfg.model,
        "messages": [
            {"role": "system", "content": instruction},
            {"role": "user", "content": json.dumps(sentences, ensure_ascii=False)},
        ],
        "temperature": 0.2,
    }
    try:
        response = httpx.post(
            cfg.base_url.rstrip("/") + "/chat/completions", json=body, headers=headers, timeout=cfg.timeout_s
        )
        response.raise_for_status()
        text = response.json()["choices"][0]["message"]["content"].strip()
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        return None, t("delivery.llm.failed", lang, reason=type(exc).__name__)
    return (text or None), t("delivery.llm.generated", lang, model=cfg.model)
