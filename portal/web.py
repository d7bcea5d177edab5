"""Request plumbing shared by every page: the app's state, access checks, CSRF and rendering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from safeguard.portal import store
from safeguard.portal.audit import PortalAudit
from safeguard.portal.database import PortalDatabase
from safeguard.portal.db import ManagedDatabase, Memo
from safeguard.portal.oidc import OidcClient
from safeguard.portal.reports import IdentityGuard
from safeguard.portal.sessions import LoginThrottle, Session, SessionStore
from safeguard.portal.settings import DECISIONS, PortalSettings
from safeguard.portal.snapshot import ServingSnapshot
from safeguard.portal.store import User

TEMPLATES = Path(__file__).parent / "templates"


class LoginRequiredError(Exception):
    """No live session: the browser is sent to the login page."""

    def __init__(self, next_path: str = "/") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class ForbiddenError(Exception):
    """Logged in, but the role does not open this part of the portal."""


class NotFoundError(Exception):
    """Unknown page, or a family not allocated to this worker (deliberately the same answer)."""


class CsrfRejectedError(Exception):
    """A form was posted without this session's CSRF token."""


class IdentityWithheldError(Exception):
    """A reviewer response contained an identity from the vault and was not sent."""


@dataclass
class PortalState:
    """Everything a request handler needs, created once per app."""

    settings: PortalSettings
    warehouse: ManagedDatabase
    vault: ManagedDatabase
    portal_db: PortalDatabase
    sessions: SessionStore
    throttle: LoginThrottle
    audit: PortalAudit
    guard: IdentityGuard
    templates: jinja2.Environment
    warehouse_memo: Memo
    portal_memo: Memo
    oidc: OidcClient | None = None

    @classmethod
    def build(cls, settings: PortalSettings) -> PortalState:
        release = settings.idle_release_s
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
        )
        env.filters["percent"] = lambda p: "-" if p is None else f"{100 * float(p):.1f}%"
        env.filters["points"] = lambda c: f"{100 * abs(float(c)):.1f}"
        env.filters["humanise"] = _humanise
        env.globals["DECISIONS"] = DECISIONS
        env.globals["oidc_enabled"] = settings.oidc is not None
        vault = ManagedDatabase(settings.vault_path, read_only=True, idle_release_s=release)
        # Never the live warehouse: the snapshot the last run published (portal/snapshot.py).
        warehouse = ServingSnapshot(settings.data_dir, idle_release_s=release)
        portal_db = PortalDatabase(settings.portal_database_url, idle_release_s=release)
        audit = PortalAudit(settings.audit_path)
        return cls(
            settings=settings,
            warehouse=warehouse,
            vault=vault,
            portal_db=portal_db,
            sessions=SessionStore(
                portal_db,
                settings.clock,
                idle=timedelta(minutes=settings.session_idle_minutes),
                absolute=timedelta(hours=settings.session_absolute_hours),
            ),
            throttle=LoginThrottle(
                portal_db,
                settings.clock,
                max_failures=settings.throttle_max_failures,
                window=timedelta(seconds=settings.throttle_window_s),
                secret=lambda: audit.derived_key("login-throttle"),
            ),
            audit=audit,
            guard=IdentityGuard(vault),
            templates=env,
            warehouse_memo=Memo(warehouse),
            portal_memo=Memo(portal_db),
            oidc=None if settings.oidc is None else OidcClient(settings.oidc, clock=settings.clock),
        )

    def databases(self) -> tuple[ManagedDatabase | PortalDatabase, ...]:
        return (self.warehouse, self.vault, self.portal_db)


def _humanise(event_type: object) -> str:
    """``police.domestic_abuse`` -> ``domestic abuse``: the agency is shown in its own column."""
    if event_type is None:
        return "-"
    return str(event_type).split(".", 1)[-1].replace("_", " ")


def state(request: Request) -> PortalState:
    return request.app.state.portal  # type: ignore[no-any-return]


def session_of(request: Request) -> Session | None:
    return getattr(request.state, "session", None)


def current_user(request: Request) -> User:
    """The logged-in, still-enabled user, or a redirect to the login page.

    A session ends when its account's credential epoch has moved on (password reset, disabled,
    re-enabled), even when the change was made by another process such as ``safeguard users``.
    """
    portal = state(request)
    session = session_of(request)
    if session is None or session.username is None:
        raise LoginRequiredError(request.url.path)
    username = session.username
    user = portal.portal_memo.get(("user", username), lambda cur: store.get_user(cur, username))
    if user is None or user.disabled:
        portal.sessions.delete_user(session.username)
        raise LoginRequiredError(request.url.path)
    if user.credential_epoch != session.credential_epoch:
        # The password was reset or the account disabled since this session logged in.
        portal.sessions.delete(session.session_id)
        raise LoginRequiredError(request.url.path)
    return user


def require_roles(*roles: str) -> Callable[[Request], User]:
    """A dependency admitting only users with one of ``roles``."""

    def dependency(request: Request) -> User:
        user = current_user(request)
        if user.role not in roles:
            raise ForbiddenError(user.role)
        return user

    return dependency


def check_csrf(request: Request, token: str | None) -> Session:
    """Every POST handler calls this first: the form must carry this session's token."""
    session = session_of(request)
    if session is None or not session.csrf_matches(token):
        raise CsrfRejectedError(request.url.path)
    return session


def safe_next(path: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def login_url(next_path: str) -> str:
    return f"/login?next={quote(safe_next(next_path), safe='/')}"


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    user: User | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page; pages for reviewers are checked for vault identities before sending."""
    portal = state(request)
    session = session_of(request)
    html = portal.templates.get_template(template).render(
        request=request,
        user=user,
        csrf_token=session.csrf_token if session else "",
        path=request.url.path,
        **context,
    )
    if user is not None and user.role == "reviewer" and portal.guard.contains_identity(html):
        raise IdentityWithheldError(template)
    return HTMLResponse(html, status_code=status_code, headers=headers)
