"""Demo accounts for the synthetic demo estate; created only when the demo command asks.

Passwords are random and returned once so the demo command can print them; nothing else
stores them in clear.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import duckdb

from safeguard.portal import store
from safeguard.portal.settings import WAREHOUSE_FILE
from safeguard.portal.users import add_user, portal_cursor, reset_password

MAX_PRACTITIONERS = 10


def _username(prefix: str, worker_id: str) -> str:
    return f"{prefix}-{re.sub(r'[^a-z0-9]+', '-', worker_id.lower()).strip('-')}"[:64]


def _flagged_workers(data_dir: Path) -> list[tuple[str, str, str | None]]:
    """(worker_id, display_name, team) of workers with flags, most flags first."""
    path = Path(data_dir) / WAREHOUSE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the pipeline before creating demo accounts")
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not {"flags", "workers"} <= tables:
            raise FileNotFoundError(
                f"{path} has no flags/workers tables: the pipeline has not flagged yet"
            )
        rows = con.execute(
            "SELECT f.worker_id, w.display_name, w.team, count(*) AS n FROM flags f "
            "JOIN workers w USING (worker_id) "
            "WHERE f.as_of_date = (SELECT max(as_of_date) FROM flags) "
            "GROUP BY ALL ORDER BY n DESC, f.worker_id"
        ).fetchall()
    finally:
        con.close()
    return [(str(w), str(name), None if team is None else str(team)) for w, name, team, _ in rows]


def _upsert(data_dir: Path, username: str, role: str, **fields: str | None) -> str:
    password = secrets.token_urlsafe(12)
    with portal_cursor(data_dir) as cur:
        exists = store.get_user(cur, username) is not None
    if exists:
        reset_password(data_dir, username, password)
    else:
        add_user(data_dir, username, role, password, **fields)
    return password


def create_demo_accounts(data_dir: Path) -> list[tuple[str, str, str, str | None]]:
    """Create (or re-password) the demo accounts; return ``(username, password, role, worker_id)``.

    One practitioner per worker with flags (at most 10), one team manager for the team with the
    most flags, one reviewer and one admin.
    """
    workers = _flagged_workers(data_dir)[:MAX_PRACTITIONERS]
    accounts: list[tuple[str, str, str, str | None]] = []
    for worker_id, name, team in workers:
        username = _username("demo", worker_id)
        password = _upsert(
            data_dir, username, "practitioner", worker_id=worker_id, team=team, display_name=name
        )
        accounts.append((username, password, "practitioner", worker_id))
    if workers and workers[0][2]:
        team = workers[0][2]
        password = _upsert(
            data_dir, "demo-manager", "team_manager", team=team, display_name=f"Manager, {team}"
        )
        accounts.append(("demo-manager", password, "team_manager", None))
    for username, role, name in (
        ("demo-reviewer", "reviewer", "Demo reviewer"),
        ("demo-admin", "admin", "Demo data-team admin"),
    ):
        accounts.append(
            (username, _upsert(data_dir, username, role, display_name=name), role, None)
        )
    return accounts
