"""One typed settings model for every process (pipeline, portal, command line, services).

Values come, highest first, from keyword arguments, ``SAFEGUARD_*`` environment variables, an
optional TOML settings file (``SAFEGUARD_SETTINGS_FILE``, keys named as the fields below without
the prefix) and the defaults. :func:`load_settings` validates everything at start-up and raises
one :class:`SettingsError` naming every bad variable, without echoing secret values.

``python -m safeguard.settings`` prints the effective settings (secrets masked) or the errors.
Every field is documented in the README's "Settings" section; a test keeps the two in step.
"""

from __future__ import annotations

import os
import sys
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from safeguard.contracts.layout import DataDir
from safeguard.dpia.audit_anchor import AuditSettings

PREFIX = "SAFEGUARD_"
SETTINGS_FILE_ENV = "SAFEGUARD_SETTINGS_FILE"
# Read by code outside this model on purpose (test-only fault injection), so not a typo.
OTHER_KNOWN_VARIABLES = frozenset({SETTINGS_FILE_ENV, "SAFEGUARD_FAULT_INJECTION"})


# Lists are written comma-separated in the environment ("a@x.gov.uk,b@x.gov.uk").
TextList = Annotated[list[str], NoDecode]


class SettingsError(ValueError):
    """The settings cannot be used; the message names each variable and what is wrong."""


class _TomlFile(PydanticBaseSettingsSource):
    """Values from the TOML file named by ``SAFEGUARD_SETTINGS_FILE`` (absent: nothing)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        configured = os.environ.get(SETTINGS_FILE_ENV)
        self.path = Path(configured) if configured else None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole table

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            with self.path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError as error:
            raise SettingsError(f"{SETTINGS_FILE_ENV}: {self.path} does not exist") from error
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{SETTINGS_FILE_ENV}: {self.path} is not TOML: {error}") from error
        unknown = sorted(set(data) - set(self.settings_cls.model_fields))
        if unknown:
            raise SettingsError(
                f"{self.path}: unknown setting(s) {', '.join(unknown)} "
                "(keys are the field names without the SAFEGUARD_ prefix, in lower case)"
            )
        return data


class SafeguardSettings(BaseSettings):
    """Every setting of a safeguard deployment.

    Paths left unset keep the behaviour of the command-line defaults (``data`` as the data
    directory, ``DATA/landing`` for drops, the register and profile shipped in the package).
    """

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="forbid", case_sensitive=False, validate_default=True
    )

    # --- pipeline -----------------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Data directory (warehouse, vault, reports).")
    landing: Path | None = Field(
        None, description="Landing folder of drops (default DATA/landing)."
    )
    truth_dir: Path | None = Field(None, description="Synthetic ground truth (demo/bench only).")
    as_of: date | None = Field(None, description="As-of date of the run (default: the extract).")
    config: Path | None = Field(None, description="Council configuration YAML (capacity, gates).")
    dpia_register: Path | None = Field(None, description="DPIA register YAML (default: packaged).")
    governance_profile: Path | None = Field(None, description="Governance profile YAML.")
    # --- keys (secrets: never printed) --------------------------------------------------------
    pseudonym_key: SecretStr | None = Field(None, description="Pseudonym HMAC key, hex.")
    audit_key: SecretStr | None = Field(None, description="Audit-trail HMAC key, hex.")
    audit_key_file: Path | None = Field(None, description="File holding the audit key.")
    audit_anchor_dir: Path | None = Field(None, description="Audit anchors, outside DATA.")
    # --- portal -------------------------------------------------------------------------------
    portal_database_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the portal database (default: DATA/portal.sqlite)."
    )
    portal_host: str = Field("127.0.0.1", description="Interface the portal listens on.")
    portal_port: int = Field(8000, ge=1, le=65535, description="Portal TCP port.")
    portal_secure_cookies: bool = Field(True, description="Session cookie over HTTPS only.")
    portal_trusted_proxies: TextList = Field(
        default_factory=list, description="Reverse proxies whose X-Forwarded-* are believed."
    )
    portal_overdue_after_days: int = Field(14, ge=1, description="Days before a review is late.")
    portal_session_idle_minutes: int = Field(30, ge=1, description="Session idle expiry.")
    portal_session_absolute_hours: int = Field(8, ge=1, description="Session absolute expiry.")
    portal_throttle_max_failures: int = Field(5, ge=1, description="Failed logins allowed.")
    portal_throttle_window_s: int = Field(900, ge=1, description="Failed-login window, seconds.")
    portal_idle_release_s: float = Field(5.0, gt=0, description="Close idle database files.")
    # --- council sign-in (OpenID Connect) -----------------------------------------------------
    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer URL (https).")
    oidc_client_id: str | None = Field(None, description="The portal's client id there.")
    oidc_client_secret: SecretStr | None = Field(None, description="The portal's client secret.")
    oidc_redirect_url: str | None = Field(None, description="https://PORTAL/login/oidc/callback")
    oidc_role_groups: TextList = Field(
        default_factory=list, description="group=role pairs, first match wins."
    )
    oidc_scopes: str = Field("openid profile email", description="Scopes asked for.")
    oidc_groups_claim: str = Field("groups", description="Claim holding the groups.")
    oidc_username_claim: str = Field("preferred_username", description="Claim naming the user.")
    oidc_worker_claim: str = Field("employee_id", description="Claim with the worker id.")
    oidc_team_claim: str = Field("department", description="Claim with the team.")
    # --- logs and alerts ----------------------------------------------------------------------
    log_format: Literal["text", "json"] = Field("text", description="Log lines as text or JSON.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Level.")
    alert_smtp_host: str | None = Field(None, description="SMTP relay for alert e-mails.")
    alert_smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    alert_smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection (STARTTLS).")
    alert_smtp_username: str | None = Field(None, description="SMTP login, if the relay needs it.")
    alert_smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    alert_email_from: str | None = Field(None, description="Sender of alert e-mails.")
    alert_email_to: TextList = Field(default_factory=list, description="Data team addresses.")
    alert_teams_webhook: SecretStr | None = Field(None, description="Teams incoming webhook URL.")
    alert_drop_due_day: int | None = Field(
        None, ge=1, le=28, description="Day of the month a drop is due by (late-drop alert)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFile(settings_cls))

    @field_validator("portal_trusted_proxies", "alert_email_to", "oidc_role_groups", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("pseudonym_key", "audit_key")
    @classmethod
    def _hex_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            key = bytes.fromhex(value.get_secret_value().strip())
        except ValueError:
            raise ValueError("must be hex, e.g. from `python -c 'import secrets; "
                             "print(secrets.token_hex(32))'`") from None  # fmt: skip
        if len(key) < 16:
            raise ValueError(f"holds {len(key)} bytes; at least 16 are needed")
        return value

    @field_validator("config", "dpia_register", "governance_profile")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SafeguardSettings:
        if self.alert_smtp_host and not (self.alert_email_from and self.alert_email_to):
            raise ValueError(
                "alert_smtp_host is set: set alert_email_from and alert_email_to as well"
            )
        if self.oidc_issuer is not None:
            missing = [
                name
                for name in ("oidc_client_id", "oidc_client_secret", "oidc_redirect_url")
                if getattr(self, name) is None
            ]
            if missing or not self.oidc_role_groups:
                raise ValueError(
                    "oidc_issuer is set: set "
                    + ", ".join(
                        [*missing, *([] if self.oidc_role_groups else ["oidc_role_groups"])]
                    )
                )
            for url in (self.oidc_issuer, self.oidc_redirect_url or ""):
                if not _https_or_loopback(url):
                    raise ValueError(f"{url} must be https:// (plain http only on loopback)")
            self.oidc_role_pairs()  # raises on a malformed or unknown role
        if self.audit_anchor_dir is not None and _inside(self.audit_anchor_dir, self.data_dir):
            raise ValueError("audit_anchor_dir must be outside data_dir (anchors guard the data)")
        return self

    @property
    def landing_dir(self) -> Path:
        return self.landing if self.landing is not None else DataDir(self.data_dir).landing

    def portal_database(self) -> str:
        """The portal database URL, defaulting to the embedded file in the data directory."""
        if self.portal_database_url is not None:
            return self.portal_database_url.get_secret_value()
        layout = DataDir(self.data_dir)
        if layout.legacy_portal_db.exists() and not layout.portal_db.exists():
            # before SQLite was the default (safeguard.portal.database.default_url, the same rule)
            return f"duckdb:///{layout.legacy_portal_db.absolute()}"
        return f"sqlite:///{layout.portal_db.absolute()}"

    def oidc_role_pairs(self) -> tuple[tuple[str, str], ...]:
        """``oidc_role_groups`` as (group, role) pairs, checked against the portal's roles."""
        roles = ("practitioner", "team_manager", "reviewer", "admin")
        pairs = []
        for item in self.oidc_role_groups:
            group, _, role = item.rpartition("=")
            if not group or role not in roles:
                raise ValueError(
                    f"oidc_role_groups item {item!r}: write GROUP=ROLE, ROLE in {roles}"
                )
            pairs.append((group, role))
        return tuple(pairs)

    def described(self) -> dict[str, str]:
        """Every setting as text for display; secrets masked, URL passwords hidden."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "********"
            elif value is None:
                text = "(unset)"
            else:
                text = ", ".join(value) if isinstance(value, list) else str(value)
            shown[PREFIX + name.upper()] = text
        return shown


def _https_or_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    return parts.scheme == "https" or (parts.scheme == "http" and loopback)


def _inside(path: Path, folder: Path) -> bool:
    return path.absolute().resolve().is_relative_to(folder.absolute().resolve())


def raw_setting(name: str) -> str | None:
    """One setting's raw text from the environment or the settings file, the rest unread.

    For a library call deep inside a process (e.g. which portal database the command line
    opens) that must not fail on an unrelated setting; processes validate everything once at
    start-up with :func:`load_settings`.
    """
    value = os.environ.get(PREFIX + name.upper())
    if value is None:
        value = _TomlFile(SafeguardSettings)().get(name)
    return None if value is None else str(value)


def audit_settings(data_dir: Path | None = None) -> AuditSettings:
    """The audit key's source and the anchor folder, from ``audit_key``, ``audit_key_file``
    and ``audit_anchor_dir`` (defaults under ``$XDG_CONFIG_HOME`` and ``$XDG_STATE_HOME``).

    Read value by value (:func:`raw_setting`) like the pseudonym key, so an unrelated bad
    setting cannot stop an audit append. ``safeguard/__init__.py`` installs this function as
    the default of :class:`safeguard.dpia.audit.AuditLog`; a location inside ``data_dir`` is
    refused.
    """
    return AuditSettings.resolve(
        key_hex=raw_setting("audit_key"),
        key_file=raw_setting("audit_key_file"),
        anchor_dir=raw_setting("audit_anchor_dir"),
        config_home=os.environ.get("XDG_CONFIG_HOME"),
        state_home=os.environ.get("XDG_STATE_HOME"),
        data_dir=data_dir,
    )


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """``SAFEGUARD_*`` variables that no setting reads: almost always a typo."""
    environ = dict(os.environ) if environ is None else environ
    known = {PREFIX + name.upper() for name in SafeguardSettings.model_fields}
    known |= OTHER_KNOWN_VARIABLES
    return sorted(k for k in environ if k.upper().startswith(PREFIX) and k.upper() not in known)


def load_settings(*, strict: bool = True, **overrides: Any) -> SafeguardSettings:
    """Read and validate the settings once, at start-up.

    Parameters
    ----------
    strict
        Also refuse ``SAFEGUARD_*`` variables that no setting reads (a typo such as
        ``SAFEGUARD_PSEUDONYM_KY`` would otherwise leave the default in force silently).
    overrides
        Values given on the command line; they win over the environment and the file.

    Raises
    ------
    SettingsError
        Naming every variable that is wrong and why (never the value of a secret).
    """
    problems: list[str] = []
    if strict:
        problems += [f"{name}: not a safeguard setting (typo?)" for name in unknown_variables()]
    try:
        settings = SafeguardSettings(**overrides)
    except ValidationError as error:
        for item in error.errors():
            where = ".".join(str(p) for p in item["loc"])
            variable = PREFIX + where.upper() if where else "settings"
            problems.append(f"{variable}: {item['msg'].removeprefix('Value error, ')}")
        settings = None
    if problems or settings is None:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    return settings


def main() -> int:
    """Print the effective settings, or the errors (``python -m safeguard.settings``)."""
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    for name, text in settings.described().items():
        print(f"{name}={text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
