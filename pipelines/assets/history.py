"""Scores at past as-of months (monthly partitions), for backfill and retrospective review.

A reviewer can ask how the approved model would have ranked families at earlier dates (for
example to compare with what practitioners later found); each month is one partition, built
from events strictly before its first day, with families formed from the records made by then
(never the extract's families applied backwards), and the same exclusions as live scoring.
"""

from datetime import date

import dagster as dg

from safeguard.contracts.tables import RECORDS
from safeguard.features.build import build_family_features
from safeguard.flags.flagging import FlagConfig, family_districts, score_families
from safeguard.linkage import form_families
from safeguard.pipelines.catalogue import row_count
from safeguard.pipelines.layout import HISTORY_GROUP
from safeguard.pipelines.readers import residence_observations
from safeguard.pipelines.resources import CouncilSettings, Warehouse, declared_reads
from safeguard.pipelines.run_context import excluded_families, load_approved_model

as_of_months = dg.MonthlyPartitionsDefinition(start_date="2022-01-01", end_offset=0)


@dg.asset(
    partitions_def=as_of_months,
    deps=[
        "events",
        "record_links",
        "people",
        "risk_model",
        "model_evaluation",
        "fairness_audit",
        "objections",
        "identity_vault",  # people an objection pending verification may name
        *RECORDS,
    ],
    group_name=HISTORY_GROUP,
    kinds={"duckdb"},
)
def family_scores_history(
    context: dg.AssetExecutionContext, warehouse: Warehouse, council: CouncilSettings
) -> dg.MaterializeResult:
    """The approved model's scores at the first day of the partition's month."""
    warehouse = declared_reads(context, warehouse)
    as_of = date.fromisoformat(context.partition_key)
    model, version = load_approved_model(warehouse)
    events = warehouse.read_table("events")
    people = warehouse.read_table("people")
    families = form_families(
        residence_observations(warehouse), people[["person_key", "birth_month"]], as_of,
        keys=warehouse.pseudonymiser().key_function(),
    )  # fmt: skip
    features = build_family_features(events, families, people, as_of)
    scores = score_families(
        model,
        features,
        model_version=version,
        as_of=as_of,
        postcode_districts=family_districts(events, families, as_of),
        config=FlagConfig(threshold_probability=council.config().flagging.threshold),
        excluded_family_keys=excluded_families(warehouse, events, families, as_of),
    )
    rows = warehouse.replace_partition(
        "family_scores_history", scores, column="as_of_date", value=as_of
    )
    return dg.MaterializeResult(
        metadata={**row_count(rows), "as_of": as_of.isoformat(), "model_version": version}
    )


history_job = dg.define_asset_job(
    "score_history",
    selection=dg.AssetSelection.groups(HISTORY_GROUP),
    description="Backfill scores at past as-of months with the approved model.",
)
