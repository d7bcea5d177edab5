"""Estates shared by the synth tests: one 50k-person estate per session (the base-rate scale),
and a small multi-council one for scenarios. Generated into pytest's temporary directories."""

from __future__ import annotations

import pytest
import yaml
from synth_testkit import CONTRACT_PATH, Estate

from safeguard.synth import EstateConfig, generate_estate


@pytest.fixture(scope="session")
def contract() -> dict:
    return yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def estate_50k(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    root = tmp_path_factory.mktemp("estate50k")
    summary = generate_estate(EstateConfig(people=50_000, seed=7), root / "landing", root / "truth")
    return Estate(root / "landing", root / "truth", summary)


@pytest.fixture(scope="session")
def estate_small(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    """Three extract dates, two councils and the data-loss scenario, 6,000 people."""
    root = tmp_path_factory.mktemp("estate_small")
    config = EstateConfig(people=6_000, seed=3, councils=2, history_months=2, scenario="data-loss")
    summary = generate_estate(config, root / "landing", root / "truth")
    return Estate(root / "landing", root / "truth", summary)
