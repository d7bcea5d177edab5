"""The portal's own database (``DIR/portal.duckdb``): users, judgements and allocations.

The pipeline never writes here; the review pack and subject-access export read judgements.
Every function takes a cursor so the web app (shared connection) and the command line
(short-lived connection) run the same SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import duckdb

from portal.settings import DECISIONS, ROLES

_ROLE_LIST = ", ".join(f"'{r}'" for r in ROLES)
_DECISION_LIST = ", ".join(f"'{d}'" for d in DECISIONS)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS users (
    username VARCHAR PRIMARY KEY,
    display_name VARCHAR NOT NULL,
    role VARCHAR NOT NULL CHECK (role IN ({_ROLE_LIST})),
    worker_id VARCHAR,
    team VARCHAR,
    password_hash VARCHAR NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    credential_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS judgements (
    judgement_id VARCHAR PRIMARY KEY,
    flag_id VARCHAR NOT NULL,
    family_key VARCHAR NOT NULL,
    worker_id VARCHAR,
    username VARCHAR NOT NULL,
    decision VARCHAR NOT NULL CHECK (decision IN ({_DECISION_LIST})),
    reason VARCHAR NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    model_version VARCHAR
);
CREATE TABLE IF NOT EXISTS allocations (
    flag_id VARCHAR NOT NULL,
    worker_id VARCHAR NOT NULL,
    reallocated_by VARCHAR NOT NULL,
    reallocated_at TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL
);
"""

_USER_COLUMNS = (
    "username, display_name, role, worker_id, team, password_hash, disabled, created_at, "
    "credential_epoch"
)
# Databases created before the credential epoch existed gain the column on first use.
_MIGRATIONS = ("ALTER TABLE users ADD COLUMN IF NOT EXISTS credential_epoch INTEGER DEFAULT 0",)


@dataclass(frozen=True)
class User:
    """A portal account. ``password_hash`` never leaves the server.

    ``credential_epoch`` goes up whenever the password is reset or the account is disabled; a
    session remembers the epoch it logged in under and ends when they differ, so a reset or a
    disable made from the command line (another process) ends every existing session.
    """

    username: str
    display_name: str
    role: str
    worker_id: str | None
    team: str | None
    password_hash: str
    disabled: bool
    created_at: datetime
    credential_epoch: int = 0


@dataclass(frozen=True)
class Judgement:
    """A practitioner's recorded professional judgement on one flag."""

    judgement_id: str
    flag_id: str
    family_key: str
    worker_id: str | None
    username: str
    decision: str
    reason: str
    decided_at: datetime
    model_version: str | None


def ensure_schema(cur: duckdb.DuckDBPyConnection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            cur.execute(statement)
    for statement in _MIGRATIONS:
        cur.execute(statement)


def insert_user(cur: duckdb.DuckDBPyConnection, user: User) -> None:
    cur.execute(
        f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            user.username,
            user.display_name,
            user.role,
            user.worker_id,
            user.team,
            user.password_hash,
            user.disabled,
            user.created_at,
            user.credential_epoch,
        ],
    )


def get_user(cur: duckdb.DuckDBPyConnection, username: str) -> User | None:
    row = cur.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE username = ?", [username]
    ).fetchall()
    return User(*row[0]) if row else None


def list_users(cur: duckdb.DuckDBPyConnection) -> list[User]:
    rows = cur.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY role, username").fetchall()
    return [User(*row) for row in rows]


def set_disabled(cur: duckdb.DuckDBPyConnection, username: str, disabled: bool) -> None:
    """Disable or enable; either way every existing session of the account ends."""
    cur.execute(
        "UPDATE users SET disabled = ?, credential_epoch = credential_epoch + 1 WHERE username = ?",
        [disabled, username],
    )


def set_password_hash(cur: duckdb.DuckDBPyConnection, username: str, password_hash: str) -> None:
    """A new password; every existing session of the account ends."""
    cur.execute(
        "UPDATE users SET password_hash = ?, credential_epoch = credential_epoch + 1 "
        "WHERE username = ?",
        [password_hash, username],
    )


def insert_judgement(
    cur: duckdb.DuckDBPyConnection,
    *,
    flag_id: str,
    family_key: str,
    worker_id: str | None,
    username: str,
    decision: str,
    reason: str,
    decided_at: datetime,
    model_version: str | None,
) -> Judgement:
    judgement = Judgement(
        judgement_id=uuid.uuid4().hex,
        flag_id=flag_id,
        family_key=family_key,
        worker_id=worker_id,
        username=username,
        decision=decision,
        reason=reason,
        decided_at=decided_at,
        model_version=model_version,
    )
    cur.execute(
        "INSERT INTO judgements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            judgement.judgement_id,
            judgement.flag_id,
            judgement.family_key,
            judgement.worker_id,
            judgement.username,
            judgement.decision,
            judgement.reason,
            judgement.decided_at,
            judgement.model_version,
        ],
    )
    return judgement


def judgements_for_flag(cur: duckdb.DuckDBPyConnection, flag_id: str) -> list[Judgement]:
    rows = cur.execute(
        "SELECT * FROM judgements WHERE flag_id = ? ORDER BY decided_at DESC", [flag_id]
    ).fetchall()
    return [Judgement(*row) for row in rows]


def latest_decisions(cur: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The most recent decision per flag: re-recording a judgement replaces the earlier one."""
    rows = cur.execute(
        "SELECT flag_id, decision FROM judgements "
        "QUALIFY row_number() OVER (PARTITION BY flag_id ORDER BY decided_at DESC, rowid DESC) = 1"
    ).fetchall()
    return {flag_id: decision for flag_id, decision in rows}


def insert_allocation(
    cur: duckdb.DuckDBPyConnection,
    *,
    flag_id: str,
    worker_id: str,
    reallocated_by: str,
    reallocated_at: datetime,
    reason: str,
) -> None:
    cur.execute(
        "INSERT INTO allocations VALUES (?, ?, ?, ?, ?)",
        [flag_id, worker_id, reallocated_by, reallocated_at, reason],
    )


def allocation_overrides(cur: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, datetime]]:
    """Latest reallocation per flag: ``flag_id -> (worker_id, reallocated_at)``."""
    rows = cur.execute(
        "SELECT flag_id, worker_id, reallocated_at FROM allocations QUALIFY row_number() "
        "OVER (PARTITION BY flag_id ORDER BY reallocated_at DESC, rowid DESC) = 1"
    ).fetchall()
    return {flag_id: (worker_id, at) for flag_id, worker_id, at in rows}
