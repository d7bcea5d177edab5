"""The data-flow map: which data category flows where, drawn from the real asset lineage.

The lineage arrives as plain nodes (the pipeline builds them from the Dagster asset graph;
``safeguard.pipelines.lineage.LineageNode`` fits), so this module never imports dagster. The diagram is
an inline SVG laid out by depth in the graph: readable in any browser, no JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import cast

from safeguard.dpia.register import DpiaRegister
from safeguard.governance.blocks import meta_fields, yes_no
from safeguard.governance.document import Document, Paragraph, Section, Svg, Table
from safeguard.governance.facts import RunFacts

__all__ = ["FlowNode", "build_data_flow_map", "flow_nodes", "render_flow_svg"]

_BOX_W, _BOX_H, _COL_GAP, _ROW_GAP, _PAD = 190, 30, 70, 12, 10
_FILL = {"identified": "#f4cccc", "pseudonymised": "#fff2cc", "not personal": "#d9ead3"}


@dataclass(frozen=True)
class FlowNode:
    """One asset of the lineage: its upstream assets and what data it carries."""

    name: str
    deps: tuple[str, ...]
    categories: frozenset[str]
    personal: bool
    pseudonymised: bool

    @property
    def kind(self) -> str:
        if not self.personal:
            return "not personal"
        return "pseudonymised" if self.pseudonymised else "identified"


def _get(node: object, key: str, default: object = None) -> object:
    if isinstance(node, Mapping):
        return node.get(key, default)
    return getattr(node, key, default)


def flow_nodes(lineage: Iterable[object], register: DpiaRegister) -> list[FlowNode]:
    """Coerce lineage nodes (objects or mappings with ``name, deps, categories, personal`` and
    optionally ``pseudonymised``) to :class:`FlowNode`; a missing ``pseudonymised`` is taken
    from the asset's register record."""
    nodes = []
    for raw in lineage:
        name = str(_get(raw, "name"))
        record = register.assets.get(name)
        pseudo = _get(raw, "pseudonymised")
        if pseudo is None:
            pseudo = record.pseudonymised if record else False
        categories = cast(
            Iterable[object],
            _get(raw, "categories") or (record.data_categories if record else ()),
        )
        deps = cast(Iterable[object], _get(raw, "deps") or ())
        personal = _get(raw, "personal")
        nodes.append(
            FlowNode(
                name=name,
                deps=tuple(str(d) for d in deps),
                categories=frozenset(str(c) for c in categories),
                personal=bool(record.personal_data if personal is None and record else personal),
                pseudonymised=bool(pseudo),
            )
        )
    return nodes


def _depths(nodes: list[FlowNode]) -> dict[str, int]:
    by_name = {n.name: n for n in nodes}
    depth: dict[str, int] = {}

    def visit(name: str, trail: tuple[str, ...]) -> int:
        if name in trail:
            raise ValueError(f"lineage has a cycle through {name!r}")
        if name not in depth:
            parents = [d for d in by_name[name].deps if d in by_name]
            depth[name] = 1 + max((visit(p, (*trail, name)) for p in parents), default=-1)
        return depth[name]

    for node in nodes:
        visit(node.name, ())
    return depth


def render_flow_svg(nodes: list[FlowNode]) -> str:
    """An SVG of the lineage: one column per depth, boxes coloured by personal/pseudonymised."""
    depth = _depths(nodes)
    columns: dict[int, list[FlowNode]] = {}
    for node in sorted(nodes, key=lambda n: (depth[n.name], n.name)):
        columns.setdefault(depth[node.name], []).append(node)
    position = {
        n.name: (_PAD + d * (_BOX_W + _COL_GAP), _PAD + 40 + i * (_BOX_H + _ROW_GAP))
        for d, col in columns.items()
        for i, n in enumerate(col)
    }
    width = _PAD * 2 + len(columns) * (_BOX_W + _COL_GAP)
    height = (
        _PAD * 2 + 40 + max((len(c) for c in columns.values()), default=0) * (_BOX_H + _ROW_GAP)
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
    ]
    for i, (label, colour) in enumerate(_FILL.items()):
        x = _PAD + i * 170
        parts.append(
            f'<rect x="{x}" y="{_PAD}" width="14" height="14" fill="{colour}" stroke="#505a5f"/>'
        )
        parts.append(f'<text x="{x + 20}" y="{_PAD + 11}">{escape(label)}</text>')
    for node in nodes:
        x2, y2 = position[node.name]
        for dep in node.deps:
            if dep in position:
                x1, y1 = position[dep]
                sx, sy, ey = x1 + _BOX_W, y1 + _BOX_H / 2, y2 + _BOX_H / 2
                mid = (sx + x2) / 2
                parts.append(
                    f'<path d="M{sx},{sy} C{mid},{sy} {mid},{ey} {x2},{ey}" fill="none" '
                    'stroke="#8a8f94" stroke-width="1"/>'
                )
    for node in nodes:
        x, y = position[node.name]
        title = escape(f"{node.name}: {', '.join(sorted(node.categories))} ({node.kind})")
        parts.append(
            f'<g><title>{title}</title><rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" '
            f'rx="4" fill="{_FILL[node.kind]}" stroke="#505a5f"/>'
            f'<text x="{x + 6}" y="{y + 19}">{escape(node.name)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def build_data_flow_map(
    register: DpiaRegister, lineage: Iterable[object], facts: RunFacts
) -> Document:
    """The data-flow map as a :class:`~safeguard.governance.document.Document`."""
    nodes = flow_nodes(lineage, register)
    by_name = {n.name: n for n in nodes}
    depth = _depths(nodes)
    ordered = sorted(nodes, key=lambda n: (depth[n.name], n.name))

    def store(name: str) -> str:
        record = register.assets.get(name)
        return record.store if record else "not in register"

    assets = Table(
        ("Asset", "Store", "Upstream", "Data categories", "Personal", "Pseudonymised"),
        tuple(
            (
                n.name,
                store(n.name),
                ", ".join(n.deps) or "(source)",
                ", ".join(sorted(n.categories)),
                yes_no(n.personal),
                yes_no(n.pseudonymised),
            )
            for n in ordered
        ),
    )
    flows = Table(
        ("From", "To", "Data categories flowing"),
        tuple(
            (
                dep,
                n.name,
                ", ".join(sorted(by_name[dep].categories & n.categories))
                or "none (derived aggregate)",
            )
            for n in ordered
            for dep in n.deps
            if dep in by_name
        ),
    )
    sensitive = {
        c
        for c, spec in register.data_categories.items()
        if spec.special_category or spec.criminal_offence
    }
    categories = Table(
        ("Data category", "Personal", "Special or criminal", "Flows through"),
        tuple(
            (
                c,
                yes_no(spec.personal),
                yes_no(c in sensitive),
                ", ".join(n.name for n in ordered if c in n.categories) or "nowhere",
            )
            for c, spec in register.data_categories.items()
        ),
    )
    sections = (
        Section(
            "diagram",
            "Diagram",
            (
                Paragraph(
                    "Red: identified personal data (landing files, identity vault). Amber: "
                    "pseudonymised personal data. Green: no personal data."
                ),
                Svg(render_flow_svg(nodes), f"{len(nodes)} assets and their upstream links"),
            ),
        ),
        Section("assets", "Assets and stores", (assets,)),
        Section("flows", "Data flows between assets", (flows,)),
        Section("categories", "Where each data category flows", (categories,)),
    )
    return Document(
        "data_flow_map",
        "Data-flow map",
        "Which data category flows where, drawn from the asset lineage of the pipeline.",
        meta_fields(register, facts),
        sections,
    )
