"""Lineage of data categories through the asset graph, read from the DPIA metadata on each spec.

Two rules keep the register honest: a personal data category cannot appear from nowhere (it
must be carried by an upstream asset), and anything derived from special-category or
criminal-offence data must carry the matching condition. The data-flow map for reviewers is
drawn from the same nodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import dagster as dg

from safeguard.dpia.register import NOT_APPLICABLE

REQUIRED_KEYS = (
    "dpia/lawful_basis",
    "dpia/special_category_condition",
    "dpia/purpose",
    "dpia/data_categories",
    "dpia/personal_data",
    "dpia/pseudonymised",
    "dpia/retention",
    "dpia/controller",
    "dpia/dpia_reference",
)
CRIMINAL_CATEGORY = "criminal_offence"


@dataclass(frozen=True)
class LineageNode:
    name: str
    deps: tuple[str, ...]
    categories: frozenset[str]
    special_categories: frozenset[str]
    personal: bool
    special_condition: str
    criminal_basis: str


def _condition(value: object) -> str:
    """The condition text, or '' where the register says it does not apply."""
    text = str(value or "").strip()
    return "" if text == NOT_APPLICABLE else text


def lineage_nodes(defs: dg.Definitions) -> dict[str, LineageNode]:
    """One node per asset, with its upstream asset names and declared categories."""
    return lineage_nodes_of(defs.resolve_all_asset_specs())


def lineage_nodes_of(specs: Iterable[dg.AssetSpec]) -> dict[str, LineageNode]:
    """:func:`lineage_nodes` from the asset specs themselves (e.g. of a running job's graph)."""
    nodes: dict[str, LineageNode] = {}
    for spec in specs:
        meta = spec.metadata
        nodes[spec.key.path[-1]] = LineageNode(
            name=spec.key.path[-1],
            deps=tuple(sorted(dep.asset_key.path[-1] for dep in spec.deps)),
            categories=frozenset(meta.get("dpia/data_categories", ())),
            special_categories=frozenset(meta.get("dpia/special_categories", ())),
            personal=bool(meta.get("dpia/personal_data", True)),
            special_condition=_condition(meta.get("dpia/special_category_condition")),
            criminal_basis=_condition(meta.get("dpia/criminal_offence_basis")),
        )
    return nodes


def graph_specs(
    definitions: Iterable[dg.AssetsDefinition | dg.AssetSpec | dg.AssetChecksDefinition],
) -> tuple[list[dg.AssetSpec], list[dg.AssetCheckKey]]:
    """Asset specs and check keys of a code location, from its definitions (no Definitions).

    Lets an asset of the location (the governance reports) see the whole graph without
    importing the module that builds it.
    """
    specs: list[dg.AssetSpec] = []
    checks: set[dg.AssetCheckKey] = set()
    for item in definitions:
        if isinstance(item, dg.AssetSpec):
            specs.append(item)
        elif isinstance(item, dg.AssetsDefinition):
            specs += list(item.specs)
            checks |= set(item.check_keys)
        else:
            checks |= set(item.check_keys)
    return specs, sorted(checks, key=lambda k: (k.asset_key.to_user_string(), k.name))


def nodes_to_json(nodes: Iterable[LineageNode]) -> str:
    """Lineage nodes as JSON text (so a resource can carry them)."""
    return json.dumps(
        [
            {**asdict(n), "categories": sorted(n.categories),
             "special_categories": sorted(n.special_categories)}
            for n in nodes
        ]
    )  # fmt: skip


def nodes_from_json(text: str) -> list[LineageNode]:
    return [
        LineageNode(
            name=d["name"], deps=tuple(d["deps"]), categories=frozenset(d["categories"]),
            special_categories=frozenset(d["special_categories"]), personal=bool(d["personal"]),
            special_condition=d["special_condition"], criminal_basis=d["criminal_basis"],
        )
        for d in json.loads(text)
    ]  # fmt: skip


def missing_dpia_metadata(defs: dg.Definitions) -> list[str]:
    """Every asset or check lacking one of the required ``dpia/*`` keys."""
    problems = []
    for spec in defs.resolve_all_asset_specs():
        missing = [k for k in REQUIRED_KEYS if k not in spec.metadata]
        if missing:
            problems.append(f"asset {spec.key.to_user_string()}: missing {', '.join(missing)}")
    graph = defs.resolve_asset_graph()
    for key in sorted(graph.asset_check_keys, key=str):
        metadata = graph.get_check_spec(key).metadata or {}
        missing = [k for k in REQUIRED_KEYS if k not in metadata]
        if missing:
            problems.append(
                f"check {key.asset_key.to_user_string()}/{key.name}: missing {', '.join(missing)}"
            )
    return problems


def lineage_violations(
    nodes: Mapping[str, LineageNode], personal_categories: frozenset[str]
) -> list[str]:
    """Categories that appear from nowhere, and derived assets lacking a matching condition."""
    problems = []
    for node in nodes.values():
        upstream = [nodes[d] for d in node.deps if d in nodes]
        if not upstream:
            continue  # roots: the landing files as delivered
        inherited = frozenset().union(*(u.categories for u in upstream))
        appeared = (node.categories & personal_categories) - inherited
        if appeared:
            problems.append(
                f"{node.name}: personal categories {sorted(appeared)} carried by no upstream asset"
            )
        if any(
            u.special_categories for u in upstream
        ) and node.special_categories - frozenset().union(
            *(u.special_categories for u in upstream)
        ):
            problems.append(
                f"{node.name}: special categories appear that no upstream asset carries"
            )
        if any(u.special_categories for u in upstream) and not node.special_condition:
            problems.append(
                f"{node.name}: derived from special-category data but has no Art 9 / Sch 1 condition"
            )
        if any(CRIMINAL_CATEGORY in u.categories for u in upstream) and not node.criminal_basis:
            problems.append(
                f"{node.name}: derived from criminal-offence data but has no Art 10 basis"
            )
    return problems


class LocationGraph(dg.ConfigurableResource):
    """The code location's lineage and check keys, handed to the assets that report on it.

    Built by ``safeguard.pipelines.definitions`` from the same definitions it loads, so the governance
    reports see the whole graph without importing the module that builds it (no cycle).
    """

    lineage_json: str = "[]"
    checks_json: str = "[]"

    def lineage(self) -> list[LineageNode]:
        return nodes_from_json(self.lineage_json)

    def check_keys(self) -> list[dg.AssetCheckKey]:
        keys = []
        for text in json.loads(self.checks_json):
            asset, name = text.rsplit("/", 1)
            keys.append(dg.AssetCheckKey(dg.AssetKey(asset.split("/")), name))
        return keys
