"""The portal's transactional data: users, judgements and allocations (see :mod:`safeguard.portal.schema`).

Every function takes a SQLAlchemy connection inside a transaction, so the web app (shared
:class:`safeguard.portal.database.PortalDatabase`) and the command line (short-lived) run the same queries
on DuckDB, SQLite or PostgreSQL. Every write moves the revision counter on, which is how each
process knows its cached reads are stale. The review pack and subject-access export read
judgements.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from safeguard.portal.schema import allocations, judgements, revision, users

_USER_COLUMNS = [
    users.c.username, users.c.display_name, users.c.role, users.c.worker_id, users.c.team,
    users.c.password_hash, users.c.disabled, users.c.created_at, users.c.credential_epoch,
]  # fmt: skip
_JUDGEMENT_COLUMNS = [
    judgements.c.judgement_id, judgements.c.flag_id, judgements.c.family_key,
    judgements.c.worker_id, judgements.c.username, judgements.c.decision, judgements.c.reason,
    judgements.c.decided_at, judgements.c.model_version,
]  # fmt: skip
_SEQ_LOCK = threading.Lock()
_last_seq = itertools.count()


def _next_seq() -> int:
    """Strictly increasing in this process, and across processes as the clock moves on."""
    global _last_seq
    with _SEQ_LOCK:
        value = max(time.time_ns(), next(_last_seq))
        _last_seq = itertools.count(value + 1)
        return value


def _changed(conn: sa.Connection) -> None:
    conn.execute(
        sa.update(revision).where(revision.c.id == 1).values(revision=revision.c.revision + 1)
    )


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


def insert_user(conn: sa.Connection, user: User) -> None:
    conn.execute(
        sa.insert(users).values(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            worker_id=user.worker_id,
            team=user.team,
            password_hash=user.password_hash,
            disabled=user.disabled,
            created_at=user.created_at,
            credential_epoch=user.credential_epoch,
        )
    )
    _changed(conn)


def get_user(conn: sa.Connection, username: str) -> User | None:
    row = conn.execute(sa.select(*_USER_COLUMNS).where(users.c.username == username)).first()
    return User(*row) if row else None


def list_users(conn: sa.Connection) -> list[User]:
    rows = conn.execute(sa.select(*_USER_COLUMNS).order_by(users.c.role, users.c.username))
    return [User(*row) for row in rows]


def set_disabled(conn: sa.Connection, username: str, disabled: bool) -> None:
    """Disable or enable; either way every existing session of the account ends."""
    conn.execute(
        sa.update(users)
        .where(users.c.username == username)
        .values(disabled=disabled, credential_epoch=users.c.credential_epoch + 1)
    )
    _changed(conn)


def set_password_hash(conn: sa.Connection, username: str, password_hash: str) -> None:
    """A new password; every existing session of the account ends."""
    conn.execute(
        sa.update(users)
        .where(users.c.username == username)
        .values(password_hash=password_hash, credential_epoch=users.c.credential_epoch + 1)
    )
    _changed(conn)


def insert_judgement(
    conn: sa.Connection,
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
    conn.execute(sa.insert(judgements).values(**vars(judgement), seq=_next_seq()))
    _changed(conn)
    return judgement


def judgements_for_flag(conn: sa.Connection, flag_id: str) -> list[Judgement]:
    rows = conn.execute(
        sa.select(*_JUDGEMENT_COLUMNS)
        .where(judgements.c.flag_id == flag_id)
        .order_by(judgements.c.decided_at.desc(), judgements.c.seq.desc())
    )
    return [Judgement(*row) for row in rows]


def _latest(table: sa.Table, when: sa.Column, *columns: sa.Column) -> sa.Subquery:
    """The newest row per flag (by its date, then by recording order)."""
    rank = sa.func.row_number().over(
        partition_by=table.c.flag_id, order_by=(when.desc(), table.c.seq.desc())
    )
    return sa.select(*columns, rank.label("newest")).subquery()


def latest_decisions(conn: sa.Connection) -> dict[str, str]:
    """The most recent decision per flag: re-recording a judgement replaces the earlier one."""
    newest = _latest(
        judgements, judgements.c.decided_at, judgements.c.flag_id, judgements.c.decision
    )
    rows = conn.execute(sa.select(newest.c.flag_id, newest.c.decision).where(newest.c.newest == 1))
    return {flag_id: decision for flag_id, decision in rows}


def insert_allocation(
    conn: sa.Connection,
    *,
    flag_id: str,
    worker_id: str,
    reallocated_by: str,
    reallocated_at: datetime,
    reason: str,
) -> None:
    conn.execute(
        sa.insert(allocations).values(
            flag_id=flag_id,
            worker_id=worker_id,
            reallocated_by=reallocated_by,
            reallocated_at=reallocated_at,
            reason=reason,
            seq=_next_seq(),
        )
    )
    _changed(conn)


def allocation_overrides(conn: sa.Connection) -> dict[str, tuple[str, datetime]]:
    """Latest reallocation per flag: ``flag_id -> (worker_id, reallocated_at)``."""
    newest = _latest(
        allocations,
        allocations.c.reallocated_at,
        allocations.c.flag_id,
        allocations.c.worker_id,
        allocations.c.reallocated_at,
    )
    rows = conn.execute(
        sa.select(newest.c.flag_id, newest.c.worker_id, newest.c.reallocated_at).where(
            newest.c.newest == 1
        )
    )
    return {flag_id: (worker_id, at) for flag_id, worker_id, at in rows}


def sync_sso_user(conn: sa.Connection, user: User) -> User:
    """Create or update an account signed in through the council's provider.

    Role, worker and team follow the provider at every sign-in; a changed role moves the
    credential epoch on, so sessions opened under the old role end.
    """
    existing = get_user(conn, user.username)
    if existing is None:
        insert_user(conn, user)
        return user
    changed = (existing.role, existing.worker_id, existing.team, existing.display_name) != (
        user.role, user.worker_id, user.team, user.display_name,
    )  # fmt: skip
    if not changed:
        return existing
    epoch = existing.credential_epoch + (1 if existing.role != user.role else 0)
    conn.execute(
        sa.update(users)
        .where(users.c.username == user.username)
        .values(
            role=user.role,
            worker_id=user.worker_id,
            team=user.team,
            display_name=user.display_name,
            credential_epoch=epoch,
        )
    )
    _changed(conn)
    return get_user(conn, user.username) or user
