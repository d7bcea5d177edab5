"""Scores, flags, explanations and caseloads: only from a model that passed both gates.

The step loads the model recorded in ``artefacts/models/approved.json`` (written only when the
performance and fairness gates pass) and sits downstream of both blocking gates, so a failed
gate leaves the last good flags in place and served.
"""

import dagster as dg

from models.case_pack import build_caseloads, write_case_packs
from models.flagging import (
    FlagConfig,
    exclusion_counts,
    family_districts,
    score_families,
    select_flags,
)
from models.global_explain import global_explanations
from models.reasons import explain_flags
from pipelines.catalogue import row_count
from pipelines.dpia_metadata import summary_metadata
from pipelines.objections import (
    OBJECTOR_CHECK,
    ObjectorFlaggedError,
    objector_check,
    objector_check_spec,
    reinstate_published_flags,
    withdraw_served_flags,
)
from pipelines.resources import CouncilSettings, RunSettings, Warehouse, declared_reads
from pipelines.run_context import excluded_families, load_approved_model, run_dates

WITHHELD = (
    "Withheld while a blocking gate upstream fails (performance_gate, fairness_gate, "
    "decommission_triggers, the objections register's gates): the last good set stays served."
)
FLAG_INPUTS = [
    "risk_model", "model_evaluation", "fairness_audit", "family_features", "events",
    "families", "workers", "objections", "identity_vault", "areas", "record_links",
    "row_accounting",
    "monitoring_triggers",  # its blocking decommission check stops new flags
]  # fmt: skip


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "family_scores",
            deps=FLAG_INPUTS,
            group_name="flags",
            kinds={"duckdb"},
            description="Calibrated probability, rank and band for every eligible family at the "
            f"as-of date. {WITHHELD}",
        ),
        dg.AssetSpec(
            "flags",
            deps=["family_scores", "workers"],
            group_name="flags",
            kinds={"duckdb"},
            description="Families above the operating threshold, routed by district, capped by "
            f"capacity. {WITHHELD}",
        ),
        dg.AssetSpec(
            "flag_explanations",
            deps=["flags", "risk_model", "family_features", "events"],
            group_name="flags",
            kinds={"duckdb"},
            description="Plain-English SHAP reasons with the agency records behind each.",
        ),
        dg.AssetSpec(
            "global_explanations",
            deps=["risk_model", "family_features"],
            group_name="flags",
            kinds={"html", "png"},
            description="Mean |SHAP| per feature and summary plot, for reviewers.",
        ),
        dg.AssetSpec(
            "caseloads",
            deps=["flags", "flag_explanations", "workers"],
            group_name="flags",
            kinds={"duckdb", "html"},
            description="Each practitioner's flagged families and printable case pack.",
        ),
    ],
    check_specs=[objector_check_spec()],
    name="score_and_flag",
)
def score_and_flag(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: RunSettings,
    council: CouncilSettings,
):
    warehouse = declared_reads(context, warehouse)
    model, version = load_approved_model(warehouse)
    as_of = run_dates(warehouse, settings).as_of
    features = warehouse.read_table("family_features")
    events = warehouse.read_table("events")
    families = warehouse.read_table("families")
    workers = warehouse.read_table("workers")
    excluded = excluded_families(warehouse, events, families, as_of)
    config = FlagConfig(threshold_probability=council.config().flagging.threshold)

    scores = score_families(
        model, features, model_version=version, as_of=as_of,
        postcode_districts=family_districts(events, families, as_of), config=config, excluded_family_keys=excluded,
    )  # fmt: skip
    selection = select_flags(
        scores, workers, config=config, excluded_family_keys=excluded,
        pseudonymiser=warehouse.pseudonymiser(),
    )  # fmt: skip
    # Checked before anything is written: an objector's family must never be served.
    objectors = objector_check(warehouse, families, scores, selection.flags)
    if not objectors.passed:
        yield objectors
        withdraw_served_flags(warehouse, gate=OBJECTOR_CHECK, reason=objectors.description or "")
        raise ObjectorFlaggedError(f"{objectors.description}: nothing was scored or flagged")

    # Scores, flags, explanations, caseloads and both artefact folders are published together:
    # until the commit the last good set stays in place and served (pipelines/storage.py).
    with warehouse.stage("score_and_flag") as stage:
        stage.write_table("family_scores", scores)
        stage.write_table("flags", selection.flags)
        explanations = explain_flags(
            model, features, selection.flags, events, families, as_of=as_of
        )
        stage.write_table("flag_explanations", explanations)
        overview = global_explanations(
            model, features, stage.artefact_dir("global_explanations"), model_version=version
        )
        caseloads = build_caseloads(selection.flags, explanations, workers)
        stage.write_table("caseloads", caseloads)
        packs = write_case_packs(
            caseloads, selection.flags, explanations, workers, stage.artefact_dir("case_packs"),
            model_version=version, as_of=as_of,
        )  # fmt: skip

    yield dg.MaterializeResult(
        asset_key="family_scores",
        metadata={**row_count(len(scores)), "model_version": version, "as_of": as_of.isoformat(),
                  **{f"excluded_{k}": v for k, v in exclusion_counts(features["family_key"], excluded).items()}},
    )  # fmt: skip
    yield dg.MaterializeResult(
        asset_key="flags",
        metadata={**row_count(len(selection.flags)), **summary_metadata(selection.summary())},
    )
    yield dg.MaterializeResult(
        asset_key="flag_explanations",
        metadata={**row_count(len(explanations)), "scale": "calibrated probability points"},
    )
    html = warehouse.artefact_dir("global_explanations") / overview.html.name
    yield dg.MaterializeResult(
        asset_key="global_explanations",
        metadata={"html": dg.MetadataValue.path(str(html)), **summary_metadata(overview.summary())},
    )
    yield dg.MaterializeResult(
        asset_key="caseloads",
        metadata={**row_count(len(caseloads)), "workers_with_flags": int(caseloads["worker_id"].nunique()),
                  "case_packs": len(packs)},
    )  # fmt: skip
    # Withdrawn flags published again by this run (which passed every gate) are served again,
    # only now that their explanations and caseloads are written too.
    reinstate_published_flags(warehouse, selection.flags["flag_id"])
    yield objectors
