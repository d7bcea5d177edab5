"""Linkage assets: records -> people (Splink) -> families, behind the identity vault.

Identifiers are read from the vault and the person keys written back to it; the warehouse
only ever receives pseudonymous keys and aggregate quality figures.
"""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

import linkage
from features.outcomes import monthly_as_of_dates
from features.protected import CHARACTERISTIC_SOURCES, characteristic_observations
from linkage.config import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from linkage.families import form_families, form_families_at
from linkage.quality import evaluate_links, plausibility_findings
from pipelines.catalogue import row_count
from pipelines.dpia_metadata import dpia_check_spec
from pipelines.layout import AGENCY_SOURCES, OBJECTIONS_SOURCE, RECORDS, date_column
from pipelines.readers import residence_observations
from pipelines.resources import CouncilSettings, RunSettings, Warehouse, declared_reads
from pipelines.run_context import extract_date, run_dates

# Everything the library can use; the vault also holds agency_id (same agency's own person id).
LINKAGE_INPUT = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
PLAUSIBILITY_CHECK = "plausible_clusters"
COVERAGE_CHECK = "blocking_coverage"

# Share of clusters each plausibility check may flag before the gate blocks. Giant clusters and
# people with many dates of birth are never plausible; a child's dates of birth a year apart can
# be a genuine recording error in one agency, so a small share is tolerated.
PLAUSIBILITY_TOLERANCE = {"child_dob_spread": 0.005, "dob_spread": 0.005}


def load_identities(warehouse: Warehouse) -> pd.DataFrame:
    """Union of the vault's identity tables in linkage's input shape, objections included.

    The objections register is linked in the same run as the agencies' records, so an
    objector's records (typo'd ones too) fall into the objector's person cluster.
    """
    frames = [warehouse.read_table(f"identity_{source}", vault=True) for source in AGENCY_SOURCES]
    objections = warehouse.read_table("identity_objections", vault=True)
    frames.append(
        pd.DataFrame(
            {
                "source": OBJECTIONS_SOURCE,
                "record_key": objections["objection_id"],
                "record_pseudo": objections["objection_pseudo"],
                "first_name": objections["first_name"],
                "last_name": objections["last_name"],
                "dob": objections["dob"],
                "postcode": objections["postcode"],
            }
        )
    )
    identities = pd.concat(frames, ignore_index=True)
    for column in LINKAGE_INPUT:
        if column not in identities:
            identities[column] = pd.NA
    return identities


def quality_metrics(result: linkage.LinkageResult) -> dict[str, float]:
    """Aggregate figures for the linkage_quality table (no identifiers)."""
    sizes = result.cluster_size_distribution
    hist = result.match_weight_histogram
    metrics = {
        "records": float(len(result.links)),
        "people": float(result.links["person_key"].nunique()),
        "threshold_match_probability": float(result.threshold_match_probability),
        "largest_cluster": float(sizes["cluster_size"].max()) if len(sizes) else 0.0,
        "singleton_share": float(
            sizes.loc[sizes["cluster_size"] == 1, "records"].sum() / max(sizes["records"].sum(), 1)
        ),
        "candidate_pairs_scored": float(hist["pairs"].sum()) if len(hist) else 0.0,
        "mean_linkage_confidence": float(result.links["linkage_confidence"].mean()),
    }
    metrics.update({f"clustering_{k}": float(v) for k, v in result.clustering.items()})
    plan = result.blocking
    if plan is not None:  # the model's own estimate of the matches blocking can ever compare
        metrics.update(
            {
                "blocking_expected_coverage": plan.expected_coverage,
                "blocking_configured_rules_coverage": plan.configured_coverage,
                "blocking_coverage_target": plan.target,
                "blocking_rules_added": float(len(plan.added)),
                "blocking_comparisons": float(plan.comparisons),
                "blocking_comparison_budget": float(plan.budget),
            }
        )
    return metrics


def coverage_check(result: linkage.LinkageResult) -> dg.AssetCheckResult:
    """Warn (never block) when blocking is expected to miss more matches than the target.

    Recall is bounded by blocking; a shortfall means looser rules would have cost more
    comparisons than the budget allows. The links are still usable, so the run goes on.
    """
    plan = result.blocking
    if plan is None:
        return dg.AssetCheckResult(
            asset_key="linkage_quality",
            check_name=COVERAGE_CHECK,
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description="fewer than two distinct identities: nothing to compare",
        )
    return dg.AssetCheckResult(
        asset_key="linkage_quality",
        check_name=COVERAGE_CHECK,
        passed=not plan.below_target,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"blocking is expected to compare {plan.expected_coverage:.2%} of matching pairs "
            f"(target {plan.target:.0%}, {len(plan.added)} rule(s) added, "
            f"{plan.comparisons:,} of {plan.budget:,} comparisons budgeted)"
        ),
        metadata={
            "expected_coverage": float(plan.expected_coverage),
            "configured_rules_coverage": float(plan.configured_coverage),
            "target": float(plan.target),
            "rules_added": "; ".join(plan.added) or "none",
        },
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "identity_vault",
            # objections: the register's blocking gates stop linkage, so nothing downstream
            # runs on a register that could not be trusted.
            deps=[*RECORDS, "objections"],
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
            # row_accounting: clusters are judged at the extract date (ages of children)
            deps=["record_links", "identity_vault", "row_accounting"],
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
        ),
        dpia_check_spec(
            COVERAGE_CHECK,
            "linkage_quality",
            "Warning: the model expects blocking to compare at least the target share of "
            "matching pairs.",
            blocking=False,
        ),
    ],
    name="link_records",
)
def link_records(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: RunSettings):
    warehouse = declared_reads(context, warehouse)
    identities = load_identities(warehouse)
    # One staged commit: the vault's person keys, the warehouse links and the linkage files
    # change together or not at all (pipelines/storage.py).
    with warehouse.stage("link_records") as stage:
        artefacts = stage.artefact_dir("linkage")
        result = linkage.link_with_details(
            identities[LINKAGE_INPUT],
            keys=warehouse.pseudonymiser().key_function(),  # keyed: never a bare hash of record keys
            artefact_dir=artefacts,
        )
        links = result.links
        vault = identities.merge(
            links[["source", "record_key", "person_key"]], on=["source", "record_key"], how="left"
        )
        stage.write_table("identity_vault", vault, vault=True)
        record_links = links.merge(
            identities[["source", "record_key", "record_pseudo"]], on=["source", "record_key"]
        )
        record_links = record_links[
            ["source", "record_pseudo", "person_key", "cluster_size", "linkage_confidence"]
        ]
        stage.write_table("record_links", record_links)
        quality = quality_metrics(result)
        if settings.truth_dir:
            truth = pd.read_csv(Path(settings.truth_dir) / "records.csv", dtype=str)
            truth = truth.drop_duplicates(["source", "record_key"], keep="last")
            scores = evaluate_links(links, truth)
            quality.update({f"truth_{k}": v for k, v in scores.as_dict().items()})
        quality_table = pd.DataFrame(
            {"metric": list(quality), "value": [float(v) for v in quality.values()]}
        )
        stage.write_table("linkage_quality", quality_table)
        (artefacts / "linkage_quality.json").write_text(json.dumps(quality, indent=2))

    yield dg.MaterializeResult(
        asset_key="identity_vault",
        metadata={"records": len(vault), "people": int(links["person_key"].nunique())},
    )
    yield dg.MaterializeResult(
        asset_key="record_links",
        metadata={
            **row_count(len(record_links)),
            "people": int(record_links["person_key"].nunique()),
            "threshold": float(result.threshold_match_probability),
            "objectors_linked": int((links["source"] == OBJECTIONS_SOURCE).sum()),
        },
    )
    yield dg.MaterializeResult(
        asset_key="linkage_quality", metadata={k: float(v) for k, v in quality.items()}
    )
    yield coverage_check(result)

    # Judge clusters by the distinct identities they join, not by event rows: a pupil has a
    # record per term and a claimant one per payment, all carrying the same identity.
    profiles = links[["source", "record_key", "person_key"]].merge(
        identities[["source", "record_key", "agency_id", "first_name", "last_name", "dob"]],
        on=["source", "record_key"],
    )
    profiles = profiles.drop_duplicates(
        ["person_key", "source", "agency_id", "first_name", "last_name", "dob"]
    )
    findings = plausibility_findings(profiles, profiles, as_of=extract_date(warehouse))
    failing = [f for f in findings if f.share > PLAUSIBILITY_TOLERANCE.get(f.check, 0.0)]
    yield dg.AssetCheckResult(
        asset_key="linkage_quality",
        check_name=PLAUSIBILITY_CHECK,
        passed=not failing,
        description="; ".join(
            f"{f.description}: {f.clusters} people ({f.share:.2%}, tolerance "
            f"{PLAUSIBILITY_TOLERANCE.get(f.check, 0.0):.2%})"
            for f in failing
        )
        or None,
        metadata={
            **{f"{f.check}_people": f.clusters for f in findings},
            "threshold_justification": result.threshold_justification,
            **({"failure": "; ".join(f.description for f in failing)} if failing else {}),
        },
    )


def modal_value(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Most frequent non-missing ``column`` per ``key`` (ties: the smallest value), vectorised.

    A person linked across agencies has several recorded values; the most frequent one wins,
    as a one-off typo is the usual reason for a difference.
    """
    counts = (
        frame.loc[frame[column].notna(), [key, column]].value_counts().rename("n").reset_index()
    )
    counts = counts.sort_values([key, "n", column], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[column]


@dg.asset(deps=["record_links", *RECORDS], group_name="linkage", kinds={"duckdb"})
def people(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per linked person: birth month (not date), record and source counts."""
    warehouse = declared_reads(context, warehouse)
    record_links = warehouse.read_table("record_links")
    record_links = record_links[record_links["source"] != OBJECTIONS_SOURCE]
    births = pd.concat(
        [warehouse.read_table(t, columns=["record_pseudo", "birth_month"]) for t in RECORDS],
        ignore_index=True,
    )
    merged = record_links.merge(births, on="record_pseudo", how="left")
    table = merged.groupby("person_key").agg(
        n_records=("record_pseudo", "size"),
        n_sources=("source", "nunique"),
        linkage_confidence=("linkage_confidence", "min"),
    )
    table.insert(0, "birth_month", modal_value(merged, "person_key", "birth_month"))
    table = table.reset_index()
    warehouse.write_table("people", table)
    return dg.MaterializeResult(metadata={**row_count(len(table))})


@dg.asset(
    deps=["record_links", "social_care_records", "education_records", "police_records"],
    group_name="linkage",
    kinds={"duckdb"},
)
def protected_characteristics(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Dated statements of sex, ethnicity and disability per person, for the fairness audit only.

    Kept as one row per agency record (with the record's date), so the audit can read each
    characteristic as it was known at each as-of date; never model features.
    """
    warehouse = declared_reads(context, warehouse)
    record_links = warehouse.read_table("record_links", columns=["record_pseudo", "person_key"])
    records = {
        source: warehouse.read_table(
            f"{source}_records", columns=["record_pseudo", date_column(source), *columns]
        )
        for source, columns in CHARACTERISTIC_SOURCES.items()
    }
    table = characteristic_observations(
        records, record_links, {s: date_column(s) for s in CHARACTERISTIC_SOURCES}
    )
    warehouse.write_table("protected_characteristics", table)
    return dg.MaterializeResult(
        metadata={**row_count(len(table)), "people": int(table["person_key"].nunique())}
    )


FAMILY_INPUTS = ["record_links", "people", *RECORDS, "row_accounting"]


@dg.asset(deps=FAMILY_INPUTS, group_name="linkage", kinds={"duckdb"})
def families(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: RunSettings
) -> dg.MaterializeResult:
    """Children and the adults they live with, as spells over time (current spell: valid_to null)."""
    warehouse = declared_reads(context, warehouse)
    people_table = warehouse.read_table("people", columns=["person_key", "birth_month"])
    as_of = run_dates(warehouse, settings).as_of
    table = form_families(
        residence_observations(warehouse), people_table, as_of,
        keys=warehouse.pseudonymiser().key_function(),
    )  # fmt: skip
    warehouse.write_table("families", table)
    current = table[table["valid_to"].isna()]
    return dg.MaterializeResult(
        metadata={
            **row_count(len(table)),
            "current_families": int(current["family_key"].nunique()),
            "as_of": as_of.isoformat(),
        }
    )


@dg.asset(deps=FAMILY_INPUTS, group_name="linkage", kinds={"duckdb"})
def family_snapshots(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: RunSettings,
    council: CouncilSettings,
) -> dg.MaterializeResult:
    """Families formed again at every training and test date from the records made by then."""
    warehouse = declared_reads(context, warehouse)
    training = council.config().training
    as_of = run_dates(warehouse, settings).as_of
    dates = monthly_as_of_dates(
        as_of, training.first_as_of_months_back, training.last_as_of_months_back
    )
    people_table = warehouse.read_table("people", columns=["person_key", "birth_month"])
    table = form_families_at(
        residence_observations(warehouse), people_table, dates,
        keys=warehouse.pseudonymiser().key_function(), reuse_months=training.family_snapshot_months,
    )  # fmt: skip
    warehouse.write_table("family_snapshots", table)
    return dg.MaterializeResult(
        metadata={
            **row_count(len(table)),
            "as_of_dates": len(dates),
            "first_as_of": dates[0].isoformat(),
            "last_as_of": dates[-1].isoformat(),
            "formed_every_months": training.family_snapshot_months,
        }
    )
