"""The portal database on every backend: migrations, decisions, sessions surviving a restart.

Runs on the embedded SQLite default and on DuckDB always, and on PostgreSQL when
``TEST_POSTGRES_URL`` names a server (CI starts Debian's PostgreSQL and sets it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from portal_client import csrf_token, fixed_clock, login, make_client
from portal_fixture import PortalFixture, password_for

from safeguard.portal import store
from safeguard.portal.database import PortalDatabase, default_url
from safeguard.portal.sessions import SessionStore
from safeguard.portal.store import User
from safeguard.portal.users import disable_user, list_users, portal_cursor

POSTGRES_ENV = "TEST_POSTGRES_URL"
# CI sets this so that an unreachable server fails the tests instead of skipping them.
REQUIRED_ENV = "TEST_POSTGRES_REQUIRED"
HEAD = "0005"
NOW = datetime(2026, 3, 21, 9, 30)
TABLES = (
    "login_failures",
    "oidc_logins",
    "sessions",
    "judgements",
    "allocations",
    "users",
    "portal_revision",
    "portal_alembic_version",
)


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(f"{REQUIRED_ENV} is set but {POSTGRES_ENV} is not: CI must test PostgreSQL")
        pytest.skip(
            f"PostgreSQL not available: set {POSTGRES_ENV} (CI's .ci/run starts Debian's "
            "postgresql and sets it)"
        )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in TABLES:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    except sa.exc.OperationalError as error:
        pytest.fail(f"{POSTGRES_ENV} is set but the server cannot be reached: {error.orig}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["duckdb", "sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'data' / 'portal.duckdb'}"
    if request.param == "sqlite":
        return default_url(tmp_path / "data")
    return _postgres_url()


@pytest.fixture
def database(database_url: str) -> Iterator[PortalDatabase]:
    db = PortalDatabase(database_url)
    db.upgrade()
    yield db
    db.close()


def _user(username: str = "alex") -> User:
    return User(username, "Alex", "practitioner", "W01", "North", "$argon2id$x", False, NOW)


def _judge(conn: sa.Connection, decision: str, flag_id: str = "flag-1") -> None:
    store.insert_judgement(
        conn, flag_id=flag_id, family_key="fam-1", worker_id="W01", username="alex",
        decision=decision, reason="a reason long enough", decided_at=NOW, model_version="m1",
    )  # fmt: skip


def test_migrations_reach_head_and_are_idempotent(database: PortalDatabase) -> None:
    assert database.current_revision() == HEAD
    database.upgrade()  # a second start changes nothing
    assert database.current_revision() == HEAD
    with database.reader() as conn:
        names = set(sa.inspect(conn).get_table_names())
    assert {"users", "judgements", "allocations", "sessions", "portal_revision"} <= names


def test_the_latest_decision_wins_even_at_the_same_clock_reading(
    database: PortalDatabase,
) -> None:
    before = database.stamp()
    with database.cursor() as conn:
        store.insert_user(conn, _user())
        _judge(conn, "agree_act")
        _judge(conn, "disagree")  # same decided_at: recording order decides
        store.insert_allocation(
            conn, flag_id="flag-1", worker_id="W02", reallocated_by="mo", reallocated_at=NOW,
            reason="cover",
        )  # fmt: skip
        store.insert_allocation(
            conn, flag_id="flag-1", worker_id="W03", reallocated_by="mo", reallocated_at=NOW,
            reason="back",
        )  # fmt: skip
    with database.reader() as conn:
        assert store.latest_decisions(conn) == {"flag-1": "disagree"}
        assert store.allocation_overrides(conn) == {"flag-1": ("W03", NOW)}
        assert [j.decision for j in store.judgements_for_flag(conn, "flag-1")] == [
            "disagree",
            "agree_act",
        ]
        assert store.get_user(conn, "alex") == _user()
    assert database.stamp() > before  # every write moves the revision on


def test_a_refused_row_leaves_nothing_behind(database: PortalDatabase) -> None:
    with pytest.raises(sa.exc.IntegrityError), database.cursor() as conn:
        _judge(conn, "agree_act")
        _judge(conn, "not a decision")  # the CHECK constraint refuses it: all rolled back
    with database.reader() as conn:
        assert store.latest_decisions(conn) == {}


def test_sessions_survive_a_restart_and_are_stored_hashed(database_url: str) -> None:
    first = PortalDatabase(database_url)
    first.upgrade()
    clock = fixed_clock(NOW)
    sessions = SessionStore(first, clock, idle=timedelta(hours=1), absolute=timedelta(hours=8))
    session = sessions.create("alex", credential_epoch=3)
    with first.reader() as conn:
        stored = conn.execute(sa.text("SELECT * FROM sessions")).fetchall()
    assert session.session_id not in repr(stored)  # only its hash is held
    first.close()

    second = PortalDatabase(database_url)  # a restarted (or another) worker process
    restarted = SessionStore(second, clock, idle=timedelta(hours=1), absolute=timedelta(hours=8))
    found = restarted.get(session.session_id)
    assert found is not None and found.username == "alex" and found.credential_epoch == 3
    assert found.csrf_matches(session.csrf_token)
    assert restarted.delete_user("alex") == 1
    assert restarted.get(session.session_id) is None
    second.close()


def _accounts_on(portal_data: PortalFixture, database_url: str) -> None:
    if database_url != default_url(portal_data.data_dir):
        # The fixture's accounts live in the default database; copy them to this backend.
        with portal_cursor(portal_data.data_dir) as source:
            accounts = store.list_users(source)
        target = PortalDatabase(database_url)
        target.upgrade()
        with target.cursor() as conn:
            for account in accounts:
                store.insert_user(conn, account)
        target.close()


def test_a_logged_in_practitioner_stays_logged_in_across_a_portal_restart(
    portal_data: PortalFixture, database_url: str
) -> None:
    _accounts_on(portal_data, database_url)
    fixture = portal_data
    with make_client(fixture, clock=fixed_clock(NOW), database_url=database_url) as client:
        login(client, "alex")
        cookies = dict(client.cookies)
        assert client.get("/my-families").status_code == 200
    with make_client(fixture, clock=fixed_clock(NOW), database_url=database_url) as client:
        client.cookies.update(cookies)
        assert client.get("/my-families").status_code == 200  # no login page after a restart
        with PortalDatabase(database_url).cursor() as conn:  # e.g. `safeguard users disable`
            store.set_disabled(conn, "alex", True)
        response = client.get("/my-families")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_two_portal_workers_share_one_login_throttle(
    portal_data: PortalFixture, database_url: str
) -> None:
    """Guesses spread over two worker processes (two apps, one database) are counted together."""
    _accounts_on(portal_data, database_url)
    clock = fixed_clock(NOW)
    first = make_client(portal_data, clock=clock, database_url=database_url)
    second = make_client(portal_data, clock=clock, database_url=database_url)
    with first, second:
        for attempt in range(5):  # alternate workers, as a load balancer would
            worker = (first, second)[attempt % 2]
            token = csrf_token(worker.get("/login").text)
            form = {"username": "alex", "password": "not-the-password", "csrf_token": token}
            assert worker.post("/login", data=form).status_code == 401
        for worker in (first, second):
            token = csrf_token(worker.get("/login").text)
            form = {"username": "alex", "password": password_for("alex"), "csrf_token": token}
            assert worker.post("/login", data=form).status_code == 429  # on both workers
        with PortalDatabase(database_url).reader() as conn:  # the pair is stored hashed only
            stored = repr(conn.execute(sa.text("SELECT * FROM login_failures")).fetchall())
        assert "alex" not in stored and "testclient" not in stored
        clock.now += timedelta(minutes=16)  # type: ignore[attr-defined]
        login(second, "alex")


def test_a_portal_duckdb_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "portal.duckdb"
    con = duckdb.connect(str(path))  # the schema the portal wrote before Alembic
    con.execute(
        "CREATE TABLE users (username VARCHAR PRIMARY KEY, display_name VARCHAR NOT NULL, "
        "role VARCHAR NOT NULL, worker_id VARCHAR, team VARCHAR, password_hash VARCHAR NOT NULL, "
        "disabled BOOLEAN NOT NULL DEFAULT FALSE, created_at TIMESTAMP NOT NULL)"
    )
    con.execute("INSERT INTO users VALUES ('alex', 'Alex', 'practitioner', 'W01', 'North', "
                "'$argon2id$x', FALSE, TIMESTAMP '2026-03-21 09:30:00')")  # fmt: skip
    con.execute(
        "CREATE TABLE judgements (judgement_id VARCHAR PRIMARY KEY, flag_id VARCHAR NOT NULL, "
        "family_key VARCHAR NOT NULL, worker_id VARCHAR, username VARCHAR NOT NULL, "
        "decision VARCHAR NOT NULL, reason VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL, "
        "model_version VARCHAR)"
    )
    con.execute("INSERT INTO judgements VALUES ('j1', 'flag-1', 'fam-1', 'W01', 'alex', "
                "'agree_act', 'kept reason', TIMESTAMP '2026-03-01 10:00:00', 'm1')")  # fmt: skip
    con.close()
    # SQLite is the default now, but a data directory with the old DuckDB file keeps it.
    assert default_url(tmp_path) == f"duckdb:///{path.absolute()}"
    users = list_users(tmp_path)  # opening it through the portal migrates it
    assert users == [_user()]
    assert not (tmp_path / "portal.sqlite").exists()
    with portal_cursor(tmp_path) as conn:
        assert store.latest_decisions(conn) == {"flag-1": "agree_act"}
        _judge(conn, "disagree")  # newer clock reading than the adopted row
        assert store.latest_decisions(conn) == {"flag-1": "disagree"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_command_line_user_admin_follows_the_configured_url(
    portal_data: PortalFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    monkeypatch.setenv("SAFEGUARD_PORTAL_DATABASE_URL", url)
    with portal_cursor(portal_data.data_dir) as conn:
        store.insert_user(conn, replace(_user("sam"), display_name="Sam"))
    disable_user(portal_data.data_dir, "sam")
    with PortalDatabase(url).reader() as conn:
        assert [u.username for u in store.list_users(conn)] == ["sam"]
        assert store.get_user(conn, "sam").disabled  # type: ignore[union-attr]
    assert (tmp_path / "elsewhere.sqlite3").stat().st_mode & 0o777 == 0o600
