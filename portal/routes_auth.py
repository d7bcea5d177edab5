"""Login, logout and the role-based start page."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from safeguard.portal import store
from safeguard.portal.oidc import SSO_PASSWORD_HASH, OidcError, OidcIdentity, OidcNoRoleError
from safeguard.portal.store import User
from safeguard.portal.users import verify_password
from safeguard.portal.web import (
    PortalState,
    check_csrf,
    current_user,
    render,
    safe_next,
    session_of,
    state,
)

router = APIRouter()
LOG = logging.getLogger("safeguard.portal.oidc")
SSO_FAILED = "Sign-in with your council account did not complete. Try again, or ask the data team."

START_PAGES = {
    "practitioner": "/my-families",
    "team_manager": "/team",
    "reviewer": "/review",
    "admin": "/admin",
}


def ensure_portal_db(portal: PortalState) -> None:
    """Bring the portal database to the newest schema (a file is created 0600) before requests."""
    portal.portal_db.upgrade()


@router.get("/healthz", include_in_schema=False)
def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/")
def home(request: Request) -> RedirectResponse:
    user = current_user(request)
    return RedirectResponse(START_PAGES[user.role], status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    portal = state(request)
    session = session_of(request)
    if session is not None and session.username is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    if session is None:
        # An anonymous session carries the CSRF token of the login form itself.
        session = portal.sessions.create()
        request.state.session = session
        request.state.new_session = session
    return render(request, "login.html", next_path=safe_next(next), error=None, username="")


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    session = check_csrf(request, csrf_token)
    portal = state(request)
    username = username.strip().lower()[:64]
    client = request.client.host if request.client else "unknown"
    if portal.throttle.blocked(username, client):
        minutes = portal.settings.throttle_window_s // 60
        return render(
            request,
            "login.html",
            429,
            headers={"Retry-After": str(portal.settings.throttle_window_s)},
            next_path=safe_next(next),
            username=username,
            error=f"Too many failed attempts. Wait {minutes} minutes, or ask the data team to reset your password.",
        )
    with portal.portal_db.reader() as cur:
        user = store.get_user(cur, username) if username else None
    # verify_password runs for unknown accounts too (against a dummy hash): a miss costs the
    # same argon2 time as a wrong password, so timing does not tell which usernames exist.
    if not verify_password(user, password) or user is None:
        portal.throttle.record_failure(username, client)
        # An unknown "username" is often a password typed in the wrong box: never log it.
        account = user.username if user is not None else "unknown account"
        portal.audit.record("anonymous", "login_failed", account=account)
        return render(
            request,
            "login.html",
            401,
            next_path=safe_next(next),
            username=username,
            error="The username or password is not right, or the account is disabled.",
        )
    portal.throttle.reset(username, client)
    # A new session id at login: an id planted before login (session fixation) is now worthless.
    new_session = portal.sessions.rotate(session.session_id, user.username, user.credential_epoch)
    request.state.session = new_session
    request.state.new_session = new_session
    portal.audit.record(user.username, "login", role=user.role)
    target = safe_next(next)
    return RedirectResponse(target if target != "/" else START_PAGES[user.role], status_code=303)


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    session = check_csrf(request, csrf_token)
    portal = state(request)
    portal.sessions.delete(session.session_id)
    request.state.end_session = True
    if session.username:
        portal.audit.record(session.username, "logout")
    return RedirectResponse("/login", status_code=303)


@router.get("/login/oidc")
def oidc_start(request: Request, next: str = "/") -> Response:
    """Send the browser to the council's provider (authorisation code + PKCE)."""
    portal = state(request)
    if portal.oidc is None:
        raise StarletteHTTPException(404)
    session = session_of(request)
    if session is None or session.username is not None:
        # A fresh pre-login session: the provider's answer must come back to this browser.
        session = portal.sessions.create()
        request.state.session = session
        request.state.new_session = session
    with portal.portal_db.cursor() as conn:
        target = portal.oidc.begin(conn, session.session_id, safe_next(next))
    return RedirectResponse(target, status_code=303)


def _refuse_sso(request: Request, reason: str, status_code: int = 401) -> Response:
    # The reason goes to the log and the audit trail; the page says only that it failed.
    LOG.warning("OpenID Connect sign-in refused: %s", reason)
    state(request).audit.record("anonymous", "login_failed", method="oidc", reason=reason[:200])
    return render(request, "login.html", status_code, next_path="/", username="", error=SSO_FAILED)


def _sso_account(portal: PortalState, identity: OidcIdentity) -> User | str:
    """The account for a provider identity, or why it may not sign in."""
    if identity.role == "practitioner" and not identity.worker_id:
        return f"{identity.username}: a practitioner needs a worker id claim to receive flags"
    if identity.role == "team_manager" and not identity.team:
        return f"{identity.username}: a team manager needs a team claim"
    with portal.portal_db.cursor() as conn:
        existing = store.get_user(conn, identity.username)
        if existing is not None and existing.password_hash != SSO_PASSWORD_HASH:
            return f"{identity.username}: a local (break-glass) account of that name exists"
        if existing is not None and existing.disabled:
            return f"{identity.username}: the account is disabled"
        return store.sync_sso_user(
            conn,
            User(
                username=identity.username,
                display_name=identity.display_name,
                role=identity.role,
                worker_id=identity.worker_id,
                team=identity.team,
                password_hash=SSO_PASSWORD_HASH,
                disabled=False,
                created_at=portal.settings.clock(),
            ),
        )


@router.get("/login/oidc/callback")
def oidc_callback(
    request: Request, state_: str = Query("", alias="state"), code: str = "", error: str = ""
) -> Response:
    portal = state(request)
    if portal.oidc is None:
        raise StarletteHTTPException(404)
    session = session_of(request)
    if error or not code or not state_ or session is None:
        return _refuse_sso(request, f"provider answered without a code ({error[:80] or 'none'})")
    try:
        identity, next_path = portal.oidc.complete(
            portal.portal_db, session.session_id, state_, code
        )
    except OidcError as exc:
        return _refuse_sso(request, str(exc), 403 if isinstance(exc, OidcNoRoleError) else 401)
    account = _sso_account(portal, identity)
    if isinstance(account, str):
        return _refuse_sso(request, account, 403)
    new_session = portal.sessions.rotate(
        session.session_id, account.username, account.credential_epoch
    )
    request.state.session = new_session
    request.state.new_session = new_session
    portal.audit.record(account.username, "login", role=account.role, method="oidc")
    target = safe_next(next_path)
    return RedirectResponse(target if target != "/" else START_PAGES[account.role], status_code=303)
