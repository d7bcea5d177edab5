"""Linkage assets: records -> people (Splink) -> families, behind the identity vault.

Identifiers are read from the vault and the person keys written back to it; the warehouse
only ever receives pseudonymous keys and aggregate quality figures.
"""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

import linkage
from linkage.families import form_families
from linkage.quality import evaluate_links, plausibility_findings
from pipelines.assets.ingest import AGENCY_SOURCES
from pipelines.dpia_metadata import dpia_check_spec
from pipelines.resources import RunSettings, Warehouse

LINKAGE_INPUT = [
    "source",
    "record_key",
    "first_name",
    "last_name",
    "dob",
    "address_line",
    "postcode",
    "sex",
    "upn",
    "nhs_number",
]
RECORDS = [f"{s}_records" for s in AGENCY_SOURCES]
PLAUSIBILITY_CHECK = "plausible_clusters"


def load_identities(warehouse: Warehouse) -> pd.DataFrame:
    """Union of the vault's per-source identity tables in linkage's input shape."""
    frames = []
    for source in AGENCY_SOURCES:
        df = warehouse.read_table(f"identity_{source}", vault=True)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "identity_vault",
            deps=RECORDS,
            group_name="linkage",
            kinds={"duckdb", "splink"},
            description="Restricted store: identifiers of every record with its person_key.",
        ),
        dg.AssetSpec(
            "record_links",
            deps=["identity_vault"],
            group_name="linkage",
            kinds={"duckdb"},
            description="Pseudonymous record -> person_key links with cluster confidence.",
        ),
        dg.AssetSpec(
            "linkage_quality",
            deps=["record_links", "identity_vault"],
            group_name="linkage",
            kinds={"duckdb", "html"},
            description="Match-weight and cluster-size distributions; precision/recall when truth is set.",
        ),
    ],
    check_specs=[
        dpia_check_spec(
            PLAUSIBILITY_CHECK,
            "linkage_quality",
            "Blocking: no giant clusters and no person whose records carry dates of birth years apart.",
        )
    ],
    name="link_records",
)
def link_records(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: RunSettings):
    identities = load_identities(warehouse)
    result = linkage.link_with_details(
        identities[LINKAGE_INPUT], artefact_dir=warehouse.artefact_dir("linkage")
    )
    links = result.links
    vault = identities.merge(
        links[["source", "record_key", "person_key"]], on=["source", "record_key"], how="left"
    )
    warehouse.write_table("identity_vault", vault, vault=True)
    yield dg.MaterializeResult(
        asset_key="identity_vault",
        metadata={"records": len(vault), "people": int(links["person_key"].nunique())},
    )

    record_links = links.merge(
        identities[["source", "record_key", "record_pseudo"]], on=["source", "record_key"]
    )
    record_links = record_links[
        ["source", "record_pseudo", "person_key", "cluster_size", "linkage_confidence"]
    ]
    warehouse.write_table("record_links", record_links)
    yield dg.MaterializeResult(
        asset_key="record_links",
        metadata={
            "rows": len(record_links),
            "people": int(record_links["person_key"].nunique()),
            "threshold": float(result.threshold),
        },
    )

    quality = result.summary_metrics()
    if settings.truth_dir:
        truth = pd.read_csv(Path(settings.truth_dir) / "records.csv", dtype=str)
        truth = truth.drop_duplicates(["source", "record_key"], keep="last")
        scores = evaluate_links(links, truth)
        quality.update({f"truth_{k}": v for k, v in scores.as_dict().items()})
    quality_table = pd.DataFrame(
        {"metric": list(quality), "value": [float(v) for v in quality.values()]}
    )
    warehouse.write_table("linkage_quality", quality_table)
    (warehouse.artefact_dir("linkage") / "linkage_quality.json").write_text(
        json.dumps(quality, indent=2)
    )
    yield dg.MaterializeResult(
        asset_key="linkage_quality", metadata={k: float(v) for k, v in quality.items()}
    )

    findings = plausibility_findings(links, identities)
    yield dg.AssetCheckResult(
        asset_key="linkage_quality",
        check_name=PLAUSIBILITY_CHECK,
        passed=not findings,
        metadata={"findings": "; ".join(f.message for f in findings) or "none"},
    )


@dg.asset(deps=["record_links", *RECORDS], group_name="linkage", kinds={"duckdb"})
def people(warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per linked person: birth month (not date), record and source counts."""
    record_links = warehouse.read_table("record_links")
    births = pd.concat(
        [warehouse.read_table(t, columns=["record_pseudo", "birth_month"]) for t in RECORDS],
        ignore_index=True,
    )
    merged = record_links.merge(births, on="record_pseudo", how="left")
    table = (
        merged.groupby("person_key")
        .agg(
            birth_month=("birth_month", lambda s: s.mode().iloc[0] if s.notna().any() else pd.NaT),
            n_records=("record_pseudo", "size"),
            n_sources=("source", "nunique"),
            linkage_confidence=("linkage_confidence", "min"),
        )
        .reset_index()
    )
    warehouse.write_table("people", table)
    return dg.MaterializeResult(metadata={"rows": len(table)})


@dg.asset(
    deps=["record_links", "social_care_records", "education_records", "police_records"],
    group_name="linkage",
    kinds={"duckdb"},
)
def protected_characteristics(warehouse: Warehouse) -> dg.MaterializeResult:
    """Sex, ethnicity and disability per person, for the fairness audit only (never model features)."""
    record_links = warehouse.read_table("record_links", columns=["record_pseudo", "person_key"])
    frames = []
    for table, cols in [
        ("social_care_records", ["sex", "ethnicity", "disability"]),
        ("education_records", ["sex", "ethnicity"]),
        ("police_records", ["sex"]),
    ]:
        frames.append(warehouse.read_table(table, columns=["record_pseudo", *cols]))
    merged = record_links.merge(pd.concat(frames, ignore_index=True), on="record_pseudo")

    def first_known(values: pd.Series) -> object:
        known = values.dropna()
        known = known[known != "U"]
        return known.mode().iloc[0] if len(known) else pd.NA

    table = (
        merged.groupby("person_key")[["sex", "ethnicity", "disability"]]
        .agg(first_known)
        .reset_index()
    )
    warehouse.write_table("protected_characteristics", table)
    return dg.MaterializeResult(metadata={"rows": len(table)})


@dg.asset(deps=["record_links", "people", *RECORDS], group_name="linkage", kinds={"duckdb"})
def families(warehouse: Warehouse, settings: RunSettings) -> dg.MaterializeResult:
    """Children and the adults they live with, as spells over time (current spell: valid_to null)."""
    record_links = warehouse.read_table(
        "record_links", columns=["record_pseudo", "person_key", "source"]
    )
    frames = []
    for source in AGENCY_SOURCES:
        cols = ["record_pseudo", "address_key", _date_column(source)]
        if source == "housing":
            cols.append("tenancy_ref")
        df = warehouse.read_table(f"{source}_records", columns=cols).rename(
            columns={_date_column(source): "event_date"}
        )
        df["group_key"] = df.pop("tenancy_ref") if "tenancy_ref" in df else pd.NA
        df["source"] = source
        frames.append(df)
    residence = pd.concat(frames, ignore_index=True).merge(
        record_links[["record_pseudo", "person_key"]], on="record_pseudo"
    )
    people_table = warehouse.read_table("people", columns=["person_key", "birth_month"])
    extract = warehouse.read_table("row_accounting", columns=["extract_date"])["extract_date"].max()
    as_of = settings.as_of_date(pd.Timestamp(extract).date() if pd.notna(extract) else date.today())
    table = form_families(residence.drop(columns=["record_pseudo"]), people_table, as_of)
    warehouse.write_table("families", table)
    current = table[table["valid_to"].isna()]
    return dg.MaterializeResult(
        metadata={
            "rows": len(table),
            "current_families": int(current["family_key"].nunique()),
            "as_of": as_of.isoformat(),
        }
    )


def _date_column(source: str) -> str:
    return {
        "social_care": "start_date",
        "education": "period_start",
        "housing": "event_date",
        "police": "incident_date",
        "revenues_benefits": "event_date",
    }[source]
