"""Scores, flags, explanations and caseloads: only from a model that passed both gates.

The step loads the model recorded in ``artefacts/models/approved.json`` (written only when the
performance and fairness gates pass) and sits downstream of both blocking gates, so a failed
gate leaves the last good flags in place and served.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from safeguard.flags.flagging import exclusion_counts
from safeguard.pipelines.catalogue import row_count
from safeguard.pipelines.dpia_metadata import dpia_check_spec, summary_metadata
from safeguard.pipelines.objections import (
    OBJECTOR_CHECK,
    ObjectorFlaggedError,
    objector_check,
    reinstate_published_flags,
    withdraw_served_flags,
)
from safeguard.pipelines.resources import CouncilSettings, RunSettings, Warehouse, declared_reads
from safeguard.pipelines.run_context import excluded_families, load_approved_model, run_dates
from safeguard.pipelines.serving import Published, Scoring, publish, score_and_select

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


def objector_check_spec() -> dg.AssetCheckSpec:
    return dpia_check_spec(
        OBJECTOR_CHECK,
        "flags",
        "Blocking: no family with a member matched to the objections register (through the "
        "linkage, every family spell), or possibly named by an objection pending verification, "
        "is scored or flagged; checked before anything is written.",
    )


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
    scored = score_and_select(
        warehouse, model, version, as_of, council.config().flagging.threshold,
        exclusions=lambda events, families: excluded_families(warehouse, events, families, as_of),
    )  # fmt: skip
    flags = scored.selection.flags
    # Checked before anything is written: an objector's family must never be served.
    objectors = objector_check(warehouse, scored.families, scored.scores, flags)
    if not objectors.passed:
        yield objectors
        withdraw_served_flags(warehouse, gate=OBJECTOR_CHECK, reason=objectors.description or "")
        raise ObjectorFlaggedError(f"{objectors.description}: nothing was scored or flagged")
    out = publish(warehouse, scored)
    yield from _flag_results(scored, out, version, as_of)
    # Withdrawn flags published again by this run (which passed every gate) are served again,
    # only now that their explanations and caseloads are written too.
    reinstate_published_flags(warehouse, flags["flag_id"])
    yield objectors


def _flag_results(
    scored: Scoring, out: Published, version: str, as_of: date
) -> Iterator[dg.MaterializeResult]:
    """What the flags step reports on scores, flags, explanations and caseloads."""
    flags = scored.selection.flags
    excluded = exclusion_counts(scored.features["family_key"], scored.excluded)
    yield dg.MaterializeResult(
        asset_key="family_scores",
        metadata={**row_count(len(scored.scores)), "model_version": version,
                  "as_of": as_of.isoformat(), **{f"excluded_{k}": v for k, v in excluded.items()}},
    )  # fmt: skip
    yield dg.MaterializeResult(
        asset_key="flags",
        metadata={**row_count(len(flags)), **summary_metadata(scored.selection.summary())},
    )
    yield dg.MaterializeResult(
        asset_key="flag_explanations",
        metadata={**row_count(len(out.explanations)), "scale": "calibrated probability points"},
    )
    yield dg.MaterializeResult(
        asset_key="global_explanations",
        metadata={"html": dg.MetadataValue.path(str(out.overview_html)),
                  **summary_metadata(out.overview.summary())},
    )  # fmt: skip
    yield dg.MaterializeResult(
        asset_key="caseloads",
        metadata={**row_count(len(out.caseloads)), "case_packs": len(out.packs),
                  "workers_with_flags": int(out.caseloads["worker_id"].nunique())},
    )  # fmt: skip
