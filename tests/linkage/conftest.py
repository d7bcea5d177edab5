"""Fixtures for the linkage tests (the record generator lives in linkage_fakes.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from linkage_fakes import FAST, KEYS, make_people, make_records, planted_records

from safeguard import linkage


@pytest.fixture(scope="module")
def estate_records() -> pd.DataFrame:
    """~1,500 noisy records of ~500 people plus the planted cases, with true_person_id."""
    people = make_people(150, seed=11)
    records = make_records(people, seed=12)
    return pd.concat([records, planted_records()], ignore_index=True)


@pytest.fixture(scope="module")
def estate_result(estate_records: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    """One linkage run of the test estate, shared by the tests of a module."""
    artefacts = tmp_path_factory.mktemp("linkage_artefacts")
    return linkage.link_with_details(
        keys=KEYS,
        records=estate_records.drop(columns="true_person_id"),
        config=FAST,
        artefact_dir=artefacts,
    )
