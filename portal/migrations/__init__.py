"""Alembic migrations of the portal database (run by :func:`portal.database.upgrade`)."""
