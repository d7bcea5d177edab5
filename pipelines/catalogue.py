"""Dagster's own catalogue fields on every asset: owners, tags, column schemas, freshness.

Attached once at the root, like the DPIA metadata (:mod:`safeguard.pipelines.dpia_metadata`), from the
same sources: the owner and the personal / special-category tags from the DPIA register, the
landing files' columns from the landing contract, the features' columns from the feature
dictionary. Runtime metadata uses Dagster's standard keys too (:func:`row_count`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from safeguard.contracts.tables import AGENCY_SOURCES, LANDING_FILES
from safeguard.dpia.register import DpiaRegister
from safeguard.features import FEATURE_DICTIONARY
from safeguard.ingest.contract import LandingContract, load_contract

# Agencies deliver monthly: a source not refreshed for 32 days warns, for 35 days fails.
MONTHLY_DROP = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=35), warn_window=timedelta(days=32)
)
_TYPES = {"string": "string", "date": "date", "int": "int", "decimal": "float", "enum": "string",
          "bool": "bool"}  # fmt: skip


def row_count(rows: int) -> dict[str, object]:
    """``rows`` (what the CLI reads) and Dagster's standard ``dagster/row_count``."""
    return {"rows": int(rows), "dagster/row_count": dg.MetadataValue.int(int(rows))}


def landing_schema(name: str, contract: LandingContract) -> dg.TableSchema:
    """The columns of a landing file as the contract declares them (prohibited ones excluded)."""
    spec = contract.file_spec(name)
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                column,
                _TYPES[col.type],
                description=col.note
                or (f"one of: {', '.join(col.values)}" if col.values else None),
                constraints=dg.TableColumnConstraints(nullable=not col.required),
            )
            for column, col in spec.columns.items()
        ]
    )


def features_schema() -> dg.TableSchema:
    """``family_features``: the family key, the as-of date and one column per dictionary entry."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn("family_key", "string", description="Pseudonymous family key",
                           constraints=dg.TableColumnConstraints(nullable=False, unique=True)),
            dg.TableColumn("as_of_date", "date", description="The run's as-of date"),
            *(dg.TableColumn(f.name, "float", description=f"{f.label} ({f.unit}, {f.agency}). "
                             f"{f.description}") for f in FEATURE_DICTIONARY),
        ]
    )  # fmt: skip


def _yes(value: object) -> str:
    return "yes" if value else "no"


def catalogue_attributes(
    name: str, reg: DpiaRegister, contract: LandingContract
) -> tuple[dict[str, object], dict[str, str], list[str]]:
    """(metadata, tags, owners) of one asset, from the register, the contract and the dictionary."""
    meta = reg.asset_metadata(name)
    tags = {
        "dpia/personal_data": _yes(meta["dpia/personal_data"]),
        "dpia/special_category": _yes(meta["dpia/special_categories"]),
        "dpia/criminal_offence": _yes("criminal_offence" in meta["dpia/data_categories"]),
        "dpia/pseudonymised": _yes(meta["dpia/pseudonymised"]),
    }
    metadata: dict[str, object] = {}
    landing = name.removeprefix("landing_")
    if name.startswith("landing_") and landing in LANDING_FILES:
        metadata["dagster/column_schema"] = landing_schema(landing, contract)
    elif name == "family_features":
        metadata["dagster/column_schema"] = features_schema()
    return metadata, tags, [f"team:{reg.dpia.owner}"]


def with_catalogue(
    assets: Sequence[dg.AssetsDefinition | dg.AssetSpec], reg: DpiaRegister
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """``assets`` with owners, DPIA tags, column schemas and the monthly freshness policy."""
    contract = load_contract()

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        name = spec.key.path[-1]
        metadata, tags, owners = catalogue_attributes(name, reg, contract)
        spec = spec.merge_attributes(metadata=metadata, tags=tags, owners=owners)
        if name in {f"{s}_records" for s in AGENCY_SOURCES}:
            spec = spec.replace_attributes(freshness_policy=MONTHLY_DROP)
        return spec

    return list(dg.map_asset_specs(attach, assets))
