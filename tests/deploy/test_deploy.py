"""The production layout in deploy/: units, settings example and Dagster's PostgreSQL instance."""

from __future__ import annotations

import configparser
import os
import shlex
from pathlib import Path

import pytest
import sqlalchemy as sa

from safeguard.settings import unknown_variables

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(path)
    return unit


def test_three_services_run_confined_as_service_users() -> None:
    assert {p.stem for p in UNITS} == {
        "safeguard-dagster-daemon",
        "safeguard-dagster-webserver",
        "safeguard-portal",
    }
    for path in UNITS:
        service = _unit(path)["Service"]
        assert service["User"].startswith("safeguard"), path.name
        assert service["UMask"] == "0077" and service["NoNewPrivileges"] == "true", path.name
        assert service["EnvironmentFile"] == "/etc/safeguard/safeguard.env", path.name
        assert (
            "--host 0.0.0.0" not in service["ExecStart"]
            and "-h 0.0.0.0" not in service["ExecStart"]
        )


def test_the_daemon_and_webserver_share_the_workspace_and_the_portal_validates_first() -> None:
    daemon = _unit(DEPLOY / "systemd/safeguard-dagster-daemon.service")["Service"]["ExecStart"]
    web = _unit(DEPLOY / "systemd/safeguard-dagster-webserver.service")["Service"]["ExecStart"]
    assert "dagster-daemon run" in daemon and "dagster-webserver -h 127.0.0.1" in web
    assert all('-w "$DAGSTER_HOME/workspace.yaml"' in cmd for cmd in (daemon, web))
    portal = _unit(DEPLOY / "systemd/safeguard-portal.service")["Service"]
    assert portal["ExecStartPre"].endswith("-m safeguard.settings")
    argv = shlex.split(portal["ExecStart"])
    assert argv[argv.index("--factory") + 1] == "safeguard.portal.server:production_app"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    from safeguard.portal.server import production_app

    assert callable(production_app)


def test_the_settings_example_names_only_real_settings() -> None:
    names = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "safeguard.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert not unknown_variables({n: "" for n in names})
    assert "SAFEGUARD_PSEUDONYM_KEY" not in names  # a systemd credential, never this file


def test_dagster_yaml_opens_an_instance_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("TEST_POSTGRES_REQUIRED"):
            pytest.fail("TEST_POSTGRES_REQUIRED is set but TEST_POSTGRES_URL is not")
        pytest.skip("PostgreSQL not available: set TEST_POSTGRES_URL (CI's .ci/run does)")
    import dagster as dg

    parts = sa.make_url(url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((DEPLOY / "dagster/dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in {
        "DAGSTER_PG_HOST": parts.host,
        "DAGSTER_PG_PORT": str(parts.port or 5432),
        "DAGSTER_PG_DB": parts.database,
        "DAGSTER_PG_USER": parts.username,
        "DAGSTER_PG_PASSWORD": parts.password or "",
    }.items():
        monkeypatch.setenv(name, str(value))
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_runs_count() >= 0  # the schema was created and answers
        # An event is written (psycopg 3 under a bare postgresql:// broke every event write).
        instance.report_runless_asset_event(dg.AssetMaterialization("deploy_probe"))
        assert instance.get_latest_materialization_event(dg.AssetKey("deploy_probe"))
