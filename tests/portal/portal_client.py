"""Helpers for driving the portal in tests: app clients, form login, audit reading."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from portal_fixture import PortalFixture, password_for

from safeguard.portal import create_app
from safeguard.portal.settings import PortalSettings

with warnings.catch_warnings():
    # starlette asks for its httpx2 fork; the bundled httpx works and is what we pin.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_client(
    fixture: PortalFixture, *, base_url: str = "https://testserver", **settings: Any
) -> TestClient:
    """A client on a fresh app for ``fixture`` (use as a context manager to run its lifespan)."""
    portal_settings = PortalSettings(data_dir=fixture.data_dir, **settings)
    app = create_app(fixture.data_dir, settings=portal_settings)
    return TestClient(app, base_url=base_url, follow_redirects=False)


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, username: str, password: str | None = None) -> None:
    """Log in through the form, as a browser would, and check it worked."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": password or password_for(username),
            "csrf_token": csrf_token(page.text),
            "next": "/",
        },
    )
    assert response.status_code == 303, (response.status_code, response.text[:300])


def post_form(client: TestClient, path: str, page_path: str, **data: str) -> Any:
    """Post a form with the CSRF token taken from ``page_path`` (the page that shows the form)."""
    token = csrf_token(client.get(page_path).text)
    return client.post(path, data={"csrf_token": token, **data})


def audit_entries(data_dir: Path) -> list[dict[str, Any]]:
    """The audit trail's entries as dicts (actor, action, subject, ...), read through safeguard.dpia.audit."""
    from safeguard.dpia.audit import AuditLog

    path = data_dir / "audit" / "audit.jsonl"
    if not path.exists():
        return []
    entries = []
    for entry in AuditLog(path).entries():
        if isinstance(entry, dict):
            entries.append(entry)
        elif dataclasses.is_dataclass(entry):
            entries.append(dataclasses.asdict(entry))  # type: ignore[arg-type]
        else:
            entries.append(dict(vars(entry)))
    return entries


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: object, *, log_level: str = "warning") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level=log_level,  # type: ignore[arg-type]
            lifespan="on",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, name="portal-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def fixed_clock(moment: datetime) -> object:
    """A settable clock for PortalSettings: ``clock.now`` is what the portal sees as now."""

    class Clock:
        def __init__(self) -> None:
            self.now = moment

        def __call__(self) -> datetime:
            return self.now

    return Clock()
