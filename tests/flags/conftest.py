"""Shared fixtures for the flag tests: one small estate, its features and a tiny fitted model."""

from __future__ import annotations

import pandas as pd
import pytest
from flag_tables import AS_OF, fitted_model, random_estate

from safeguard.features import build_family_features
from safeguard.flags.flagging import family_districts
from safeguard.models.estimator import RiskModel


@pytest.fixture(scope="session")
def estate() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(events, families, people)`` for 60 families."""
    return random_estate(60, seed=1)


@pytest.fixture(scope="session")
def family_features(estate: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    events, families, people = estate
    return build_family_features(events, families, people, AS_OF)


@pytest.fixture(scope="session")
def districts(estate: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> pd.Series:
    events, families, _ = estate
    return family_districts(events, families, AS_OF)


@pytest.fixture(scope="session")
def model() -> RiskModel:
    return fitted_model()
