"""The login throttle stores (username, client address) keyed, never as a plain SHA-256.

Someone holding a copy of the data directory must not be able to confirm a guessed username
or address against the ``login_failures`` rows: the pair is an HMAC under a key derived from
the audit key, which lives outside the data directory.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from portal_client import csrf_token, fixed_clock, make_client
from portal_fixture import PortalFixture

from safeguard.portal.audit import PortalAudit
from safeguard.portal.database import MIGRATIONS, PortalDatabase, default_url
from safeguard.portal.schema import login_failures
from safeguard.portal.sessions import LoginThrottle

NOW = datetime(2026, 3, 21, 9, 30)
PAIR = ("Alex", "10.1.2.3")


def _plain(username: str, client: str) -> str:
    return hashlib.sha256(f"{username.lower()}\x1f{client}".encode()).hexdigest()


def _stored(database: PortalDatabase) -> set[str]:
    with database.reader() as conn:
        return set(conn.execute(sa.select(login_failures.c.key_hash)).scalars())


def _throttle(database: PortalDatabase, secret: bytes) -> LoginThrottle:
    return LoginThrottle(
        database,
        fixed_clock(NOW),  # type: ignore[arg-type]
        max_failures=3,
        window=timedelta(minutes=15),
        secret=lambda: secret,
    )


def test_the_stored_key_is_keyed_and_depends_on_the_secret(tmp_path: Path) -> None:
    database = PortalDatabase(default_url(tmp_path))
    database.upgrade()
    first, second = _throttle(database, b"a" * 32), _throttle(database, b"b" * 32)
    first.record_failure(*PAIR)
    (key,) = _stored(database)
    assert key != _plain(*PAIR)  # an offline guess of the pair no longer confirms anything
    second.record_failure(*PAIR)
    assert len(_stored(database)) == 2  # another secret, another key for the same pair
    for _ in range(2):
        first.record_failure(*PAIR)
    assert first.blocked(*PAIR) and first.blocked("alex", PAIR[1])  # username case-folded
    assert not second.blocked(*PAIR)  # its one failure is counted under its own key
    assert not first.blocked("sam", PAIR[1]) and not first.blocked(PAIR[0], "10.1.2.4")
    first.reset(*PAIR)
    assert not first.blocked(*PAIR)
    database.close()


def test_the_portal_keys_its_throttle_with_the_audit_key(portal_data: PortalFixture) -> None:
    client = make_client(portal_data, clock=fixed_clock(NOW))
    with client:
        token = csrf_token(client.get("/login").text)
        form = {"username": "alex", "password": "not-the-password", "csrf_token": token}
        assert client.post("/login", data=form).status_code == 401
        database = client.app.state.portal.portal_db  # type: ignore[attr-defined]
        (key,) = _stored(database)
    audit = PortalAudit(portal_data.data_dir / "audit" / "audit.jsonl")
    secret = audit.derived_key("login-throttle")
    assert secret != audit._open().settings.load_key(create=False)  # derived, not the key
    assert key == hmac.new(secret, b"alex\x1ftestclient", hashlib.sha256).hexdigest()
    assert key != _plain("alex", "testclient")


def test_the_upgrade_deletes_the_unkeyed_rows_of_0004(tmp_path: Path) -> None:
    database = PortalDatabase(default_url(tmp_path))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.cursor() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        conn.execute(
            login_failures.insert().values(id="a" * 32, key_hash=_plain(*PAIR), failed_at=NOW)
        )
    assert _stored(database) == {_plain(*PAIR)}
    database.upgrade()  # 0005: the plain SHA-256 rows cannot be re-keyed, so they go
    assert database.current_revision() == "0005" and _stored(database) == set()
    database.close()
    assert _plain(*PAIR).encode() not in (tmp_path / "portal.sqlite").read_bytes()
