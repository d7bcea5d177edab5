"""Alembic migrations of the portal database (run by :func:`safeguard.portal.database.upgrade`)."""
