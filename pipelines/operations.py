"""Unattended operation: the monthly scoring schedule and the new-drop sensor.

Agencies deliver early in the month; the schedule scores on the 3rd at 06:00 London time, and
the sensor starts a run as soon as a new *complete and settled* drop lands (the contract has no
completion marker, so a drop whose files changed in the last minutes may still be copying).

The data team hears of what needs a person (:mod:`safeguard.alerts`, channels from the settings):
a failed scoring run (its failed gates named), a sensor that raised, and a month whose drop has
not landed by ``SAFEGUARD_ALERT_DROP_DUE_DAY`` (once per month).
"""

import time
from datetime import date
from pathlib import Path

import dagster as dg

from safeguard.alerts import alert_data_team, drop_due_day, late_drop_alert, run_alert, sensor_alert
from safeguard.ingest.drops import scan_drops
from safeguard.pipelines.layout import GOVERNANCE_GROUP, HISTORY_GROUP
from safeguard.pipelines.resources import RunSettings, Warehouse
from safeguard.pipelines.retention import run_retention_purge

pipeline_job = dg.define_asset_job(
    "monthly_scoring",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(GOVERNANCE_GROUP, HISTORY_GROUP),
    description="Ingest the newest complete drop, link, build features, gate the model, flag and explain.",
)

governance_job = dg.define_asset_job(
    "governance_reports",
    selection=dg.AssetSelection.groups(GOVERNANCE_GROUP),
    description="Rebuild the DPIA, Art 30 record, ATRS record, data-flow map and review pack.",
)

monthly_scoring_schedule = dg.ScheduleDefinition(
    name="monthly_scoring_schedule",
    job=pipeline_job,
    cron_schedule="0 6 3 * *",
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Monthly run after agencies' drops are due (3rd of the month, 06:00).",
)

SETTLE_SECONDS = 120


def settled(path: Path, now: float, settle_seconds: float = SETTLE_SECONDS) -> bool:
    """True when no file in the drop folder changed in the last ``settle_seconds``."""
    return all(now - p.stat().st_mtime >= settle_seconds for p in path.iterdir() if p.is_file())


@dg.sensor(
    name="new_drop_sensor",
    job=pipeline_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts a run when a new complete drop has landed; ignores incomplete or still-copying drops.",
)
def new_drop_sensor(context: dg.SensorEvaluationContext, settings: RunSettings):
    try:
        return _new_drop(context, settings)
    except Exception as exc:  # the daemon only logs a sensor error: tell the data team
        alert_data_team(sensor_alert("new_drop_sensor", f"{type(exc).__name__}: {exc}"))
        raise


def _new_drop(context: dg.SensorEvaluationContext, settings: RunSettings):
    landing = Path(settings.landing_dir)
    if not landing.is_dir():
        return dg.SkipReason(f"landing folder {landing} does not exist")
    now = time.time()
    ignored = []
    for status in scan_drops(landing):
        key = status.drop.extract_date.isoformat()
        if context.cursor and key <= context.cursor:
            break  # newest first: everything from here on has been processed
        if not status.complete:
            ignored.append(status.reason)
            continue
        if not settled(status.drop.path, now):
            ignored.append(
                f"drop {key}: files changed in the last {SETTLE_SECONDS} s (still landing)"
            )
            continue
        context.update_cursor(key)
        return dg.RunRequest(run_key=f"drop-{key}", tags={"safeguard/extract_date": key})
    detail = "; ".join(ignored) if ignored else f"newest processed drop: {context.cursor or 'none'}"
    return dg.SkipReason(f"no new complete drop ({detail})")


@dg.run_status_sensor(
    name="governance_after_success",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[pipeline_job],
    request_job=governance_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def governance_after_success(context: dg.RunStatusSensorContext):
    """Reviewers' artefacts follow every run."""
    return dg.RunRequest(run_key=f"governance-{context.dagster_run.run_id}")


@dg.run_failure_sensor(
    name="governance_after_failure",
    monitored_jobs=[pipeline_job],
    request_job=governance_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def governance_after_failure(context: dg.RunFailureSensorContext):
    """A failed gate is shown in the review pack, not hidden by a missing rebuild."""
    return dg.RunRequest(run_key=f"governance-{context.dagster_run.run_id}")


def failed_gates_of_run(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(asset, check) of every blocking check that failed in the run (aggregates only)."""
    failed = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if evaluation is None or evaluation.passed:
            continue
        if evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        failed.append((evaluation.asset_key.to_user_string(), evaluation.check_name))
    return sorted(set(failed))


@dg.run_failure_sensor(
    name="alert_on_failed_run",
    monitored_jobs=[pipeline_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_on_failed_run(context: dg.RunFailureSensorContext) -> None:
    """A scheduled or sensor-launched run that failed (a gate or an error) reaches the data team."""
    run_id = context.dagster_run.run_id
    gates = failed_gates_of_run(context.instance, run_id)
    error = None
    if not gates and context.failure_event.message:
        error = context.failure_event.message.splitlines()[0]
    alert_data_team(run_alert(run_id=run_id, success=False, failed_gates=gates, error=error))


@dg.sensor(
    name="late_drop_sensor",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Alerts the data team, once a month, when no drop has landed by its due day.",
)
def late_drop_sensor(context: dg.SensorEvaluationContext, settings: RunSettings):
    due = drop_due_day()
    if due is None:
        return dg.SkipReason("SAFEGUARD_ALERT_DROP_DUE_DAY is not set: late drops are not alerted")
    today = date.today()
    if context.cursor == f"{today:%Y-%m}":
        return dg.SkipReason(f"already alerted for {today:%Y-%m}")
    alert = late_drop_alert(Path(settings.landing_dir), today, due)
    if alert is None:
        return dg.SkipReason(f"the {today:%Y-%m} drop is not late (due by day {due})")
    alert_data_team(alert)
    context.update_cursor(f"{today:%Y-%m}")
    return dg.SkipReason(f"alerted: {alert.subject}")


@dg.op(
    description="Delete expired source rows and everything derived from them; counts go to the audit trail."
)
def retention_purge_op(
    context: dg.OpExecutionContext, warehouse: Warehouse, settings: RunSettings
) -> None:
    report = run_retention_purge(
        Path(warehouse.data_dir),
        today=date.today(),
        actor="retention_schedule",
        landing=Path(settings.landing_dir),
    )
    context.log.info(
        f"retention purge: {sum(report.deleted.values()):,} rows and {len(report.files_removed)} files removed"
    )


@dg.job(name="retention_purge", description="Enforce the DPIA register's retention periods.")
def retention_purge_job() -> None:
    retention_purge_op()


retention_purge_schedule = dg.ScheduleDefinition(
    name="retention_purge_schedule",
    job=retention_purge_job,
    cron_schedule="0 2 * * 0",
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly, Sunday 02:00: records past their retention period are deleted.",
)
