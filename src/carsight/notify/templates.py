"""Campaign e-mail templates.

Jinja2 files per template name, segment and language, with shipped defaults under
``notify/templates/<name>/`` and user templates in any directory of the same shape.

A template directory holds ``<segment>.<lang>.txt.j2`` (first line ``Subject: …``, then the plain
text body) and optionally ``<segment>.<lang>.html.j2``; ``default.<lang>.*`` is used for segments
without their own file. Unknown fields are an error, so a typo never sends "Dear {{ nmae }}".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jinja2

from carsight.errors import InputError

SHIPPED = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    """A rendered message: subject, text and HTML body."""

    subject: str
    text: str
    html: str | None


def segment_slug(segment: str | None) -> str:
    """'Churn risk' → 'churn_risk', so segment labels map onto file names."""
    if not segment:
        return "default"
    text = unicodedata.normalize("NFKC", str(segment)).strip().lower()
    return re.sub(r"[^0-9a-z가-힣]+", "_", text).strip("_") or "default"


def shipped_templates() -> list[str]:
    """The names of the templates shipped with carsight."""
    return sorted(p.name for p in SHIPPED.iterdir() if p.is_dir() and not p.name.startswith("_"))


def resolve(name: str) -> Path:
    """A shipped template name, or a directory holding template files."""
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return candidate
    if re.fullmatch(r"[A-Za-z0-9_-]+", name) and (SHIPPED / name).is_dir():
        return SHIPPED / name
    raise InputError(
        f"unknown e-mail template '{name}'",
        column="template",
        expected="one of " + ", ".join(shipped_templates()) + " or a directory with default.<lang>.txt.j2",
    )


class TemplateSet:
    """The files of one template, rendered per recipient."""

    def __init__(self, name: str, lang: str):
        self.name = name
        self.lang = lang
        self.directory = resolve(name)
        loader = jinja2.FileSystemLoader(str(self.directory))
        self._text_env = jinja2.Environment(
            loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
        )
        self._html_env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=True)
        if not (self.directory / f"default.{lang}.txt.j2").is_file():
            raise InputError(
                f"template '{name}' has no {lang} version",
                file=str(self.directory),
                expected=f"default.{lang}.txt.j2",
            )
        self._cache: dict[str, tuple[jinja2.Template, jinja2.Template | None]] = {}

    def _pair(self, segment: str | None) -> tuple[jinja2.Template, jinja2.Template | None]:
        slug = segment_slug(segment)
        if slug not in self._cache:
            stem = slug if (self.directory / f"{slug}.{self.lang}.txt.j2").is_file() else "default"
            try:
                text = self._text_env.get_template(f"{stem}.{self.lang}.txt.j2")
                html_name = f"{stem}.{self.lang}.html.j2"
                html = self._html_env.get_template(html_name) if (self.directory / html_name).is_file() else None
            except jinja2.TemplateSyntaxError as exc:
                raise InputError(f"template syntax error: {exc.message}", file=exc.filename, row=exc.lineno) from None
            self._cache[slug] = (text, html)
        return self._cache[slug]

    def render(self, fields: dict) -> Rendered:
        """Render the message for one recipient's fields (the segment picks the variant)."""
        text_tmpl, html_tmpl = self._pair(fields.get("segment"))
        try:
            text = text_tmpl.render(**fields)
            html = html_tmpl.render(**fields) if html_tmpl is not None else None
        except jinja2.UndefinedError as exc:
            raise InputError(
                f"template uses an unknown field: {exc.message}",
                file=text_tmpl.filename,
                expected="one of " + ", ".join(sorted(fields)),
            ) from None
        first, _, body = text.partition("\n")
        if not first.lower().startswith("subject:"):
            raise InputError("the text template must start with a 'Subject: …' line", file=text_tmpl.filename, row=1)
        subject = first.split(":", 1)[1].strip()
        return Rendered(subject=subject, text=body.lstrip("\n"), html=html)
