"""Access control, sessions, CSRF, throttling and the audit of every family view."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from portal_client import TestClient, audit_entries, csrf_token, login, make_client, post_form
from portal_fixture import PortalFixture, password_for

from safeguard.portal.audit import family_subject
from safeguard.portal.records import portal_location
from safeguard.portal.users import disable_user

PROTECTED = [
    "/",
    "/my-families",
    "/families/{A1}",
    "/team",
    "/review",
    "/review/overrides",
    "/review/files/reports/review_pack.html",
    "/admin",
    "/admin/audit",
]


@pytest.mark.parametrize("path", PROTECTED)
def test_logged_out_access_redirects_to_login(
    client: TestClient, portal_data: PortalFixture, path: str
) -> None:
    response = client.get(path.format(A1=portal_data.flags["A1"]))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/")
    assert "Testperson" not in response.text


def test_login_next_parameter_cannot_redirect_off_site(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/")
    response = client.post(
        "/login",
        data={
            "username": "alex",
            "password": password_for("alex"),
            "csrf_token": csrf_token(page.text),
            "next": "//evil.example/",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/my-families"


def test_another_workers_family_is_the_same_404_as_a_missing_one(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    own = client.get(f"/families/{portal_data.flags['A1']}")
    assert own.status_code == 200 and "Ada Testperson" in own.text

    others = client.get(f"/families/{portal_data.flags['B1']}")  # allocated to W02
    missing = client.get("/families/fl0000000000")
    earlier_run = client.get(f"/families/{portal_data.flags['OLD']}")  # W01's, but not current
    assert others.status_code == missing.status_code == earlier_run.status_code == 404
    assert others.text == missing.text == earlier_run.text
    assert "Mockford" not in others.text and "Dummett" not in earlier_run.text


def test_posting_a_judgement_on_another_workers_family_is_404(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    response = post_form(
        client,
        f"/families/{portal_data.flags['B1']}/judgement",
        "/my-families",
        decision="disagree",
        reason="Trying to judge a family that is not mine",
    )
    assert response.status_code == 404
    assert not [e for e in audit_entries(portal_data.data_dir) if e["action"] == "decision"]


def test_former_family_member_is_not_reidentified(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    page = client.get(f"/families/{portal_data.flags['A1']}").text
    assert "Bram Testperson" in page and "Cleo Testperson" in page
    assert "Leftfamily" not in page


def _post_routes(routes: list) -> list[str]:
    """Every POST path, including those of included routers (FastAPI now nests them lazily)."""
    found = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            found += _post_routes(nested.routes)
        elif "POST" in (getattr(route, "methods", None) or set()):
            found.append(route.path)
    return sorted(found)


def test_every_post_route_rejects_a_missing_or_wrong_csrf_token(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "morgan")  # a team manager with a caseload reaches every form's handler
    routes = _post_routes(client.app.routes)  # type: ignore[attr-defined]
    assert {"/login", "/logout", "/families/{flag_id}/judgement", "/team/reallocate"} <= set(routes)
    form = {
        "decision": "agree_act",
        "reason": "A reason that is long enough",
        "worker_id": "W02",
        "flag_id": portal_data.flags["A1"],
        "username": "morgan",
        "password": password_for("morgan"),
    }
    for route in routes:
        path = route.replace("{flag_id}", portal_data.flags["A1"])
        for token in (None, "wrong-token"):
            data = form if token is None else {**form, "csrf_token": token}
            response = client.post(path, data=data)
            assert response.status_code == 403, (path, token, response.status_code)
            assert "This form could not be accepted" in response.text
    # Nothing happened: still logged in, no judgement, no reallocation.
    assert client.get("/team").status_code == 200
    actions = {e["action"] for e in audit_entries(portal_data.data_dir)}
    assert not actions & {"decision", "reallocation", "logout"}


def test_session_id_changes_at_login_and_the_old_id_is_dead(
    client: TestClient, portal_data: PortalFixture
) -> None:
    page = client.get("/login")  # Secure cookies by default (the test client speaks https)
    before = client.cookies.get("__Host-sg_session")
    assert before
    response = client.post(
        "/login",
        data={
            "username": "alex",
            "password": password_for("alex"),
            "csrf_token": csrf_token(page.text),
            "next": "/",
        },
    )
    after = client.cookies.get("__Host-sg_session")
    assert response.status_code == 303 and after and after != before
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "secure" in set_cookie

    client.cookies.set("__Host-sg_session", before)  # an attacker who planted the pre-login id
    assert client.get("/my-families").status_code == 303
    client.cookies.set("__Host-sg_session", after)
    assert client.get("/my-families").status_code == 200


def test_secure_cookies_use_the_host_prefix_and_secure_flag(portal_data: PortalFixture) -> None:
    with make_client(portal_data, base_url="https://testserver", secure_cookies=True) as client:
        page = client.get("/login")
        assert "__Host-sg_session=" in page.headers["set-cookie"]
        assert "secure" in page.headers["set-cookie"].lower()
        login(client, "alex")
        assert client.get("/my-families").status_code == 200


def test_login_is_throttled_after_five_failures(client: TestClient, clock: object) -> None:
    token = csrf_token(client.get("/login").text)
    for _ in range(5):
        bad = client.post(
            "/login", data={"username": "alex", "password": "not-the-password", "csrf_token": token}
        )
        assert bad.status_code == 401
    blocked = client.post(
        "/login", data={"username": "alex", "password": password_for("alex"), "csrf_token": token}
    )
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    login(client, "sam")  # another account from the same address is not locked out
    client.cookies.clear()
    clock.now += timedelta(minutes=16)  # type: ignore[attr-defined]
    login(client, "alex")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alex", "wrong-password-123"),
        ("nobody", "whatever-password"),
        ("gone", password_for("gone")),
    ],
)
def test_bad_credentials_and_disabled_accounts_do_not_log_in(
    client: TestClient, username: str, password: str
) -> None:
    token = csrf_token(client.get("/login").text)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 401
    assert "not right" in response.text
    assert client.get("/my-families").status_code == 303


def test_failed_logins_are_audited_without_unknown_usernames(
    client: TestClient, portal_data: PortalFixture
) -> None:
    token = csrf_token(client.get("/login").text)
    for username in ("alex", "my-secret-passphrase"):  # the second: a password in the wrong box
        client.post(
            "/login", data={"username": username, "password": "x" * 12, "csrf_token": token}
        )
    failed = [e for e in audit_entries(portal_data.data_dir) if e["action"] == "login_failed"]
    assert [e["details"]["account"] for e in failed] == ["alex", "unknown account"]
    assert (
        "my-secret-passphrase" not in (portal_data.data_dir / "audit" / "audit.jsonl").read_text()
    )


def test_logout_ends_the_session(client: TestClient) -> None:
    login(client, "alex")
    session_id = client.cookies.get("sg_session")
    response = post_form(client, "/logout", "/my-families")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.set("sg_session", session_id)
    assert client.get("/my-families").status_code == 303


def test_disabling_an_account_ends_its_live_session(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    assert client.get("/my-families").status_code == 200
    disable_user(portal_data.data_dir, "alex")
    assert client.get("/my-families").status_code == 303


@pytest.mark.parametrize(
    ("username", "forbidden"),
    [
        ("alex", ["/team", "/review", "/admin"]),
        ("riley", ["/my-families", "/team", "/admin"]),
        ("morgan", ["/review", "/admin"]),
        ("root", ["/my-families", "/team"]),
    ],
)
def test_roles_open_only_their_own_pages(
    client: TestClient, username: str, forbidden: list[str]
) -> None:
    login(client, username)
    for path in forbidden:
        assert client.get(path).status_code == 403, path


def test_reviewer_cannot_open_a_family_page(client: TestClient, portal_data: PortalFixture) -> None:
    login(client, "riley")
    response = client.get(f"/families/{portal_data.flags['A1']}")
    assert response.status_code == 403 and "Testperson" not in response.text


def test_every_family_view_is_in_the_audit_log(
    client: TestClient, portal_data: PortalFixture
) -> None:
    login(client, "alex")
    a1, a2 = portal_data.flags["A1"], portal_data.flags["A2"]
    for flag in (a1, a1, a2):
        assert client.get(f"/families/{flag}").status_code == 200
    client.get(f"/families/{portal_data.flags['B1']}")
    entries = audit_entries(portal_data.data_dir)
    views = [(e["actor"], e["subject"]) for e in entries if e["action"] == "case_view"]
    f1, f2 = (family_subject(portal_data.families[f]) for f in ("f1", "f2"))
    assert views == [("alex", f1), ("alex", f1), ("alex", f2)]
    reids = [(e["actor"], e["subject"]) for e in entries if e["action"] == "reidentification"]
    assert reids == views
    denied = [e for e in entries if e["action"] == "case_view_denied"]
    assert len(denied) == 1 and denied[0]["actor"] == "alex"
    assert not any(e["subject"] == family_subject(portal_data.families["f3"]) for e in entries)


def test_pages_carry_security_headers(client: TestClient, portal_data: PortalFixture) -> None:
    login(client, "alex")
    response = client.get(f"/families/{portal_data.flags['A1']}")
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_portal_database_is_private(client: TestClient, portal_data: PortalFixture) -> None:
    where = portal_location(portal_data.data_dir)
    assert where.backend == "sqlite" and where.path is not None  # the embedded default
    assert stat.S_IMODE(where.path.stat().st_mode) == 0o600
