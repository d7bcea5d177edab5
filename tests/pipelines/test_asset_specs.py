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

from pipelines.definitions import build_definitions
from pipelines.resources import DeclaredReads, UndeclaredReadError, Warehouse, declared_reads

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
