"""Monitoring after go-live: the past runs against what happened, and the decommission check.

Reads the approved model's past scores (``family_scores_history``), rebuilds what happened
after each from the warehouse, and writes aggregate tables, charts and the monitoring page.
The blocking check ``decommission_triggers`` sits upstream of scoring: when a council rule
fires, no new flags are produced until a named decision to resume is in the configuration.
"""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd

from safeguard import monitoring
from safeguard.contracts.council import CouncilConfig
from safeguard.contracts.layout import ARTEFACTS_DIR, DataDir
from safeguard.features.point_in_time import members_at
from safeguard.governance.document import Document, render_html, render_markdown
from safeguard.governance.monitoring_page import ChartFile, build_monitoring_page, build_status_page
from safeguard.monitoring import charts as chart
from safeguard.monitoring.inputs import build_inputs, monitored_scores
from safeguard.monitoring.overrides import attach_flags, override_analytics
from safeguard.monitoring.triggers import empty_report, with_earlier_firings
from safeguard.pipelines import council as council_settings
from safeguard.pipelines.catalogue import row_count
from safeguard.pipelines.dpia_metadata import dpia_check_spec, summary_metadata
from safeguard.pipelines.layout import MONITORING_GROUP
from safeguard.pipelines.readers import optional_table as _optional
from safeguard.pipelines.release import total_capacity, truth_frame
from safeguard.pipelines.resources import CouncilSettings, RunSettings, Warehouse, declared_reads
from safeguard.pipelines.run_context import approved_model, run_dates
from safeguard.portal.records import read_portal_table

DECOMMISSION_CHECK = "decommission_triggers"
TABLES = ("monitoring_performance", "monitoring_fairness", "monitoring_drift",
          "monitoring_overrides", "monitoring_triggers")  # fmt: skip
INPUTS = ["family_scores_history", "events", "families", "people", "protected_characteristics",
          "areas", "training_frame", "risk_model", "workers", "identity_vault", "row_accounting"]  # fmt: skip


def _spec(name: str, description: str, deps: list[str], kinds: set[str]) -> dg.AssetSpec:
    return dg.AssetSpec(name, deps=deps, group_name=MONITORING_GROUP, kinds=kinds,
                        description=description)  # fmt: skip


@dg.multi_asset(
    specs=[
        _spec("monitoring_performance", "Realised precision, recall and calibration of each past "
              "run against the model card's promise, and the estimate before outcomes (CBPE).", INPUTS, {"duckdb"}),
        _spec("monitoring_fairness", "Realised recall and observed/expected ratios per group over "
              "windows of complete months, with the gate's verdicts.", INPUTS, {"duckdb"}),
        _spec("monitoring_drift", "Feature and score PSI, recording volume and missing sources per "
              "agency against the training window.", INPUTS, {"duckdb"}),
        _spec("monitoring_overrides", "Practitioners' judgements by month, band and group, and the "
              "realised outcomes of the flags they judged.", INPUTS, {"duckdb"}),
        _spec("monitoring_triggers", "The council's decommission rules at every month; a firing "
              "without a recorded decision stops new flags.",
              ["monitoring_performance", "monitoring_fairness", "monitoring_drift"], {"duckdb"}),
        _spec("monitoring_report", "The monitoring page (HTML and Markdown) with static charts.",
              ["monitoring_triggers", "monitoring_overrides"], {"html", "png"}),
    ],
    check_specs=[
        dpia_check_spec(
            DECOMMISSION_CHECK,
            "monitoring_triggers",
            "Blocking: no decommission rule of the council configuration (realised precision below "
            "the promise, a group's realised recall ratio outside the band, severe drift, estimated "
            "precision below the promise) has fired without a recorded decision to resume.",
        )
    ],
    name="monitor_model",
)  # fmt: skip
def monitor_model(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: RunSettings,
    council: CouncilSettings,
):
    warehouse = declared_reads(context, warehouse)
    config = council.config()
    rules = council_settings.monitoring_settings(config)
    earlier = _optional(warehouse, "monitoring_triggers")  # its firings stay open until resumed
    approved = approved_model(warehouse)
    history = (
        warehouse.read_table("family_scores_history")
        if warehouse.table_exists("family_scores_history")
        else None
    )
    if approved is None or history is None or history.empty:
        yield from _nothing_to_judge(warehouse, rules, earlier, approved is None)
        return
    model, record = approved
    scores, notes = monitored_scores(history, record.version, rules.months)
    if scores.empty:
        notes.append("no month has been scored by the approved model yet")
        yield from _nothing_to_judge(warehouse, rules, earlier, False, notes)
        return
    result, overrides = _judge(
        warehouse, settings, config, rules, earlier, (model, record), scores, history, notes
    )
    yield from _publish_monitoring(warehouse, config, result, overrides, record.version, notes)


def _judge(
    warehouse: Warehouse,
    settings: RunSettings,
    config: CouncilConfig,
    rules: monitoring.MonitoringSettings,
    earlier: pd.DataFrame | None,
    approved: tuple,
    scores: pd.DataFrame,
    history: pd.DataFrame,
    notes: list[str],
) -> tuple[monitoring.MonitoringResult, pd.DataFrame]:
    """Realised and estimated performance, fairness, drift and the decommission rules for the
    approved model's monitored months, and the practitioners' judgements (override analytics)."""
    model, record = approved
    promise_raw = record.metrics.get("promise")
    promise = monitoring.Promise.from_dict(promise_raw) if promise_raw else None
    if promise is None:
        notes.append("this model's record holds no promise (it was trained before monitoring "
                     "existed): realised figures are shown without one")  # fmt: skip
    events, families, people = (warehouse.read_table(t) for t in ("events", "families", "people"))
    horizon = run_dates(warehouse, settings).as_of  # what the events table has reached
    months = sorted(pd.to_datetime(scores["as_of_date"]).dt.date.unique())
    inputs = build_inputs(
        scores, events=events, families=families, people=people,
        observations=_optional(warehouse, "protected_characteristics"),
        areas=_optional(warehouse, "areas"), training_frame=_optional(warehouse, "training_frame"),
        model=model, training_window=record.training_window, promise=promise,
        capacity=total_capacity(warehouse, config), threshold=config.flagging.threshold,
        extract_date=horizon,
        harm=_harm(warehouse, settings.truth_dir, families, months),
    )  # fmt: skip
    result = monitoring.monitor(
        inputs, rules, council_settings.fairness_gate(config), earlier_triggers=earlier
    )
    overrides = _overrides(warehouse, events, families, people, history, horizon)
    return result, overrides


def _publish_monitoring(
    warehouse: Warehouse,
    config: CouncilConfig,
    result: monitoring.MonitoringResult,
    overrides: pd.DataFrame,
    version: str,
    notes: list[str],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Write the monitoring tables and page, report them, and judge the decommission triggers."""
    for name, table in zip(TABLES, (result.performance, result.fairness, result.drift, overrides,
                                    result.triggers.table), strict=True):  # fmt: skip
        warehouse.write_table(name, table)
    metadata = summary_metadata(result.summary())
    for name, table in zip(TABLES[:4], (result.performance, result.fairness, result.drift, overrides),
                           strict=True):  # fmt: skip
        yield dg.MaterializeResult(asset_key=name, metadata={**row_count(len(table))})
    report = result.triggers
    yield dg.MaterializeResult(
        asset_key="monitoring_triggers",
        metadata={**row_count(len(report.table)), "status": report.reasons()[0][:500], **metadata},
    )
    page = _write_report(warehouse, config, result, overrides, version, notes)
    yield dg.MaterializeResult(asset_key="monitoring_report",
                               metadata={"html": dg.MetadataValue.path(str(page))})  # fmt: skip
    yield _check(warehouse, report)


def _check(warehouse: Warehouse, report: monitoring.TriggerReport) -> dg.AssetCheckResult:
    reasons = report.reasons()
    if report.blocked:
        # the data team is told through the failed check, the run's failure and the audit trail
        warehouse.audit_log().append(
            "system", "decommission_trigger_fired",
            rules=sorted({f.trigger for f in report.open_firings}),
            first_month=report.summary()["first_open_firing"], firings=len(report.open_firings),
        )  # fmt: skip
    return dg.AssetCheckResult(
        asset_key="monitoring_triggers", check_name=DECOMMISSION_CHECK, passed=not report.blocked,
        description=reasons[0][:1000],
        metadata={"reasons": "; ".join(reasons)[:4000],
                  **({"failure": "; ".join(reasons[:4])[:2000]} if report.blocked else {})},
    )  # fmt: skip


def _nothing_to_judge(
    warehouse: Warehouse,
    rules: monitoring.MonitoringSettings,
    earlier: pd.DataFrame | None,
    no_model: bool,
    notes: list[str] | None = None,
):
    """No evidence this run: with no approved model nothing is flagged anyway, and with no
    month scored by it there is nothing to judge. Firings recorded by earlier runs still block
    until a decision resumes flagging (a new model does not lift a decommission)."""
    reason = (
        "No approved model: nothing is flagged, so there is nothing to monitor."
        if no_model
        else "No month scored by the approved model to judge yet: run the history backfill "
        "(safeguard monitor) so monitoring has past runs to compare."
    )
    report = with_earlier_firings(empty_report(rules), earlier, rules)
    for name in TABLES[:4]:
        if not warehouse.table_exists(name):
            empty = pd.DataFrame({"as_of_date": pd.Series(dtype="datetime64[ns]")})
            warehouse.write_table(name, empty)
        yield dg.MaterializeResult(asset_key=name, metadata={**row_count(0), "status": reason})
    warehouse.write_table("monitoring_triggers", report.table)
    yield dg.MaterializeResult(
        asset_key="monitoring_triggers", metadata={**row_count(len(report.table)), "status": reason}
    )
    status = report.reasons() if report.blocked else [reason, *(notes or [])]
    page = _write_page(warehouse, build_status_page(status=status, blocked=report.blocked,
                                                    meta=(("Months monitored", "0"),)))  # fmt: skip
    yield dg.MaterializeResult(asset_key="monitoring_report",
                               metadata={"status": reason, "html": dg.MetadataValue.path(str(page))})  # fmt: skip
    if report.blocked:
        yield _check(warehouse, report)
        return
    yield dg.AssetCheckResult(
        asset_key="monitoring_triggers", check_name=DECOMMISSION_CHECK, passed=True,
        description=reason, metadata={"reasons": "; ".join([reason, *(notes or [])])},
    )  # fmt: skip


def _harm(
    warehouse: Warehouse, truth_dir: str | None, families: pd.DataFrame, months
) -> pd.DataFrame | None:
    """True harm after each month (synthetic estates with ground truth only)."""
    if not truth_dir or not (Path(truth_dir) / "harm.csv").exists():
        return None
    truth = truth_frame(warehouse, truth_dir, members_at(families, months))
    if truth is None or "true_harm" not in truth.columns:
        return None
    return truth[["as_of_date", "family_key", "true_harm"]]


def _overrides(warehouse: Warehouse, events, families, people, history, horizon) -> pd.DataFrame:
    """Practitioners' judgements from the portal database, with the outcomes of their flags."""
    from safeguard.features.outcomes import outcome_labels
    from safeguard.features.protected import build_sensitive_features_many

    judgements = read_portal_table(Path(warehouse.data_dir), "judgements",
                                   sql="SELECT flag_id, family_key, decision, decided_at FROM judgements")  # fmt: skip
    if judgements is None or judgements.empty:
        return override_analytics(pd.DataFrame(columns=["flag_id", "family_key", "decision", "decided_at"]),
                                  None, history, pd.DataFrame(columns=["as_of_date", "family_key", "label", "label_complete"]))  # fmt: skip
    # The flags judged were served by earlier runs: they cannot be an upstream asset of
    # monitoring (whose decommission check gates new flags), so they are read as served.
    flags = _optional(getattr(warehouse, "unchecked", warehouse), "flags")
    judged = attach_flags(judgements, flags, history)
    dates = sorted({pd.Timestamp(d).date() for d in judged["as_of_date"].dropna()})
    if not dates:
        outcomes = pd.DataFrame(columns=["as_of_date", "family_key", "label", "label_complete"])
        return override_analytics(judgements, flags, history, outcomes)
    outcomes = outcome_labels(events, families, people, dates, extract_date=horizon)
    sensitive = None
    if warehouse.table_exists("protected_characteristics") and warehouse.table_exists("areas"):
        sensitive = build_sensitive_features_many(
            events, families, people, warehouse.read_table("protected_characteristics"),
            warehouse.read_table("areas"), dates,
        )  # fmt: skip
    return override_analytics(judgements, flags, history, outcomes, sensitive)


def _rule_lines(config: CouncilConfig) -> list[tuple[str, str]]:
    m, band = config.monitoring, config.fairness_gate.band
    rows = []
    if m.realised_precision.enabled:
        rows.append(("realised_precision", f"realised precision at capacity below the promised lower bound "
                     f"(its {m.realised_precision.confidence:.0%} upper bound too) for "
                     f"{m.realised_precision.consecutive_months} complete months in a row"))  # fmt: skip
    if m.estimated_precision.enabled:
        rows.append(("estimated_precision", "estimated precision at capacity (before outcomes) below the "
                     f"promised lower bound for {m.estimated_precision.consecutive_months} months in a row"))  # fmt: skip
    if m.fairness_recall.enabled:
        rows.append(("fairness_recall", f"a group's realised {', '.join(m.fairness_recall.metrics)} established "
                     f"outside {band[0]:g}-{band[1]:g} (Holm, {m.fairness_recall.confidence:.0%}) in "
                     f"{m.fairness_recall.consecutive_windows} consecutive windows of "
                     f"{m.fairness_recall.window_months} complete months"))  # fmt: skip
    if m.severe_drift.enabled:
        d = m.severe_drift
        rows.append(("severe_drift", f"an agency's monthly records outside {d.volume_band[0]:g}-{d.volume_band[1]:g} x "
                     f"the training window's, {d.min_severe_features}+ features or the score with PSI >= "
                     f"{d.psi_severe:g}, for {d.consecutive_months} months in a row"))  # fmt: skip
    return rows


def _write_report(warehouse: Warehouse, config: CouncilConfig, result: monitoring.MonitoringResult,
                  overrides: pd.DataFrame, version: str, notes: list[str]) -> Path:  # fmt: skip
    out = warehouse.artefact_dir("monitoring")
    rules = council_settings.monitoring_settings(config)
    drawn = {
        "precision_at_capacity": chart.performance_chart(result.performance, "precision_at_capacity", out),
        "recall_at_capacity": chart.performance_chart(result.performance, "recall_at_capacity", out),
        "observed_over_expected": chart.performance_chart(result.performance, "observed_over_expected", out),
        "fairness": chart.fairness_chart(result.fairness, out, config.fairness_gate.band),
        "drift": chart.drift_chart(result.drift, out, rules.severe_drift.volume_band, rules.severe_drift.psi_severe),
        "overrides": chart.override_chart(overrides, out),
    }  # fmt: skip
    charts = {k: ChartFile(Path("..", ARTEFACTS_DIR, "monitoring", c.path.name).as_posix(), c.title, c.alt)
              for k, c in drawn.items() if c is not None}  # fmt: skip
    report = result.triggers
    months = report.months
    document = build_monitoring_page(
        status=report.reasons(), blocked=report.blocked,
        meta=(("Council", config.council.name), ("Model version", version),
              ("Months monitored", f"{len(months)} ({months[0]:%Y-%m} to {months[-1]:%Y-%m})" if months else "0")),
        rules=_rule_lines(config), decisions=[d.describe() for d in rules.resume_decisions],
        performance=result.performance, fairness=result.fairness, drift=result.drift,
        overrides=overrides, triggers=report.table, charts=charts, notes=notes,
    )  # fmt: skip
    return _write_page(warehouse, document)


def _write_page(warehouse: Warehouse, document: Document) -> Path:
    reports = DataDir(Path(warehouse.data_dir)).reports
    reports.mkdir(parents=True, exist_ok=True)
    html, md = reports / "monitoring.html", reports / "monitoring.md"
    html.write_text(render_html(document), encoding="utf-8")
    md.write_text(render_markdown(document), encoding="utf-8")
    return html


monitoring_job = dg.define_asset_job(
    "monitoring",
    selection=dg.AssetSelection.groups(MONITORING_GROUP),
    description="Judge the approved model's past runs against what happened; stop flags if a rule fires.",
)
