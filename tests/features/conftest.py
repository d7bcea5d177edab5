"""Fixtures for the feature tests (helpers live in feature_tables.py)."""

from feature_tables import household

__all__ = ["household"]
