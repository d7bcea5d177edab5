"""Alembic environment: migrations always run on the connection :mod:`portal.database` passes."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "portal migrations run through portal.database.upgrade (safeguard portal-db upgrade), "
        "which passes the configured database connection"
    )
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
