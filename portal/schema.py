"""The portal database's tables (SQLAlchemy Core), the same on DuckDB, SQLite and PostgreSQL.

Alembic migrations in ``portal/migrations`` create and change them; this module is what the
queries in :mod:`safeguard.portal.store` and :mod:`safeguard.portal.sessions` are written against.
"""

from __future__ import annotations

import sqlalchemy as sa

from safeguard.portal.settings import DECISIONS, ROLES

metadata = sa.MetaData()


def _one_of(column: str, values: object) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)  # type: ignore[attr-defined]
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"ck_{column}_allowed")


users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String, primary_key=True),
    sa.Column("display_name", sa.String, nullable=False),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("worker_id", sa.String),
    sa.Column("team", sa.String),
    sa.Column("password_hash", sa.String, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("credential_epoch", sa.Integer, nullable=False, server_default="0"),
    _one_of("role", ROLES),
)

judgements = sa.Table(
    "judgements",
    metadata,
    sa.Column("judgement_id", sa.String, primary_key=True),
    sa.Column("flag_id", sa.String, nullable=False),
    sa.Column("family_key", sa.String, nullable=False),
    sa.Column("worker_id", sa.String),
    sa.Column("username", sa.String, nullable=False),
    sa.Column("decision", sa.String, nullable=False),
    sa.Column("reason", sa.String, nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("model_version", sa.String),
    # Order of recording, for two decisions stamped with the same clock reading.
    sa.Column("seq", sa.BigInteger, server_default="0"),
    _one_of("decision", DECISIONS),
)

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("flag_id", sa.String, nullable=False),
    sa.Column("worker_id", sa.String, nullable=False),
    sa.Column("reallocated_by", sa.String, nullable=False),
    sa.Column("reallocated_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.String, nullable=False),
    sa.Column("seq", sa.BigInteger, server_default="0"),
)

# The browser's cookie holds the session id; only its SHA-256 is stored, so someone who reads
# the database cannot take over a session with what they read.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("csrf_token", sa.String, nullable=False),
    sa.Column("username", sa.String),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("credential_epoch", sa.Integer, nullable=False, server_default="0"),
)

# One row, bumped by every write to users, judgements or allocations: a process caches what it
# read until the revision moves, whoever (another worker, the command line) made the change.
revision = sa.Table(
    "portal_revision",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
)

# Failed logins per (username, client address), shared by every portal worker: only a hash of
# the pair is kept (no address or mistyped name is stored), for the throttle's window at most.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # random: DuckDB has no autoincrement
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("failed_at", sa.DateTime, nullable=False),
    sa.Index("ix_login_failures_key", "key_hash", "failed_at"),
    sa.Index("ix_login_failures_at", "failed_at"),
)

# A sign-in started at the council's OpenID Connect provider and not yet finished (10 minutes
# at most): bound to the browser's pre-login session, used once.
oidc_logins = sa.Table(
    "oidc_logins",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("session_hash", sa.String(64), nullable=False),
    sa.Column("nonce", sa.String, nullable=False),
    sa.Column("code_verifier", sa.String, nullable=False),
    sa.Column("next_path", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
