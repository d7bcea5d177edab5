"""Linkage assets: records -> people (Splink) -> families, behind the identity vault.

Identifiers are read from the vault and the person keys written back to it; the warehouse
only ever receives pseudonymous keys and aggregate quality figures.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import pandas as pd

from safeguard import linkage
from safeguard.contracts.tables import OBJECTIONS_SOURCE, RECORDS, date_column
from safeguard.features.outcomes import monthly_as_of_dates
from safeguard.features.protected import CHARACTERISTIC_SOURCES, characteristic_observations
from safeguard.linkage import form_families, form_families_at
from safeguard.pipelines.catalogue import row_count
from safeguard.pipelines.dpia_metadata import dpia_check_spec
from safeguard.pipelines.linking import (
    PLAUSIBILITY_TOLERANCE,
    Linked,
    implausible_clusters,
    link_and_publish,
)
from safeguard.pipelines.readers import residence_observations
from safeguard.pipelines.resources import CouncilSettings, RunSettings, Warehouse, declared_reads
from safeguard.pipelines.run_context import run_dates

PLAUSIBILITY_CHECK = "plausible_clusters"
COVERAGE_CHECK = "blocking_coverage"


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
            # runs on a register that could not be trusted. The records' dates and
            # row_accounting's extract date decide which records are linked at the as-of date.
            deps=[*RECORDS, "objections", "row_accounting"],
            group_name="linkage",
            kinds={"duckdb", "splink"},
            description="Restricted store: identifiers of every record with its person_key "
            "(none for a record dated after the as-of date: not linked).",
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
            # row_accounting: clusters are judged at the as-of date (ages of children)
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
    dates = run_dates(warehouse, settings)  # records dated after the as-of date are not linked
    linked = link_and_publish(
        warehouse, settings.truth_dir, as_of=dates.as_of, extract=dates.extract_date
    )
    yield from _link_results(linked, dates.as_of)
    yield coverage_check(linked.result)
    yield _plausibility_check(linked, dates.as_of)


def _link_results(linked: Linked, as_of: date) -> Iterator[dg.MaterializeResult]:
    """What the linkage step reports on the vault, the record links and the linkage quality."""
    result, links, record_links = linked.result, linked.result.links, linked.record_links
    yield dg.MaterializeResult(
        asset_key="identity_vault",
        metadata={
            "records": len(linked.vault),
            "people": int(links["person_key"].nunique()),
            "linkage_as_of": as_of.isoformat(),
            "records_after_as_of": int((~linked.vault["linked"]).sum()),
        },
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
        asset_key="linkage_quality", metadata={k: float(v) for k, v in linked.quality.items()}
    )


def _plausibility_check(linked: Linked, as_of: date) -> dg.AssetCheckResult:
    """The blocking cluster-plausibility check, judged at the as-of date."""
    findings, failing = implausible_clusters(linked, as_of=as_of)
    return dg.AssetCheckResult(
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
            "threshold_justification": linked.result.threshold_justification,
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
    table = characteristic_observations(records, record_links)
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
