"""The production services end to end: dagster-daemon on PostgreSQL runs the new-drop sensor.

Needs a PostgreSQL server (``TEST_POSTGRES_URL``; CI's ``.ci/run`` starts Debian's and sets it,
with ``TEST_POSTGRES_REQUIRED=1`` so the test cannot skip there). It starts ``dagster-daemon``
with ``deploy/dagster/dagster.yaml`` and ``workspace.yaml`` against a fresh database, turns the
sensor on as an operator would (``dagster sensor start``), drops a complete small extract into
the landing folder and waits for the sensor to launch a run and the run to finish. One small
estate, one run: about a minute on an idle machine (two to four minutes on a loaded one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from safeguard.synth import EstateConfig, generate_estate

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
PEOPLE = 1_200
FINISH_WITHIN_S = 300  # a limit, not a timing: the run takes about a minute

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def dagster_database() -> Iterator[sa.URL]:
    """A database of its own on the test server (sensor cursors and runs start empty)."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("TEST_POSTGRES_REQUIRED"):
            pytest.fail("TEST_POSTGRES_REQUIRED is set but TEST_POSTGRES_URL is not")
        pytest.skip("PostgreSQL not available: set TEST_POSTGRES_URL (CI's .ci/run does)")
    server = sa.make_url(url)
    name = f"dagster_e2e_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _environment(home: Path, database: sa.URL, data_dir: Path, landing: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_HOST=str(database.host),
        DAGSTER_PG_PORT=str(database.port or 5432),
        DAGSTER_PG_DB=str(database.database),
        DAGSTER_PG_USER=str(database.username),
        DAGSTER_PG_PASSWORD=database.password or "",
        SAFEGUARD_DATA_DIR=str(data_dir),
        SAFEGUARD_LANDING=str(landing),
        PYTHONPATH=str(REPO),
    )
    return env


def _age(folder: Path, seconds: float) -> None:
    """The drop finished copying ``seconds`` ago (the sensor waits for a settled drop)."""
    then = time.time() - seconds
    for path in folder.iterdir():
        os.utime(path, (then, then))


def _wait_for_sensor_run(instance, daemon: subprocess.Popen, log: Path):
    """The first run the sensor launched, once it has finished (success or failure)."""
    import dagster as dg

    done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + FINISH_WITHIN_S
    while time.monotonic() < deadline:
        assert daemon.poll() is None, f"dagster-daemon exited: {log.read_text()[-3000:]}"
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": "new_drop_sensor"}))
        if runs and runs[0].status in done:
            return runs[0]
        time.sleep(2)
    pytest.fail(f"no sensor run finished within {FINISH_WITHIN_S} s: {log.read_text()[-3000:]}")


def test_the_daemon_runs_the_sensor_and_the_run_it_launches_finishes(
    dagster_database: sa.URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from safeguard.pipelines.operations import failed_gates_of_run

    home, data_dir, landing = tmp_path / "dagster_home", tmp_path / "data", tmp_path / "landing"
    home.mkdir()
    data_dir.mkdir()
    landing.mkdir()
    for name in ("dagster.yaml", "workspace.yaml"):
        (home / name).write_text((DEPLOY / "dagster" / name).read_text())
    env = _environment(home, dagster_database, data_dir, landing)
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USER",
                 "DAGSTER_PG_PASSWORD"):  # fmt: skip
        monkeypatch.setenv(name, env[name])  # for this process's view of the instance
    workspace = ["-w", str(home / "workspace.yaml")]
    started = subprocess.run(
        [str(BIN / "dagster"), "sensor", "start", "new_drop_sensor", *workspace],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=FINISH_WITHIN_S,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr[-2000:]
    generate_estate(EstateConfig(people=PEOPLE, seed=5, history_months=1), out=landing)
    for drop in landing.iterdir():
        _age(drop, 3600)
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log, dg.DagsterInstance.from_config(str(home)) as instance:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", *workspace],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            run = _wait_for_sensor_run(instance, daemon, log_path)
            gates = failed_gates_of_run(instance, run.run_id)
            failures = [  # why a run failed other than at a gate, for the assertion message
                f"{entry.dagster_event.event_type_value}: {entry.dagster_event.message} "
                f"{entry.dagster_event.event_specific_data}"[:2000]
                for entry in instance.all_logs(run.run_id)
                if entry.dagster_event
                and entry.dagster_event.event_type
                in (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.STEP_FAILURE,
                    dg.DagsterEventType.ENGINE_EVENT)
            ]  # fmt: skip
            storage = type(instance.run_storage).__name__
            (tmp_path / "run-failures.txt").write_text("\n\n".join(failures))
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)  # the daemon and the run processes it started
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
    assert run.tags.get("safeguard/extract_date") == max(p.name for p in landing.iterdir())
    assert storage == "PostgresRunStorage"
    # Finished: every gate passed, or the run stopped at a gate (a small estate may miss the
    # model's performance floor); never a crash of the services themselves.
    assert run.status == dg.DagsterRunStatus.SUCCESS or gates, (run.status, failures)
    assert (data_dir / "warehouse.duckdb").exists()  # the run wrote the warehouse
