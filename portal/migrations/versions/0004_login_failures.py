"""Failed logins in the database, so every portal worker applies one login throttle.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.String(32), primary_key=True),  # random: DuckDB has no autoincrement
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_login_failures_key", "login_failures", ["key_hash", "failed_at"])
    op.create_index("ix_login_failures_at", "login_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_table("login_failures")
