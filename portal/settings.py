"""Portal configuration, typed once at the edge and passed to every part of the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from safeguard.contracts.layout import AUDIT_LOG, VAULT_FILE, WAREHOUSE_FILE

if TYPE_CHECKING:
    from safeguard.portal.oidc import OidcSettings
    from safeguard.settings import SafeguardSettings

ROLES = ("practitioner", "team_manager", "reviewer", "admin")
DECISIONS = {
    "agree_act": "Agree, and act on it",
    "already_known": "Already known to me or a service",
    "disagree": "Disagree with the indicator",
    "not_enough_info": "Not enough information to decide",
}

AUDIT_FILE = AUDIT_LOG


def utc_now() -> datetime:
    """Wall-clock time in UTC (naive, as DuckDB stores TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class PortalSettings:
    """Everything the portal needs to know, fixed when the app is created.

    Parameters
    ----------
    data_dir
        The pipeline's data directory (warehouse, vault, reports, audit trail).
    secure_cookies
        Mark the session cookie ``Secure`` (and use the ``__Host-`` prefix). On by default; turn
        off only for a plain-HTTP loopback demo (``safeguard portal --insecure-http``), where a
        browser would otherwise refuse the cookie.
    trusted_proxies
        Addresses of reverse proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` headers
        are believed. Empty by default: the client address is the TCP peer, so a client cannot
        pick its own address (and dodge the login throttle) by sending the header itself.
    overdue_after_days
        A flag with no recorded judgement this many days after it was raised (or reallocated)
        is shown to the team manager as an overdue review.
    session_idle_minutes, session_absolute_hours
        Sessions end after this much inactivity, and in any case after this long: a shared
        office computer must not keep a practitioner's caseload open.
    throttle_max_failures, throttle_window_s
        Failed logins allowed per username and client address within the window before the
        login form answers 429 Too Many Requests.
    idle_release_s
        DuckDB files are closed after this many idle seconds so a quiet portal does not hold
        the lock the pipeline needs to write the identity vault.
    oidc
        The council's OpenID Connect provider (None: local accounts only).
    database_url
        SQLAlchemy URL of the portal database (users, sessions, judgements, allocations);
        None: the embedded ``DIR/portal.sqlite``.
    clock
        Source of "now" (UTC, naive); tests inject a fixed clock.
    """

    data_dir: Path
    secure_cookies: bool = True
    trusted_proxies: tuple[str, ...] = ()
    overdue_after_days: int = 14
    session_idle_minutes: int = 30
    session_absolute_hours: int = 8
    throttle_max_failures: int = 5
    throttle_window_s: int = 15 * 60
    idle_release_s: float = 5.0
    database_url: str | None = field(default=None, repr=False)
    oidc: OidcSettings | None = None
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / WAREHOUSE_FILE

    @property
    def vault_path(self) -> Path:
        return self.data_dir / VAULT_FILE

    @property
    def portal_database_url(self) -> str:
        from safeguard.portal.database import default_url

        return self.database_url or default_url(self.data_dir)

    @classmethod
    def from_settings(cls, settings: SafeguardSettings) -> PortalSettings:
        """The portal's part of the deployment settings (validated by :mod:`safeguard.settings`)."""
        oidc = None
        if settings.oidc_issuer is not None:
            from safeguard.portal.oidc import OidcSettings

            assert settings.oidc_client_id and settings.oidc_client_secret  # validated
            oidc = OidcSettings(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=settings.oidc_client_secret.get_secret_value(),
                redirect_url=str(settings.oidc_redirect_url),
                role_groups=settings.oidc_role_pairs(),
                scopes=settings.oidc_scopes,
                groups_claim=settings.oidc_groups_claim,
                username_claim=settings.oidc_username_claim,
                worker_claim=settings.oidc_worker_claim,
                team_claim=settings.oidc_team_claim,
            )
        return cls(
            data_dir=settings.data_dir,
            secure_cookies=settings.portal_secure_cookies,
            trusted_proxies=tuple(settings.portal_trusted_proxies),
            overdue_after_days=settings.portal_overdue_after_days,
            session_idle_minutes=settings.portal_session_idle_minutes,
            session_absolute_hours=settings.portal_session_absolute_hours,
            throttle_max_failures=settings.portal_throttle_max_failures,
            throttle_window_s=settings.portal_throttle_window_s,
            idle_release_s=settings.portal_idle_release_s,
            database_url=(
                settings.portal_database_url.get_secret_value()
                if settings.portal_database_url is not None
                else None  # the embedded default (safeguard.portal.database.default_url)
            ),
            oidc=oidc,
        )

    @property
    def audit_path(self) -> Path:
        return self.data_dir / AUDIT_FILE

    @property
    def cookie_name(self) -> str:
        # The __Host- prefix makes browsers refuse the cookie unless Secure, path=/ and no Domain.
        return "__Host-sg_session" if self.secure_cookies else "sg_session"
