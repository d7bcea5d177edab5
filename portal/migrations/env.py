"""Alembic environment: migrations always run on the connection :mod:`safeguard.portal.database` passes."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "portal migrations run through safeguard.portal.database.upgrade (safeguard portal-db upgrade), "
        "which passes the configured database connection"
    )
# Its own version table: Dagster's instance storage keeps `alembic_version` for itself, and a
# council may put both in one PostgreSQL database.
context.configure(
    connection=connection,
    target_metadata=None,
    transactional_ddl=True,
    version_table="portal_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
