"""Users, judgements and allocations as the portal created them before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-12-05

A ``portal.duckdb`` from before Alembic already has these tables: they are kept as they are
(the credential epoch column is added where it is missing), so the upgrade adopts it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROLES = ("practitioner", "team_manager", "reviewer", "admin")
DECISIONS = ("agree_act", "already_known", "disagree", "not_enough_info")


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"ck_{column}_allowed")


def _columns(table: str) -> set[str]:
    bind = op.get_bind()
    if bind.dialect.name == "duckdb":  # duckdb-engine's inspector queries pg_catalog tables
        rows = bind.execute(
            sa.text("SELECT column_name FROM information_schema.columns WHERE table_name = :t"),
            {"t": table},
        )
        return {row[0] for row in rows}
    return {column["name"] for column in sa.inspect(bind).get_columns(table)}


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "users" not in existing:
        op.create_table(
            "users",
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
    else:
        if "credential_epoch" not in _columns("users"):
            op.add_column("users", sa.Column("credential_epoch", sa.Integer, server_default="0"))
    if "judgements" not in existing:
        op.create_table(
            "judgements",
            sa.Column("judgement_id", sa.String, primary_key=True),
            sa.Column("flag_id", sa.String, nullable=False),
            sa.Column("family_key", sa.String, nullable=False),
            sa.Column("worker_id", sa.String),
            sa.Column("username", sa.String, nullable=False),
            sa.Column("decision", sa.String, nullable=False),
            sa.Column("reason", sa.String, nullable=False),
            sa.Column("decided_at", sa.DateTime, nullable=False),
            sa.Column("model_version", sa.String),
            _one_of("decision", DECISIONS),
        )
    if "allocations" not in existing:
        op.create_table(
            "allocations",
            sa.Column("flag_id", sa.String, nullable=False),
            sa.Column("worker_id", sa.String, nullable=False),
            sa.Column("reallocated_by", sa.String, nullable=False),
            sa.Column("reallocated_at", sa.DateTime, nullable=False),
            sa.Column("reason", sa.String, nullable=False),
        )


def downgrade() -> None:
    for table in ("allocations", "judgements", "users"):
        op.drop_table(table)
