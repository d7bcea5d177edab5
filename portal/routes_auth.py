"""Login, logout and the role-based start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from portal import store
from portal.users import verify_password
from portal.web import (
    PortalState,
    check_csrf,
    current_user,
    render,
    safe_next,
    session_of,
    state,
)

router = APIRouter()

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
