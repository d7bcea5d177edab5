"""Session-wide test settings: the audit trail's key and anchors live outside every data dir.

Production reads them from the environment (docs/DESIGN.md, "Audit trail"); tests point them
at a private temporary folder so nothing is written to the home directory.

Under pytest-xdist (``make test`` runs the test files on every core) each worker gets a
PostgreSQL database of its own, so the PostgreSQL tests of two files running at once never
drop or migrate each other's tables.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from safeguard.dpia.audit_anchor import ANCHOR_DIR_ENV, AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"


@pytest.fixture(scope="session", autouse=True)
def _postgres_database_per_worker() -> Iterator[None]:
    """A fresh database per xdist worker on the test server (``<database>_gw<n>``), dropped at
    the end; nothing changes in a run without workers or without a server."""
    worker, url = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get(POSTGRES_URL_ENV)
    if not worker or not url:
        yield
        return
    import sqlalchemy as sa

    server = sa.make_url(url)
    name = f"{server.database}_{worker}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.DBAPIError:  # unreachable (the PostgreSQL tests report it) or no CREATEDB
        # right: the workers share the one database (run the PostgreSQL tests with -n0 there)
        admin.dispose()
        yield
        return
    os.environ[POSTGRES_URL_ENV] = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield
    finally:
        os.environ[POSTGRES_URL_ENV] = url
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _audit_key_and_anchors_outside_data(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    root = tmp_path_factory.mktemp("audit-secrets")
    saved = {k: os.environ.get(k) for k in (AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV, ANCHOR_DIR_ENV)}
    os.environ.pop(AUDIT_KEY_ENV, None)
    os.environ[AUDIT_KEY_FILE_ENV] = str(root / "audit.key")
    os.environ[ANCHOR_DIR_ENV] = str(root / "anchors")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class Inbox:
    """What a loopback SMTP server received: (sender, recipients, raw message) per mail."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


@pytest.fixture
def alert_mail(smtp_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch) -> Inbox:
    """Alert e-mail configured through the settings (environment), to the loopback server."""
    port, inbox = smtp_server
    for name, value in {
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
        "EMAIL_FROM": "safeguard@council.example", "EMAIL_TO": "data-team@council.example",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"SAFEGUARD_ALERT_{name}", value)
    return inbox
