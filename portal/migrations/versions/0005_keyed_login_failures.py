"""Login-throttle rows keyed with HMAC-SHA256: the unkeyed SHA-256 rows of 0004 are deleted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Until 0004 the throttle stored SHA-256(username, client address), which anyone holding a copy
of the database could test guesses against. Those rows cannot be converted (the pair is not
stored) and no longer match any key the portal computes, so they are deleted rather than
migrated: they live for one throttle window (15 minutes by default), so the only effect is
that failures counted in the last window before the upgrade are forgotten once. On SQLite the
portal sets ``secure_delete``, so the deleted rows are overwritten in the file as well; a legacy
``portal.duckdb`` keeps them in free blocks until the file is rewritten (``safeguard purge`` and
``safeguard keys rotate`` rewrite it), PostgreSQL until (auto)vacuum.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM login_failures"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM login_failures"))
