"""Building a monthly report.

Facts from the warehouse → sections with charts, tables and a written summary → HTML (Jinja2) →
optionally PDF (WeasyPrint, with the bundled Korean font).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from carsight.assets import korean_font_path
from carsight.config import Settings
from carsight.errors import InputError
from carsight.i18n import catalogue, t
from carsight.reports import charts, facts, narrative
from carsight.warehouse import Warehouse
from carsight.warehouse.results_delivery import REPORT_RUNS

KINDS = tuple(facts.BUILDERS)
FORMATS = ("html", "pdf")
_PERCENT_COLUMNS = {
    "share",
    "pct",
    "buyer_share_now",
    "buyer_share_before",
    "shift",
    "rate",
    "cum_gain",
    "share_of_change",
}
_MONEY_COLUMNS = {"revenue", "value", "value_total", "monetary_total", "amount", "profit"}


@dataclass
class ReportResult:
    """A built report: where it is and what it covers."""

    path: Path
    kind: str
    period: str
    lang: str
    format: str
    sections: int
    summary: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _label(key: str, name: str, lang: str) -> str:
    full = f"delivery.report.{key}.{name}"
    return t(full, lang) if full in catalogue() else str(name)


def money(value: float, lang: str) -> str:
    """An amount in KRW as a reader says it (억 원 / 만 원 in Korean)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if lang == "ko":
        if abs(value) >= 1e8:
            return f"{value / 1e8:,.1f}억 원"
        if abs(value) >= 1e4:
            return f"{value / 1e4:,.0f}만 원"
        return f"{value:,.0f}원"
    if abs(value) >= 1e9:
        return f"KRW {value / 1e9:,.2f} bn"
    if abs(value) >= 1e6:
        return f"KRW {value / 1e6:,.1f} m"
    return f"KRW {value:,.0f}"


def _cell(column: str, value, lang: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if column in _PERCENT_COLUMNS and isinstance(value, (int, float)):
        return f"{value:+.1%}" if column in {"pct", "shift"} else f"{value:.1%}"
    if column in _MONEY_COLUMNS and isinstance(value, (int, float)):
        return money(float(value), lang)
    if column == "q_value" and isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (bool, np.bool_)):
        return "●" if value else ""
    if isinstance(value, float):
        return f"{value:,.0f}" if value == int(value) or abs(value) >= 100 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(frame: pd.DataFrame, lang: str) -> dict:
    columns = list(frame.columns)
    return {
        "headers": [_label("col", c, lang) for c in columns],
        "numeric": [pd.api.types.is_numeric_dtype(frame[c]) for c in columns],
        "rows": [
            [_cell(c, v, lang) for c, v in zip(columns, row, strict=True)] for row in frame.itertuples(index=False)
        ],
    }


def _kpi_view(kpi: dict, lang: str) -> dict:
    value = kpi["value"]
    shown = money(value, lang) if kpi["unit"] == "krw" else f"{value:,.0f}"
    prev, yoy = facts.change(value, kpi["prev"]), facts.change(value, kpi["yoy"])
    return {
        "label": _label("kpi", kpi["label"], lang),
        "value": shown,
        "prev": None if prev is None else f"{prev:+.1%}",
        "yoy": None if yoy is None else f"{yoy:+.1%}",
        "prev_up": prev is not None and prev >= 0,
        "yoy_up": yoy is not None and yoy >= 0,
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("carsight.reports", "templates"),
        autoescape=jinja2.select_autoescape(("html", "j2")),
    )


def render_html(
    kind: str, period: facts.Period, lang: str, sections: list[facts.Section], *, pdf: bool, llm=None
) -> tuple[str, list[str], list[str]]:
    """The report as HTML, with its summary sentences and notes."""
    views, summary, notes = [], [], []
    for section in sections:
        title = _label("section", section.key, lang)
        if section.title_values:
            title = f"{title} · " + ", ".join(str(v) for v in section.title_values.values())
        sentences = [narrative.sentence(f, lang) for f in section.facts]
        section_notes = [narrative.sentence(f, lang) for f in section.notes]
        summary.extend(sentences)
        notes.extend(section_notes)
        chart = None
        if section.chart is not None and len(section.chart["frame"]):
            labels = {
                y: _label("kpi", y, lang) if f"delivery.report.kpi.{y}" in catalogue() else _label("col", y, lang)
                for y in section.chart["y"]
            }
            chart_title = title if section.chart["kind"] == "stacked" else " · ".join(labels.values())
            chart = charts.render(section.chart, labels, chart_title)
        views.append(
            {
                "title": title,
                "kpis": [_kpi_view(k, lang) for k in section.kpis],
                "chart": chart,
                "table": _table(section.table, lang) if section.table is not None and len(section.table) else None,
                "sentences": sentences,
                "notes": section_notes,
            }
        )
    llm_text, llm_note = llm if llm else (None, None)
    if llm_note:
        notes.append(llm_note)
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            lang=lang,
            pdf=pdf,
            font_url=korean_font_path().resolve().as_uri(),
            font_bold_url=korean_font_path(bold=True).resolve().as_uri(),
            title=t("delivery.report.title", lang, kind=t(f"delivery.report.kind.{kind}", lang), period=period.label),
            generated=t("delivery.report.generated", lang, at=dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
            summary_title=t("delivery.report.summary", lang),
            notes_title=t("delivery.report.notes", lang),
            summary=summary or [t("delivery.report.no_summary", lang)],
            llm_text=llm_text,
            llm_title=t("delivery.llm.title", lang),
            prev_label=t("delivery.report.vs_prev", lang),
            yoy_label=t("delivery.report.vs_yoy", lang),
            sections=views,
            notes=notes,
        )
    )
    return html, summary, notes


def build_report(
    wh: Warehouse,
    settings: Settings,
    kind: str,
    period: str,
    *,
    fmt: str = "html",
    lang: str | None = None,
    output: str | Path | None = None,
) -> ReportResult:
    """Build the ``kind`` report for ``period`` (YYYY-MM) and write it to ``output``."""
    if kind not in KINDS:
        raise InputError(f"unknown report '{kind}'", column="kind", expected=" | ".join(KINDS))
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'", column="format", expected=" | ".join(FORMATS))
    lang = lang or settings.lang
    if lang not in ("ko", "en"):
        raise InputError(f"unknown language '{lang}'", column="lang", expected="ko or en")
    month = facts.Period.parse(period)
    sections = facts.BUILDERS[kind](wh, month, lang)
    # A first pass gives the sentences an optional language model may rephrase.
    sentences = [narrative.sentence(f, lang) for s in sections for f in s.facts]
    llm = narrative.llm_paragraph(settings, sentences, lang) if sentences else (None, None)
    html, summary, notes = render_html(kind, month, lang, sections, pdf=fmt == "pdf", llm=llm)
    path = Path(output) if output else Path(settings.output_dir) / "reports" / f"{kind}-{month.label}-{lang}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        from weasyprint import HTML

        HTML(string=html, base_url=str(path.parent)).write_pdf(str(path))
    else:
        path.write_text(html, encoding="utf-8")
    with_data = sum(1 for s in sections if s.kpis or s.table is not None)
    result = ReportResult(path, kind, month.label, lang, fmt, with_data, summary, notes)
    if not wh.read_only:
        wh.upsert(
            REPORT_RUNS,
            pd.DataFrame(
                [
                    {
                        "run_id": uuid.uuid4().hex[:12],
                        "kind": kind,
                        "period": month.label,
                        "format": fmt,
                        "lang": lang,
                        "path": str(path),
                        "sections": with_data,
                        "notes": " | ".join(notes) or None,
                        "created_at": pd.Timestamp.now(),
                    }
                ]
            ),
        )
    return result
