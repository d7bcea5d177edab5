"""Finding 5 and the portal half of finding 10: forwarded headers, login timing, sessions after a
reset, password policy, passwords off argv, Secure cookies, real worker ids.

Each test failed on the code before the fix: uvicorn believed X-Forwarded-For from loopback (so
the login throttle could be walked past), an unknown username skipped argon2 (7 ms against
295 ms), a password reset left existing sessions alive, 12 characters and a breached password
were enough, ``--password`` put the password in argv, cookies were not Secure by default, and a
practitioner could be given a worker id that does not exist.
"""

from __future__ import annotations

import warnings

import pytest
import uvicorn
from portal_client import TestClient, csrf_token, login, make_client
from portal_fixture import PortalFixture, password_for
from typer.testing import CliRunner

import safeguard.portal.users
from safeguard.portal import serve
from safeguard.portal.settings import PortalSettings
from safeguard.portal.users import UserAdminError, add_user, disable_user, reset_password

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient as StarletteClient


def _fail_login(client: StarletteClient, headers: dict[str, str]) -> int:
    token = csrf_token(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "alex", "password": "not-the-password", "csrf_token": token},
        headers=headers,
    )
    return response.status_code


def _served_config(monkeypatch: pytest.MonkeyPatch, data_dir, **kwargs) -> uvicorn.Config:
    """The uvicorn configuration ``safeguard.portal.serve`` would run, captured instead of served."""
    captured: list[uvicorn.Config] = []
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda self, sockets=None: captured.append(self.config)
    )
    monkeypatch.setattr(
        uvicorn, "run", lambda app, **options: captured.append(uvicorn.Config(app, **options))
    )
    serve(data_dir, **kwargs)
    (config,) = captured
    config.load()  # the app exactly as uvicorn would serve it (proxy middleware included)
    return config


def test_forwarded_for_from_loopback_does_not_reset_the_throttle(
    portal_data: PortalFixture, monkeypatch: pytest.MonkeyPatch
):
    config = _served_config(monkeypatch, portal_data.data_dir)
    with StarletteClient(
        config.loaded_app, base_url="https://testserver", client=("127.0.0.1", 40000)
    ) as client:
        codes = [_fail_login(client, {"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]


def test_a_named_trusted_proxy_is_believed(
    portal_data: PortalFixture, monkeypatch: pytest.MonkeyPatch
):
    config = _served_config(monkeypatch, portal_data.data_dir, trusted_proxies=["127.0.0.1"])
    with StarletteClient(
        config.loaded_app, base_url="https://testserver", client=("127.0.0.1", 40000)
    ) as client:
        codes = [_fail_login(client, {"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(7)]
    assert codes == [401] * 7  # a different client each time, as the proxy says


def test_unknown_usernames_cost_one_argon2_verification(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    verified: list[str] = []
    hasher = safeguard.portal.users._HASHER
    dummy = safeguard.portal.users._dummy_hash()

    class Counting:
        def hash(self, password: str) -> str:
            return hasher.hash(password)

        def verify(self, password_hash: str, password: str) -> bool:
            verified.append(password_hash)
            return hasher.verify(password_hash, password)

    monkeypatch.setattr(safeguard.portal.users, "_HASHER", Counting())
    for username in ("nobody-here", "alex"):
        token = csrf_token(client.get("/login").text)
        response = client.post(
            "/login",
            data={"username": username, "password": "wrong-password-xyz", "csrf_token": token},
        )
        assert response.status_code == 401
    assert len(verified) == 2  # the unknown name was verified too, against the dummy hash
    assert verified[0] == dummy


@pytest.mark.parametrize("change", ["reset", "disable_then_reset"])
def test_password_reset_ends_every_existing_session(
    portal_data: PortalFixture, clock: object, change: str
):
    with (
        make_client(portal_data, clock=clock) as first,
        make_client(portal_data, clock=clock) as other,
    ):
        for browser in (first, other):
            login(browser, "alex")
            assert browser.get("/my-families").status_code == 200
        if change == "disable_then_reset":
            disable_user(portal_data.data_dir, "alex")
        reset_password(portal_data.data_dir, "alex", "a-quite-new-passphrase-for-alex")
        for browser in (first, other):
            response = browser.get("/my-families")
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
        login(first, "alex", "a-quite-new-passphrase-for-alex")
        assert first.get("/my-families").status_code == 200


@pytest.mark.parametrize(
    "password",
    [
        "thirteen-char",  # 13 characters: more than 12 is not enough
        "Password123456!",  # on the breached lists with a common pattern
        "passwordpassword",
        "qwertyuiop123456",
        "iloveyou12345678",
        "newbie-newbie-newbie",  # the account's own name
    ],
)
def test_weak_or_breached_passwords_are_refused_without_echo(
    portal_data: PortalFixture, password: str
):
    with pytest.raises(UserAdminError) as refused:
        add_user(portal_data.data_dir, "newbie", "reviewer", password)
    assert password not in str(refused.value)


def test_a_long_unguessable_passphrase_is_accepted(portal_data: PortalFixture):
    add_user(portal_data.data_dir, "newbie", "reviewer", "cobalt walrus under amber kites")


def test_practitioners_need_a_worker_id_from_the_workers_table(portal_data: PortalFixture):
    with pytest.raises(UserAdminError, match="not in the workers table"):
        add_user(
            portal_data.data_dir, "ghostly", "practitioner", "cobalt walrus under amber kites",
            worker_id="W99",
        )  # fmt: skip
    with pytest.raises(UserAdminError, match="not a team"):
        add_user(
            portal_data.data_dir, "boss", "team_manager", "cobalt walrus under amber kites",
            team="Nowhere",
        )  # fmt: skip
    add_user(
        portal_data.data_dir, "realone", "practitioner", "cobalt walrus under amber kites",
        worker_id="W02",
    )  # fmt: skip


def test_cookies_are_secure_unless_plain_http_is_asked_for(portal_data: PortalFixture):
    assert PortalSettings(data_dir=portal_data.data_dir).secure_cookies
    with make_client(portal_data) as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert cookie.startswith("__host-sg_session=") and "secure" in cookie
    with make_client(portal_data, base_url="http://testserver", secure_cookies=False) as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert cookie.startswith("sg_session=") and "secure" not in cookie


def test_cli_takes_passwords_from_stdin_or_a_prompt_never_argv(portal_data: PortalFixture):
    from safeguard.cli import app

    runner = CliRunner()
    secret = "cobalt walrus under amber kites"
    args = ["users", "add", "clinew", "--role", "reviewer", "--data-dir", str(portal_data.data_dir)]
    refused = runner.invoke(app, [*args, "--password", secret])
    assert refused.exit_code != 0  # there is no such option any more
    via_stdin = runner.invoke(app, [*args, "--password-stdin"], input=secret + "\n")
    assert via_stdin.exit_code == 0, via_stdin.output
    via_prompt = runner.invoke(
        app, ["users", "reset", "clinew", "--data-dir", str(portal_data.data_dir)],
        input="another cobalt walrus at dawn\nanother cobalt walrus at dawn\n",
    )  # fmt: skip
    assert via_prompt.exit_code == 0, via_prompt.output
    assert secret not in via_stdin.output and "another cobalt" not in via_prompt.output
    with make_client(portal_data) as client:
        login(client, "clinew", "another cobalt walrus at dawn")


def test_demo_login_still_works_over_plain_http_with_the_explicit_flag(portal_data: PortalFixture):
    with make_client(portal_data, base_url="http://testserver", secure_cookies=False) as client:
        login(client, "alex", password_for("alex"))
        assert client.get("/my-families").status_code == 200
