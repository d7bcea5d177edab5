"""Governance artefacts for reviewers, rebuilt after every run from the register and its facts.

They run as their own job after the pipeline, whatever its outcome, so a failed gate is shown
in the review pack instead of hiding it. Gate outcomes are read from the Dagster instance
(the latest evaluation of every check), aggregates from the warehouse.
"""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from safeguard.governance import (
    FairnessFacts,
    GateResult,
    ModelFacts,
    build_governance_reports,
    collect_run_facts,
)
from safeguard.pipelines import council as council_settings
from safeguard.pipelines.dpia_metadata import governance_profile, register
from safeguard.pipelines.layout import GOVERNANCE_GROUP
from safeguard.pipelines.lineage import LocationGraph
from safeguard.pipelines.resources import CouncilSettings, RunSettings, Warehouse, declared_reads
from safeguard.pipelines.run_context import AsOfError, run_dates

REPORTS = {
    "dpia_report": "The DPIA report, generated from the register and this run's facts.",
    "record_of_processing": "The UK GDPR Art 30 record of processing activities.",
    "transparency_record": "The Algorithmic Transparency Recording Standard (ATRS) record.",
    "data_flow_map": "Which asset carries which data categories, drawn from the declared deps.",
    "review_pack": "The reviewers' index: gates, figures, the as-of date and every report.",
}
REPORT_SOURCES = [
    "row_accounting", "firewall_log", "quarantine", "linkage_quality", "model_evaluation",
    "fairness_audit", "model_card", "data_docs",
]  # fmt: skip


def latest_gates(
    instance: dg.DagsterInstance, check_keys: list[dg.AssetCheckKey]
) -> list[GateResult]:
    """The most recent outcome of every check; one never evaluated is reported as such."""
    gates = []
    for key in sorted(check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        name = f"{key.asset_key.path[-1]}/{key.name}"
        record = instance.get_latest_asset_check_evaluation_record(key)
        evaluation = None
        if (
            record is not None
            and record.event is not None
            and record.event.dagster_event is not None
        ):
            evaluation = record.event.dagster_event.event_specific_data
        if evaluation is None or not hasattr(evaluation, "passed"):
            status = record.status.value if record is not None else "never run"
            gates.append(GateResult(name, False, f"not evaluated ({status.lower()})"))
            continue
        meta = evaluation.metadata
        message = meta.get("failure") or meta.get("reasons") or meta.get("failures")
        text = getattr(message, "value", None) or evaluation.description or ""
        gates.append(GateResult(name, bool(evaluation.passed), str(text)[:1000]))
    return gates


def _fairness_lists(warehouse: Warehouse) -> dict:
    """Verdict counts and the inconclusive / not assessable groups, from the audit table."""
    if not warehouse.table_exists("fairness_audit"):
        return {}
    table = warehouse.read_table("fairness_audit")
    if "verdict" not in table.columns:
        return {}

    def line(r: pd.Series) -> str:
        return f"{r['dimension']} = {r['group']} ({r['metric']}): {r['note']}".rstrip(": ")

    open_ = table.loc[table["verdict"].str.startswith("inconclusive")]
    return {
        "verdicts": {str(k): int(v) for k, v in table["verdict"].value_counts().items()},
        "inconclusive": tuple(line(r) for _, r in open_.iterrows()),
        "not_assessable": tuple(
            line(r) for _, r in table.loc[table["verdict"] == "not assessable"].iterrows()
        ),
    }


def _model_facts(
    warehouse: Warehouse, gates: list[GateResult], sign_offs: tuple[str, ...] = ()
) -> tuple[ModelFacts | None, FairnessFacts | None]:
    if not warehouse.table_exists("model_evaluation"):
        return None, None
    metrics = warehouse.read_table("model_evaluation")
    records = sorted(warehouse.artefact_dir("models").glob("risk_model-*.json"))
    version = json.loads(records[-1].read_text())["version"] if records else "unknown"
    perf = next((g for g in gates if g.name.endswith("performance_gate")), None)
    fair = next((g for g in gates if g.name.endswith("fairness_gate")), None)
    model = ModelFacts(
        version=version,
        metrics={r.metric: float(r.value) for r in metrics.itertuples() if pd.notna(r.value)},
        gate_passed=perf.passed if perf else None,
        gate_message=perf.message if perf else "",
    )
    fairness = FairnessFacts(
        gate_passed=fair.passed if fair else None,
        gate_message=fair.message if fair else "",
        sign_offs=sign_offs,
        **_fairness_lists(warehouse),
    )
    return model, fairness


def _as_of(warehouse: Warehouse, settings: RunSettings) -> date | None:
    """The date the run stood at, for the review pack (None before any drop, or when refused)."""
    if not warehouse.table_exists("row_accounting"):
        return None
    try:
        return run_dates(warehouse, settings).as_of
    except AsOfError:
        return None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=REPORT_SOURCES,
            group_name=GOVERNANCE_GROUP,
            kinds={"html", "markdown"},
            description=description,
        )
        for name, description in REPORTS.items()
    ],
    name="build_governance_reports",
)
def governance_reports(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: RunSettings,
    council: CouncilSettings,
    graph: LocationGraph,
):
    """DPIA, Art 30 record, ATRS record, data-flow map and the review pack index."""
    warehouse = declared_reads(context, warehouse)
    check_keys = graph.check_keys()  # every check of the code location this asset belongs to
    as_of = _as_of(warehouse, settings)
    gates = latest_gates(context.instance, check_keys)
    model, fairness = _model_facts(
        warehouse, gates, tuple(council_settings.sign_off_lines(council.config()))
    )
    facts = collect_run_facts(
        Path(warehouse.data_dir),
        run_id=context.run.run_id,
        gates=gates,
        model=model,
        fairness=fairness,
        as_of_date=as_of,
    )
    lineage = graph.lineage()
    files = build_governance_reports(
        register(), facts, lineage, Path(warehouse.data_dir), profile=governance_profile()
    )
    for name in REPORTS:
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "html": dg.MetadataValue.path(str(files[name].html)),
                "gates_failed": sum(not g.passed for g in gates),
            },
        )
