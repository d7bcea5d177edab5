"""One settings model: environment over file over defaults, validated at start-up, documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import uvicorn

from safeguard.portal.settings import PortalSettings
from safeguard.settings import (
    SETTINGS_FILE_ENV,
    SafeguardSettings,
    SettingsError,
    load_settings,
    unknown_variables,
)

REPO = Path(__file__).resolve().parents[2]
SECRET = "not-hex-but-secret-value"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the variables a test sets (the suite's own audit variables stay valid)."""
    import os

    for name in list(os.environ):
        if name.startswith("SAFEGUARD_") and not name.startswith("SAFEGUARD_AUDIT"):
            monkeypatch.delenv(name)


def test_environment_wins_over_the_file_which_wins_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file = tmp_path / "safeguard.toml"
    settings_file.write_text(
        'data_dir = "/srv/safeguard/data"\nportal_port = 8443\n'
        'alert_email_to = ["dt@council.example"]\nalert_smtp_host = "relay"\n'
        'alert_email_from = "safeguard@council.example"\n'
    )
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(settings_file))
    monkeypatch.setenv("SAFEGUARD_PORTAL_PORT", "9000")
    monkeypatch.setenv("SAFEGUARD_PORTAL_TRUSTED_PROXIES", "10.0.0.5, 10.0.0.6")
    settings = load_settings()
    assert settings.data_dir == Path("/srv/safeguard/data")  # file
    assert settings.portal_port == 9000  # environment over file
    assert settings.portal_trusted_proxies == ["10.0.0.5", "10.0.0.6"]  # comma-separated
    assert settings.alert_email_to == ["dt@council.example"]
    assert settings.portal_session_idle_minutes == 30  # default
    assert settings.landing_dir == Path("/srv/safeguard/data/landing")
    assert load_settings(portal_port=7000).portal_port == 7000  # the command line wins


def test_every_bad_value_is_named_at_once_and_secrets_are_not_repeated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", SECRET)
    monkeypatch.setenv("SAFEGUARD_PORTAL_PORT", "eighty")
    monkeypatch.setenv("SAFEGUARD_LOG_FORMAT", "xml")
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KY", "00" * 32)  # a typo would be ignored silently
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    for name in ("SAFEGUARD_PSEUDONYM_KEY", "SAFEGUARD_PORTAL_PORT", "SAFEGUARD_LOG_FORMAT"):
        assert name in message
    assert "SAFEGUARD_PSEUDONYM_KY: not a safeguard setting" in message
    assert SECRET not in message


def test_secrets_are_masked_when_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "ab" * 32
    url = "postgresql+psycopg://safeguard:hunter2-long@db/safeguard"
    monkeypatch.setenv("SAFEGUARD_PSEUDONYM_KEY", key)
    monkeypatch.setenv("SAFEGUARD_PORTAL_DATABASE_URL", url)
    shown = load_settings().described()
    assert shown["SAFEGUARD_PSEUDONYM_KEY"] == "********"
    assert key not in str(shown) and "hunter2" not in str(shown)
    assert load_settings().portal_database() == url


def test_inconsistent_alerting_and_anchor_inside_data_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="alert_email_from and alert_email_to"):
        load_settings(alert_smtp_host="relay.council.example")
    with pytest.raises(SettingsError, match="outside data_dir"):
        load_settings(data_dir=tmp_path, audit_anchor_dir=tmp_path / "anchors")


def test_a_settings_file_with_an_unknown_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file = tmp_path / "safeguard.toml"
    settings_file.write_text("portal_prot = 8443\n")
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(settings_file))
    with pytest.raises(SettingsError, match=r"unknown setting.*portal_prot"):
        load_settings()


def test_the_portal_takes_its_part_of_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, portal_session_idle_minutes=12, portal_trusted_proxies=["10.1.1.1"]
    )
    portal = PortalSettings.from_settings(settings)
    assert portal.data_dir == tmp_path and portal.session_idle_minutes == 12
    assert portal.trusted_proxies == ("10.1.1.1",)
    assert portal.portal_database_url == f"sqlite:///{tmp_path.absolute()}/portal.sqlite"


def test_the_portal_does_not_start_on_bad_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safeguard.portal import serve

    started = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: started.append(self))
    monkeypatch.setenv("SAFEGUARD_PORTAL_SESSION_IDLE_MINUTES", "0")
    with pytest.raises(SettingsError, match="SAFEGUARD_PORTAL_SESSION_IDLE_MINUTES"):
        serve(tmp_path)
    assert not started


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"\| `(SAFEGUARD_[A-Z_]+)` \|", readme))
    expected = {f"SAFEGUARD_{name.upper()}" for name in SafeguardSettings.model_fields}
    assert expected <= documented, sorted(expected - documented)
    assert not unknown_variables({name: "" for name in documented}), "README lists a non-setting"


def test_council_sign_in_needs_its_whole_registration_over_https() -> None:
    with pytest.raises(SettingsError, match="oidc_client_id, oidc_client_secret"):
        load_settings(oidc_issuer="https://login.example/tenant/v2.0")
    complete = {
        "oidc_issuer": "https://login.example/tenant/v2.0",
        "oidc_client_id": "portal",
        "oidc_client_secret": "s3cret-value",
        "oidc_redirect_url": "https://portal.council.example/login/oidc/callback",
        "oidc_role_groups": "sg-admins=admin, sg-staff=practitioner",
    }
    settings = load_settings(**complete)
    assert settings.oidc_role_pairs() == (("sg-admins", "admin"), ("sg-staff", "practitioner"))
    oidc = PortalSettings.from_settings(settings).oidc
    assert oidc is not None and oidc.client_secret == "s3cret-value"
    assert "s3cret-value" not in repr(oidc)
    with pytest.raises(SettingsError, match="must be https"):
        load_settings(**{**complete, "oidc_issuer": "http://login.example/tenant"})
    with pytest.raises(SettingsError, match="GROUP=ROLE"):
        load_settings(**{**complete, "oidc_role_groups": "sg-admins=superuser"})
