"""Council sign-in end to end against an OpenID Connect provider on loopback (real protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oidc_provider import CLIENT_ID, CLIENT_SECRET, REDIRECT_URL, Provider
from portal_client import TestClient, audit_entries, fixed_clock, live_server, login, make_client
from portal_fixture import PortalFixture

from safeguard.portal.oidc import SSO_PASSWORD_HASH, OidcSettings
from safeguard.portal.users import list_users

NOW = datetime(2026, 3, 21, 9, 30)
ROLE_GROUPS = (("sg-admins", "admin"), ("sg-managers", "team_manager"),
               ("sg-practitioners", "practitioner"))  # fmt: skip


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    provider = Provider()
    with live_server(provider.app()) as base:
        provider.issuer = base
        yield provider


@pytest.fixture(autouse=True)
def _reset(provider: Provider) -> Iterator[None]:
    saved = (provider.audience, provider.lifetime_s, dict(provider.claims))
    yield
    provider.audience, provider.lifetime_s, provider.claims = saved[0], saved[1], saved[2]


@pytest.fixture
def sso_client(portal_data: PortalFixture, provider: Provider) -> Iterator[TestClient]:
    oidc = OidcSettings(
        issuer=provider.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_url=REDIRECT_URL,
        role_groups=ROLE_GROUPS,
    )
    with make_client(portal_data, clock=fixed_clock(NOW), oidc=oidc) as client:
        yield client


def _sign_in(client: TestClient, next_path: str = "/") -> httpx.Response:
    """What a browser does: portal -> provider (over HTTP) -> portal callback."""
    start = client.get("/login/oidc", params={"next": next_path})
    assert start.status_code == 303, start.text[:200]
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["nonce"][0] and query["state"][0] and "openid" in query["scope"][0]
    answer = httpx.get(authorize, follow_redirects=False)  # the provider, on real HTTP
    assert answer.status_code == 302, answer.text[:200]
    back = urlsplit(answer.headers["location"])
    assert f"https://{back.netloc}{back.path}" == REDIRECT_URL
    return client.get(f"{back.path}?{back.query}")


def test_a_practitioner_signs_in_with_the_council_account(
    sso_client: TestClient, portal_data: PortalFixture, provider: Provider
) -> None:
    assert "Sign in with your council account" in sso_client.get("/login").text
    pkce_before = provider.verified_pkce
    response = _sign_in(sso_client)
    assert response.status_code == 303 and response.headers["location"] == "/my-families"
    assert provider.verified_pkce == pkce_before + 1  # the token endpoint checked the verifier
    page = sso_client.get("/my-families")
    assert page.status_code == 200 and portal_data.flags["A1"] in page.text  # worker W01's flag
    account = next(u for u in list_users(portal_data.data_dir) if "pat" in u.username)
    assert account.username == "pat.social@council.example"
    assert account.role == "practitioner" and account.worker_id == "W01"
    assert account.password_hash == SSO_PASSWORD_HASH  # no password exists to guess
    logins = [e for e in audit_entries(portal_data.data_dir) if e["action"] == "login"]
    assert logins[-1]["actor"] == account.username


def test_the_role_follows_the_groups_claim(
    sso_client: TestClient, portal_data: PortalFixture, provider: Provider
) -> None:
    provider.claims = {**provider.claims, "groups": ["sg-admins", "sg-practitioners"]}
    response = _sign_in(sso_client)
    assert response.headers["location"] == "/admin"  # first matching mapping wins
    provider.claims = {**provider.claims, "groups": ["all-staff"]}  # left every mapped group
    with make_client(
        portal_data, clock=fixed_clock(NOW), oidc=sso_client.app.state.portal.settings.oidc
    ) as other:
        refused = _sign_in(other)
    assert refused.status_code == 403
    assert "did not complete" in refused.text and "all-staff" not in refused.text


@pytest.mark.parametrize(
    ("bend", "why"),
    [
        ({"audience": "another-application"}, "ID token refused"),
        ({"lifetime_s": -600}, "ID token refused"),  # expired ten minutes ago
    ],
    ids=["wrong-audience", "expired"],
)
def test_a_token_for_someone_else_or_out_of_date_is_refused(
    sso_client: TestClient,
    portal_data: PortalFixture,
    provider: Provider,
    bend: dict[str, object],
    why: str,
) -> None:
    for name, value in bend.items():
        setattr(provider, name, value)
    response = _sign_in(sso_client)
    assert response.status_code == 401 and "did not complete" in response.text
    assert sso_client.get("/my-families").status_code == 303  # still not signed in
    failed = [e for e in audit_entries(portal_data.data_dir) if e["action"] == "login_failed"]
    assert why in failed[-1]["details"]["reason"]
    assert not any("pat" in u.username for u in list_users(portal_data.data_dir))


def test_an_answer_meant_for_another_browser_is_refused(
    sso_client: TestClient, portal_data: PortalFixture, provider: Provider
) -> None:
    start = sso_client.get("/login/oidc")
    answer = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(answer.headers["location"])
    oidc = sso_client.app.state.portal.settings.oidc
    with make_client(portal_data, clock=fixed_clock(NOW), oidc=oidc) as attacker:
        attacker.get("/login")  # its own pre-login session
        response = attacker.get(f"{back.path}?{back.query}")  # login CSRF: a planted code
    assert response.status_code == 401
    replay = sso_client.get(f"{back.path}?{back.query}")  # the state is used up either way
    assert replay.status_code == 401


def test_local_break_glass_accounts_stay_and_cannot_be_taken_over(
    sso_client: TestClient, portal_data: PortalFixture, provider: Provider
) -> None:
    login(sso_client, "root")  # the local admin still signs in with its password
    assert sso_client.get("/admin").status_code == 200
    provider.claims = {**provider.claims, "preferred_username": "root", "groups": ["sg-admins"]}
    oidc = sso_client.app.state.portal.settings.oidc
    with make_client(portal_data, clock=fixed_clock(NOW), oidc=oidc) as other:
        response = _sign_in(other)
    assert response.status_code == 403
    root = next(u for u in list_users(portal_data.data_dir) if u.username == "root")
    assert root.password_hash.startswith("$argon2id$")


def test_without_a_provider_the_sign_in_route_does_not_exist(client: TestClient) -> None:
    assert client.get("/login/oidc").status_code == 404
    assert "council account" not in client.get("/login").text
