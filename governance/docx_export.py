"""Word copies (python-docx) of the documents information-governance teams edit and file.

The same :class:`~safeguard.governance.document.Document` that gives the HTML and the Markdown gives the
``.docx``: the same title, summary, header fields and sections in the same order (Word
headings, so the navigation pane lists them), tables as Word tables, lists as bullet lists.
Charts are placed as pictures when their file exists, with their alt text as the picture's
description and a caption.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document as WordDocument
from docx.shared import Cm

from safeguard.governance.document import (
    Block,
    Bullets,
    Document,
    Fields,
    Image,
    Links,
    Paragraph,
    Section,
    Svg,
    Table,
)

__all__ = ["DOCX_ARTEFACTS", "render_docx", "write_docx"]

#: The artefacts written as Word documents too.
DOCX_ARTEFACTS = ("dpia_report", "record_of_processing", "transparency_record")


def _table(word, headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...], empty: str) -> None:
    body = rows or ((empty,) + ("",) * (len(headers) - 1),)
    table = word.add_table(rows=1 + len(body), cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = str(text)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row, values in zip(table.rows[1:], body, strict=True):
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = " ".join(str(text).split())


def _fields(word, rows: tuple[tuple[str, str], ...]) -> None:
    table = word.add_table(rows=len(rows), cols=2)
    table.style = "Table Grid"
    for row, (label, value) in zip(table.rows, rows, strict=True):
        row.cells[0].text = str(label)
        row.cells[0].paragraphs[0].runs[0].bold = True
        row.cells[1].text = " ".join(str(value).split())


def _block(word, block: Block, base: Path | None) -> None:
    if isinstance(block, Paragraph):
        word.add_paragraph(block.text)
    elif isinstance(block, Fields):
        _fields(word, block.rows)
    elif isinstance(block, Table):
        if block.caption:
            word.add_paragraph(block.caption, style="Caption")
        _table(word, block.headers, block.rows, block.empty)
    elif isinstance(block, Bullets):
        for item in block.items:
            word.add_paragraph(item, style="List Bullet")
    elif isinstance(block, Links):
        for label, href, note in block.items:
            word.add_paragraph(
                f"{label}: {href}" + (f" ({note})" if note else ""), style="List Bullet"
            )
    elif isinstance(block, Svg):
        word.add_paragraph(f"Diagram: {block.alt}")
    elif isinstance(block, Image):
        picture = (base / block.src) if base is not None else None
        if picture is not None and picture.is_file():
            shape = word.add_picture(str(picture), width=Cm(15))
            shape._inline.docPr.set("descr", block.alt)  # alt text for screen readers
        word.add_paragraph(block.caption or block.alt, style="Caption")


def _section(word, section: Section, level: int, base: Path | None) -> None:
    word.add_heading(section.heading, level=min(level, 9))
    for block in section.blocks:
        _block(word, block, base)
    for sub in section.subsections:
        _section(word, sub, level + 1, base)


def render_docx(document: Document, *, base: Path | None = None):
    """The document as a python-docx ``Document`` (``base``: where relative image paths start)."""
    word = WordDocument()
    word.core_properties.title = document.title
    word.add_heading(document.title, level=0)
    word.add_paragraph(document.summary)
    _fields(word, document.meta.rows)
    word.add_heading("Contents", level=1)
    for section in document.sections:
        word.add_paragraph(section.heading, style="List Number")
    for section in document.sections:
        _section(word, section, 1, base)
    return word


def write_docx(document: Document, out_dir: Path) -> Path:
    """Write ``<key>.docx`` into ``out_dir``; return its path."""
    path = Path(out_dir) / f"{document.key}.docx"
    render_docx(document, base=Path(out_dir)).save(str(path))
    return path
