"""What every asset declares (deps, checks, group), against a reviewed snapshot, and the guard
that makes an asset's reads match its declaration.

The DPIA lineage and the data-flow map are drawn from ``deps``; the guard refuses a read of an
undeclared table, and this snapshot makes any change to the declarations visible in review.
After an intended change, rewrite the snapshot and review its diff:

    SAFEGUARD_UPDATE_SNAPSHOTS=1 python -m pytest tests/pipelines/test_asset_specs.py
"""

import difflib
import os
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from safeguard.features import FEATURE_DICTIONARY
from safeguard.ingest.contract import load_contract
from safeguard.pipelines.catalogue import MONTHLY_DROP
from safeguard.pipelines.definitions import build_definitions
from safeguard.pipelines.dpia_metadata import register
from safeguard.pipelines.resources import (
    DeclaredReads,
    UndeclaredReadError,
    Warehouse,
    declared_reads,
)

SNAPSHOT = Path(__file__).with_name("asset_specs.snapshot.txt")


def render_specs(defs: dg.Definitions) -> str:
    """One block per asset: group, kinds, deps and checks, sorted (stable for review)."""
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        checks.setdefault(key.asset_key.to_user_string(), []).append(
            f"{key.name}{'' if spec.blocking else ' (warn)'}"
        )
    lines = []
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        name = spec.key.to_user_string()
        lines.append(f"{name}  [group {spec.group_name}; {', '.join(sorted(spec.kinds))}]")
        deps = sorted(d.asset_key.to_user_string() for d in spec.deps)
        lines.append(f"  deps: {', '.join(deps) or '-'}")
        lines.append(f"  checks: {', '.join(sorted(checks.get(name, []))) or '-'}")
        dpia = ", ".join(
            f"{k.removeprefix('dpia/')}={v}"
            for k, v in sorted(spec.tags.items())
            if k.startswith("dpia/")
        )
        lines.append(f"  tags: {dpia or '-'}")
    return "\n".join(lines) + "\n"


def test_asset_declarations_match_the_reviewed_snapshot(tmp_path: Path) -> None:
    current = render_specs(build_definitions(data_dir=str(tmp_path), landing_dir="."))
    if os.environ.get("SAFEGUARD_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(current, encoding="utf-8")
    expected = SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            current.splitlines(keepends=True),
            "asset_specs.snapshot.txt (reviewed)",
            "declared now",
        )
    )
    assert not diff, (
        "asset declarations changed; if intended, rewrite the snapshot with "
        f"SAFEGUARD_UPDATE_SNAPSHOTS=1 and review it:\n{diff}"
    )


def test_a_changed_dependency_shows_in_the_rendering(tmp_path: Path) -> None:
    @dg.asset(deps=["a"])
    def b() -> None: ...

    @dg.asset(deps=["a", "c"])
    def b2() -> None: ...

    one = render_specs(dg.Definitions(assets=[b]))
    two = render_specs(dg.Definitions(assets=[b2]))
    assert "  deps: a\n" in one and "  deps: a, c\n" in two


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    store = Warehouse(data_dir=str(tmp_path))
    for name in ("events", "people"):
        store.write_table(name, pd.DataFrame({"x": [1]}))
    store.write_table("identity_police", pd.DataFrame({"x": [1]}), vault=True)
    return store


def test_declared_reads_refuse_an_undeclared_table(warehouse: Warehouse) -> None:
    reads = DeclaredReads(warehouse, "step", frozenset({"events", "police_records"}))
    assert len(reads.read_table("events")) == 1
    assert len(reads.read_table("identity_police", vault=True)) == 1  # the vault side of police
    with pytest.raises(UndeclaredReadError, match="step reads table 'people'"):
        reads.read_table("people")
    with pytest.raises(UndeclaredReadError):
        reads.table_exists("people")
    assert reads.unchecked.read_table("people").shape == (1, 1)


def test_an_asset_reading_what_it_did_not_declare_fails(warehouse: Warehouse) -> None:
    @dg.asset(deps=["events"])
    def honest(context: dg.AssetExecutionContext, warehouse: Warehouse) -> None:
        declared_reads(context, warehouse).read_table("events")

    @dg.asset(deps=["events"])
    def sneaky(context: dg.AssetExecutionContext, warehouse: Warehouse) -> None:
        declared_reads(context, warehouse).read_table("people")

    assert dg.materialize([honest], resources={"warehouse": warehouse}).success
    with pytest.raises(UndeclaredReadError, match="sneaky reads table 'people'"):
        dg.materialize([sneaky], resources={"warehouse": warehouse})


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dg.AssetSpec]:
    defs = build_definitions(data_dir=str(tmp_path_factory.mktemp("d")), landing_dir=".")
    return {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}


def test_every_asset_has_its_own_description(specs: dict[str, dg.AssetSpec]) -> None:
    by_text: dict[str, list[str]] = {}
    for name, spec in specs.items():
        assert spec.description, f"{name} has no description"
        by_text.setdefault(spec.description, []).append(name)
    shared = {text[:60]: names for text, names in by_text.items() if len(names) > 1}
    assert shared == {}, "assets of a multi-asset inherit its docstring"


def test_owners_and_tags_come_from_the_register(specs: dict[str, dg.AssetSpec]) -> None:
    reg = register()
    for name, spec in specs.items():
        meta = reg.asset_metadata(name)
        assert spec.owners == [f"team:{reg.dpia.owner}"], name
        assert spec.tags["dpia/personal_data"] == ("yes" if meta["dpia/personal_data"] else "no")
        assert spec.tags["dpia/special_category"] == (
            "yes" if meta["dpia/special_categories"] else "no"
        )
    assert specs["protected_characteristics"].tags["dpia/special_category"] == "yes"
    assert specs["police_records"].tags["dpia/criminal_offence"] == "yes"
    assert specs["row_accounting"].tags["dpia/personal_data"] == "no"


def test_column_schemas_follow_the_contract_and_the_feature_dictionary(
    specs: dict[str, dg.AssetSpec],
) -> None:
    police = specs["landing_police"].metadata["dagster/column_schema"]
    contract = load_contract().file_spec("police")
    assert [c.name for c in police.columns] == list(contract.columns)
    required = {c for c, col in contract.columns.items() if col.required}
    assert {c.name for c in police.columns if not c.constraints.nullable} == required
    features = specs["family_features"].metadata["dagster/column_schema"]
    assert [c.name for c in features.columns][2:] == [f.name for f in FEATURE_DICTIONARY]


def test_agency_tables_must_be_refreshed_monthly(specs: dict[str, dg.AssetSpec]) -> None:
    fresh = {name for name, spec in specs.items() if spec.freshness_policy is not None}
    assert fresh == {
        "social_care_records", "education_records", "housing_records", "police_records",
        "revenues_benefits_records",
    }  # fmt: skip
    assert specs["police_records"].freshness_policy == MONTHLY_DROP
