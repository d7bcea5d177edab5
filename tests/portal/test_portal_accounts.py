"""Account administration (safeguard users ...) and demo accounts."""

from __future__ import annotations

from datetime import datetime

import pytest
import uvicorn
from portal_client import TestClient, login, make_client
from portal_fixture import PortalFixture, build_portal_data

from safeguard.portal import create_app, serve, store
from safeguard.portal.demo import create_demo_accounts
from safeguard.portal.records import read_portal_table
from safeguard.portal.store import User
from safeguard.portal.users import (
    PRODUCTION_HASHER,
    UserAdminError,
    add_user,
    disable_user,
    hash_password,
    list_users,
    portal_cursor,
    reset_password,
    verify_password,
)


def test_production_password_hashing_meets_owasp_argon2id_minimums() -> None:
    hasher = PRODUCTION_HASHER
    assert hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2
    assert hasher.hash("x" * 12).startswith("$argon2id$v=19$m=65536,t=3")


def test_passwords_are_stored_as_argon2_hashes_only(portal_data: PortalFixture) -> None:
    user = add_user(portal_data.data_dir, "newbie", "reviewer", "a-long-enough-passphrase")
    assert user.password_hash.startswith("$argon2id$")
    users = read_portal_table(portal_data.data_dir, "users")
    assert users is not None
    stored = users.loc[users["username"] == "newbie", "password_hash"].tolist()
    assert stored[0] != "a-long-enough-passphrase" and "passphrase" not in stored[0]
    assert verify_password(user, "a-long-enough-passphrase")
    assert not verify_password(user, "a-long-enough-passphrasE")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "x1", "role": "reviewer", "password": "short"}, "too short"),
        (
            {"username": "Bad Name", "role": "reviewer", "password": "long-enough-pass"},
            "not allowed",
        ),
        ({"username": "boss", "role": "overlord", "password": "long-enough-pass"}, "not one of"),
        ({"username": "prac", "role": "practitioner", "password": "long-enough-pass"}, "worker-id"),
        ({"username": "mgr", "role": "team_manager", "password": "long-enough-pass"}, "--team"),
        (
            {"username": "alex", "role": "reviewer", "password": "long-enough-pass"},
            "already exists",
        ),
    ],
)
def test_invalid_accounts_are_refused(
    portal_data: PortalFixture, kwargs: dict, message: str
) -> None:
    with pytest.raises(UserAdminError, match=message):
        add_user(portal_data.data_dir, **kwargs)


def test_disable_and_reset(client: TestClient, portal_data: PortalFixture) -> None:
    disable_user(portal_data.data_dir, "sam")
    assert {u.username: u.disabled for u in list_users(portal_data.data_dir)}["sam"] is True
    reset_password(portal_data.data_dir, "sam", "a-brand-new-passphrase")
    login(client, "sam", "a-brand-new-passphrase")
    with pytest.raises(UserAdminError, match="no user 'ghost'"):
        disable_user(portal_data.data_dir, "ghost")


def test_no_account_exists_unless_created(tmp_path) -> None:
    fixture = build_portal_data(tmp_path / "data")
    create_app(fixture.data_dir)
    assert list_users(fixture.data_dir) == []


def test_demo_accounts_cover_every_flagged_worker_and_each_role(tmp_path) -> None:
    fixture = build_portal_data(tmp_path / "data")
    accounts = create_demo_accounts(fixture.data_dir)
    practitioners = {worker for _, _, role, worker in accounts if role == "practitioner"}
    assert practitioners == {"W01", "W02", "W03"}  # W04 has no flags
    assert sorted(role for _, _, role, _ in accounts if role != "practitioner") == [
        "admin",
        "reviewer",
        "team_manager",
    ]
    users = {u.username: u for u in list_users(fixture.data_dir)}
    assert users["demo-manager"].team == "North"  # the team with most flags
    for username, password, _, _ in accounts:
        assert len(password) >= 12 and verify_password(users[username], password)
    again = create_demo_accounts(fixture.data_dir)  # re-run: same accounts, new passwords
    assert [a[0] for a in again] == [a[0] for a in accounts]
    assert all(a[1] != b[1] for a, b in zip(again, accounts, strict=True))
    assert len(list_users(fixture.data_dir)) == len(accounts)


def test_pages_say_when_the_pipeline_has_not_run(tmp_path) -> None:
    data_dir = tmp_path / "empty"
    # An account left from an earlier install: add_user itself now needs the workers table.
    with portal_cursor(data_dir) as cur:
        store.insert_user(
            cur,
            User("early", "Early", "practitioner", "W01", None,
                 hash_password("a-long-enough-passphrase"), False, datetime(2026, 1, 1)),
        )  # fmt: skip
    fixture = PortalFixture(data_dir=data_dir, flags={}, families={}, identities=())
    with make_client(fixture) as client:
        login(client, "early", "a-long-enough-passphrase")
        response = client.get("/my-families")
    assert response.status_code == 503
    assert "no serving snapshot has been published" in response.text
    assert "safeguard run" in response.text


def test_serve_listens_on_loopback_by_default(
    monkeypatch: pytest.MonkeyPatch, portal_data: PortalFixture
) -> None:
    calls = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: calls.append(self.config))
    serve(portal_data.data_dir, port=8765)
    (config,) = calls
    assert config.host == "127.0.0.1" and config.port == 8765 and config.workers == 1
    assert config.app.state.portal.settings.data_dir == portal_data.data_dir
    assert config.app.state.portal.settings.secure_cookies  # Secure unless told otherwise
    assert config.proxy_headers is False  # no forwarded header is believed by default
