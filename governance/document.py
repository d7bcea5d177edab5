"""A small document model rendered to both HTML and Markdown from one structure.

Each artefact is built once as a :class:`Document` (sections of paragraphs, field lists,
tables, bullet lists, links and inline SVG) and rendered by two Jinja templates under
``governance/templates/``, so the HTML a reviewer opens and the Markdown kept under version
control can never say different things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

__all__ = [
    "Block",
    "Bullets",
    "Document",
    "Fields",
    "Image",
    "Links",
    "Paragraph",
    "ReportFiles",
    "Section",
    "Svg",
    "Table",
    "UntrustedText",
    "render_html",
    "render_markdown",
]


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Fields:
    """Label/value pairs (a definition table); every required field has a label here."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    empty: str = "None recorded for this run."


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Links:
    """(label, relative href, note) triples."""

    items: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Svg:
    """Inline SVG built by us (labels escaped); Markdown shows ``alt`` instead."""

    markup: str
    alt: str


@dataclass(frozen=True)
class Image:
    """A static chart file, linked by a path relative to the document (never inlined).

    ``alt`` says what the chart shows; the document should print its numbers in a table
    beside it, so the figure is never the only place a number appears.
    """

    src: str
    alt: str
    caption: str = ""


Block = Paragraph | Fields | Table | Bullets | Links | Svg | Image


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    blocks: tuple[Block, ...] = ()
    subsections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Document:
    key: str
    title: str
    summary: str
    meta: Fields
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class ReportFiles:
    """The two renderings of one artefact on disk."""

    html: Path
    markdown: Path
    docx: Path | None = None  # a Word copy, for the documents IG teams edit and file


class UntrustedText(str):
    """Text chosen by a data producer (a header name the firewall dropped), not by us.

    The Markdown twin escapes every ASCII punctuation character of it, so a header such as
    ``[click](https://evil.example)``, ``![](https://tracker.example/x.png)`` or ``<img ...>``
    is shown as text and never becomes a link, an image or HTML in a Markdown viewer. The HTML
    rendering escapes it like every other value.
    """

    __slots__ = ()


_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _md_cell(value: object) -> str:
    text = " ".join(str(value).split())
    if isinstance(value, UntrustedText):
        return _MD_PUNCTUATION.sub(r"\\\1", text) or " "
    return text.replace("|", "\\|") or " "


_VERDICT_CLASSES = (
    ("Passed", "v-pass"),
    ("Failed", "v-fail"),
    ("FAILED", "v-fail"),
    ("Not evaluated", "v-none"),
)


def _verdict_attr(value: object) -> Markup:
    """A class attribute styling a cell by the verdict it starts with (none for other cells)."""
    text = str(value)
    for prefix, css in _VERDICT_CLASSES:
        if text == prefix or text.startswith(prefix + ":"):
            return Markup(f' class="{css}"')
    return Markup("")


def _kind(block: Block) -> str:
    return type(block).__name__.lower()


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("safeguard.governance", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_ENV.filters["md_cell"] = _md_cell
_ENV.filters["kind"] = _kind
_ENV.filters["verdict_attr"] = _verdict_attr
_ENV.filters["svg"] = Markup  # our own SVG, built with escaped labels


def render_html(document: Document) -> str:
    """The document as a standalone HTML page (inline CSS, no JavaScript)."""
    return _ENV.get_template("document.html.j2").render(doc=document)


def render_markdown(document: Document) -> str:
    """The document as GitHub-flavoured Markdown."""
    return _ENV.get_template("document.md.j2").render(doc=document)
