"""HTML rendering of a subject access export (the JSON twin is ``SarExport.as_dict``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from safeguard.governance.sar import SarExport

__all__ = ["render_sar_html"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("safeguard.governance", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["cell"] = _cell


def render_sar_html(export: SarExport) -> str:
    """A standalone HTML page: request, outcome, notes, then one table per section."""
    data = export.as_dict()
    sections = []
    for title, rows in data["sections"].items():
        columns: list[str] = []
        for row in rows:
            columns += [c for c in row if c not in columns]
        sections.append({"title": title, "columns": columns, "rows": rows})
    return _ENV.get_template("sar.html.j2").render(export=data, sections=sections)
