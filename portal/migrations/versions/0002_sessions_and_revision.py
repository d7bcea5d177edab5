"""Sessions in the database (they survive a restart and are shared by workers), recording order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("csrf_token", sa.String, nullable=False),
        sa.Column("username", sa.String),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("credential_epoch", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "portal_revision",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO portal_revision (id, revision) VALUES (1, 0)")
    # Earlier rows keep seq 0 and are ordered among themselves by time, as before.
    for table in ("judgements", "allocations"):
        # DuckDB cannot add a column with a NOT NULL constraint; every insert sets it.
        op.add_column(table, sa.Column("seq", sa.BigInteger, server_default="0"))


def downgrade() -> None:
    for table in ("judgements", "allocations"):
        op.drop_column(table, "seq")
    op.drop_table("portal_revision")
    op.drop_table("sessions")
