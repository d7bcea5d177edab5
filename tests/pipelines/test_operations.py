"""Unattended operation: the new-drop sensor and the schedules, evaluated as Dagster would."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from safeguard.ingest.contract import load_contract
from safeguard.pipelines.operations import (
    SETTLE_SECONDS,
    monthly_scoring_schedule,
    new_drop_sensor,
    pipeline_job,
    retention_purge_schedule,
)
from safeguard.pipelines.resources import RunSettings


def _write_drop(
    landing: Path, name: str, *, missing: tuple[str, ...] = (), age_s: float = 3600
) -> Path:
    drop = landing / name
    drop.mkdir(parents=True)
    for spec in load_contract().files.values():
        if spec.file in missing:
            continue
        path = drop / spec.file
        path.write_text(",".join(spec.columns) + "\n")
        then = time.time() - age_s
        os.utime(path, (then, then))
    return drop


def _evaluate(landing: Path, cursor: str | None = None):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"settings": RunSettings(landing_dir=str(landing))}
    )
    return new_drop_sensor(context), context


def test_sensor_starts_a_run_for_a_new_complete_drop(tmp_path: Path) -> None:
    _write_drop(tmp_path, "2026-10-01")
    result, context = _evaluate(tmp_path)
    assert isinstance(result, dg.RunRequest)
    assert result.run_key == "drop-2026-10-01"
    assert context.cursor == "2026-10-01"


def test_sensor_skips_a_drop_it_has_already_processed(tmp_path: Path) -> None:
    _write_drop(tmp_path, "2026-10-01")
    result, _ = _evaluate(tmp_path, cursor="2026-10-01")
    assert isinstance(result, dg.SkipReason)


def test_sensor_ignores_an_incomplete_drop_and_says_why(tmp_path: Path) -> None:
    _write_drop(tmp_path, "2026-10-01")
    _write_drop(tmp_path, "2026-11-01", missing=("police.csv",))
    result, _ = _evaluate(tmp_path, cursor="2026-10-01")
    assert isinstance(result, dg.SkipReason)
    assert "police.csv is missing" in result.skip_message


def test_sensor_waits_for_a_drop_that_is_still_being_copied(tmp_path: Path) -> None:
    _write_drop(tmp_path, "2026-11-01", age_s=SETTLE_SECONDS / 4)
    result, context = _evaluate(tmp_path)
    assert isinstance(result, dg.SkipReason)
    assert "still landing" in result.skip_message
    assert context.cursor is None


def test_sensor_picks_the_newest_complete_drop_after_the_cursor(tmp_path: Path) -> None:
    _write_drop(tmp_path, "2026-09-01")
    _write_drop(tmp_path, "2026-10-01")
    _write_drop(tmp_path, "2026-11-01", missing=("workers.csv",))
    result, context = _evaluate(tmp_path, cursor="2026-09-01")
    assert isinstance(result, dg.RunRequest)
    assert result.run_key == "drop-2026-10-01"
    assert context.cursor == "2026-10-01"


def test_sensor_targets_the_pipeline_job() -> None:
    assert new_drop_sensor.job_name == pipeline_job.name


def next_tick(cron: str, after: datetime, timezone: str) -> datetime:
    """The first minute after ``after`` matching a five-field cron of numbers and ``*``, in
    ``timezone`` (public APIs only; enough for our schedules, searched minute by minute)."""
    fields = cron.split()
    assert len(fields) == 5 and all(f == "*" or f.isdigit() for f in fields), cron
    zone = ZoneInfo(timezone)
    moment = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(60 * 24 * 62):
        local = moment.astimezone(zone)
        values = (local.minute, local.hour, local.day, local.month, local.isoweekday() % 7)
        if all(f == "*" or int(f) == v for f, v in zip(fields, values, strict=True)):
            return local
        moment += timedelta(minutes=1)
    raise AssertionError(f"{cron} does not fire within two months of {after}")


def test_next_tick_reads_cron_fields() -> None:
    london = ZoneInfo("Europe/London")
    assert next_tick("0 6 3 * *", datetime(2026, 12, 3, 6, 0, tzinfo=london), "Europe/London") == (
        datetime(2027, 1, 3, 6, 0, tzinfo=london)
    )
    sunday = next_tick("0 2 * * 0", datetime(2026, 11, 21, tzinfo=london), "Europe/London")
    assert sunday.isoweekday() == 7 and sunday.hour == 2


@pytest.mark.parametrize(
    ("schedule", "when", "fires_at"),
    [
        (
            monthly_scoring_schedule,
            datetime(2026, 12, 1, tzinfo=ZoneInfo("Europe/London")),
            datetime(2026, 12, 3, 6, 0),
        ),
        (
            retention_purge_schedule,
            datetime(2026, 11, 21, tzinfo=ZoneInfo("Europe/London")),
            datetime(2026, 11, 22, 2, 0),
        ),
    ],
)
def test_schedules_fire_when_a_data_team_expects(
    schedule, when: datetime, fires_at: datetime
) -> None:
    first = next_tick(str(schedule.cron_schedule), when, schedule.execution_timezone)
    assert first.replace(tzinfo=None) == fires_at
    context = dg.build_schedule_context(scheduled_execution_time=first)
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert len(requests) == 1
    assert str(schedule.cron_schedule).split()[0:2] == [str(fires_at.minute), str(fires_at.hour)]
