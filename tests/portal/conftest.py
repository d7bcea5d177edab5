"""Fixtures for portal tests: a synthetic data directory (built once, copied per test) and clients."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import safeguard.portal.users

sys.path.insert(0, str(Path(__file__).parent))

from portal_client import TestClient, fixed_clock, make_client
from portal_fixture import PortalFixture, add_fixture_users, build_portal_data

NOW = datetime(2026, 3, 21, 9, 30)  # 20 days after the fixture's as-of date


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Same algorithm, minimal cost: production argon2 (64 MiB, t=3) takes 0.1-0.5 s a login here.

    Hashes carry their own parameters, so verification is unaffected; the production parameters
    are checked in test_portal_accounts.py.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            safeguard.portal.users,
            "_HASHER",
            PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        )
        safeguard.portal.users._dummy_hash.cache_clear()
        yield
    safeguard.portal.users._dummy_hash.cache_clear()


def _data_docs(data_dir: Path) -> None:
    """Real GX Data Docs (one small suite run), as the pipeline publishes them."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "expectations"))
    from gx_frames import workers_frame

    from safeguard.expectations import build_data_docs, run_suite

    build_data_docs([run_suite("workers", workers_frame())], data_dir / "data_docs")


@pytest.fixture(scope="session")
def portal_template(tmp_path_factory: pytest.TempPathFactory) -> PortalFixture:
    fixture = build_portal_data(tmp_path_factory.mktemp("portal-template") / "data")
    _data_docs(fixture.data_dir)
    add_fixture_users(fixture.data_dir)
    return fixture


@pytest.fixture
def portal_data(portal_template: PortalFixture, tmp_path: Path) -> PortalFixture:
    """A private copy of the synthetic data directory (tests write judgements and audit)."""
    data_dir = tmp_path / "data"
    shutil.copytree(portal_template.data_dir, data_dir)
    return replace(portal_template, data_dir=data_dir)


@pytest.fixture
def clock() -> object:
    return fixed_clock(NOW)


@pytest.fixture
def client(portal_data: PortalFixture, clock: object) -> Iterator[TestClient]:
    with make_client(portal_data, clock=clock) as c:
        yield c
