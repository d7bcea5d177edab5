"""Unattended operation: the monthly scoring schedule and the new-drop sensor.

Agencies deliver early in the month; the schedule scores on the 3rd at 06:00 London time, and
the sensor starts a run as soon as a new *complete and settled* drop lands (the contract has no
completion marker, so a drop whose files changed in the last minutes may still be copying).
"""

import time
from datetime import date
from pathlib import Path

import dagster as dg

from safeguard.governance import PurgeReport, purge_expired
from safeguard.ingest.drops import scan_drops
from safeguard.pipelines.dpia_metadata import register
from safeguard.pipelines.layout import GOVERNANCE_GROUP, HISTORY_GROUP
from safeguard.pipelines.resources import RunSettings, Warehouse

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


def run_retention_purge(
    data_dir: Path, *, today: date, actor: str, landing: Path | None = None
) -> PurgeReport:
    """Apply the register's retention periods (shared by the CLI and the scheduled job).

    An interrupted write is finished or discarded first, so nothing staged escapes the purge.
    """
    Warehouse(data_dir=str(data_dir)).recover()
    return purge_expired(Path(data_dir), register(), today=today, actor=actor, landing=landing)


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
