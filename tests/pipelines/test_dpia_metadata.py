"""Every asset and check carries its DPIA record; data categories follow the lineage."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from safeguard.dpia.register import MissingDpiaRecord, load_register
from safeguard.pipelines.definitions import build_definitions
from safeguard.pipelines.dpia_metadata import with_dpia_metadata
from safeguard.pipelines.lineage import lineage_nodes, lineage_violations, missing_dpia_metadata


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    root = tmp_path_factory.mktemp("defs")
    return build_definitions(data_dir=str(root / "data"), landing_dir=str(root / "landing"))


@pytest.fixture(scope="module")
def personal_categories() -> frozenset[str]:
    reg = load_register()
    return frozenset(c for c in reg.data_categories if reg.is_personal_category(c))


def test_definitions_load(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)


def test_every_asset_and_check_carries_dpia_metadata(defs: dg.Definitions) -> None:
    assert len(defs.resolve_all_asset_specs()) >= 20
    assert len(defs.resolve_asset_graph().asset_check_keys) >= 5
    assert missing_dpia_metadata(defs) == []


def test_missing_metadata_is_detected_when_attachment_is_skipped(tmp_path: Path) -> None:
    # The same assets without the root mapping must be reported, or the test above proves nothing.
    bare = dg.Definitions(
        assets=[dg.AssetSpec("social_care_records"), dg.AssetSpec("unassessed_table")]
    )
    problems = missing_dpia_metadata(bare)
    assert any("unassessed_table" in p for p in problems)
    assert any("social_care_records" in p for p in problems)


def test_an_asset_without_a_register_record_fails_loading() -> None:
    with pytest.raises(MissingDpiaRecord, match="unassessed_table"):
        with_dpia_metadata([dg.AssetSpec("unassessed_table")])


def test_lineage_is_consistent(defs: dg.Definitions, personal_categories: frozenset[str]) -> None:
    nodes = lineage_nodes(defs)
    assert nodes["police_records"].deps == ("landing_police",)
    assert lineage_violations(nodes, personal_categories) == []


def test_lineage_check_catches_a_category_from_nowhere(
    defs: dg.Definitions, personal_categories: frozenset[str]
) -> None:
    nodes = dict(lineage_nodes(defs))
    workers = nodes["workers"]
    planted = next(
        iter(sorted(personal_categories - workers.categories - nodes["landing_workers"].categories))
    )
    nodes["workers"] = type(workers)(
        **{**workers.__dict__, "categories": workers.categories | {planted}}
    )
    assert any(
        v.startswith("workers:") and planted in v
        for v in lineage_violations(nodes, personal_categories)
    )


def test_lineage_check_requires_conditions_downstream_of_special_and_criminal_data(
    defs: dg.Definitions, personal_categories: frozenset[str]
) -> None:
    nodes = dict(lineage_nodes(defs))
    police = nodes["police_records"]
    assert "criminal_offence" in police.categories
    nodes["police_records"] = type(police)(**{**police.__dict__, "criminal_basis": ""})
    assert police.criminal_basis
    # the criminal-offence basis must be carried by what is derived from the landing police file
    assert any(
        v.startswith("police_records:") for v in lineage_violations(nodes, personal_categories)
    )
