"""The portal application: sessions, security headers, error pages and the routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from safeguard.dpia.private_files import secure_data_dir
from safeguard.portal import (
    routes_admin,
    routes_auth,
    routes_manager,
    routes_practitioner,
    routes_review,
)
from safeguard.portal.database import request_scope
from safeguard.portal.db import DataUnavailableError
from safeguard.portal.settings import PortalSettings
from safeguard.portal.store import User
from safeguard.portal.web import (
    CsrfRejectedError,
    ForbiddenError,
    IdentityWithheldError,
    LoginRequiredError,
    NotFoundError,
    PortalState,
    current_user,
    login_url,
    render,
    state,
)

LOG = logging.getLogger("safeguard.portal")

# Pages carry identities: never cached, never framed, no referrer, no script at all.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(
    data_dir: Path, *, secure_cookies: bool = True, settings: PortalSettings | None = None
) -> FastAPI:
    """Build the portal for one data directory.

    Parameters
    ----------
    data_dir
        The pipeline's data directory; the embedded ``portal.sqlite`` is created there (0600).
    secure_cookies
        Send the session cookie only over HTTPS (the default). Turn off only for a plain-HTTP
        loopback demo or test client.
    settings
        Full settings (overrides ``data_dir`` and ``secure_cookies``), e.g. a test clock.
    """
    settings = settings or PortalSettings(data_dir=Path(data_dir), secure_cookies=secure_cookies)
    secure_data_dir(settings.data_dir)  # owner-only files: portal.sqlite, its WAL, the audit trail
    portal = PortalState.build(settings)
    routes_auth.ensure_portal_db(portal)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async def release_idle() -> None:
            while True:
                await asyncio.sleep(1.0)
                for database in portal.databases():
                    database.release_if_idle()

        task = asyncio.create_task(release_idle())
        # The identity guard's vault hashes take seconds for a large vault: build them now.
        warm = asyncio.get_running_loop().run_in_executor(None, portal.guard.warm)
        warm.add_done_callback(_report_warm_failure)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.wait({warm}, timeout=60)
            for database in portal.databases():
                database.close()

    app = FastAPI(
        title="safeguard portal",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.portal = portal
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for module in (routes_auth, routes_practitioner, routes_manager, routes_review, routes_admin):
        app.include_router(module.router)
    _install_middleware(app, portal)
    _install_error_pages(app)
    return app


def _report_warm_failure(future: asyncio.Future[None]) -> None:
    """Log a failed warm-up; the guard loads again (and raises) at the first reviewer page."""
    if not future.cancelled() and future.exception() is not None:
        LOG.warning("identity guard warm-up failed: %s", future.exception())


def _install_middleware(app: FastAPI, portal: PortalState) -> None:
    settings = portal.settings

    @app.middleware("http")
    async def sessions_and_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        with request_scope():
            # A database query: off the event loop, so one slow read never stalls the others.
            request.state.session = await run_in_threadpool(
                portal.sessions.get, request.cookies.get(settings.cookie_name)
            )
            request.state.new_session = None
            request.state.end_session = False
            response = await call_next(request)
        if request.state.new_session is not None:
            response.set_cookie(
                settings.cookie_name,
                request.state.new_session.session_id,
                httponly=True,
                samesite="lax",
                secure=settings.secure_cookies,
                path="/",
            )
        elif request.state.end_session:
            response.delete_cookie(
                settings.cookie_name, path="/", secure=settings.secure_cookies, httponly=True
            )
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response


def _user_or_none(request: Request) -> User | None:
    try:
        return current_user(request)
    except LoginRequiredError:
        return None


def _install_error_pages(app: FastAPI) -> None:
    async def not_found(request: Request, _: Exception) -> HTMLResponse:
        # One page for "no such family" and "not your family", so nothing leaks.
        return render(request, "error.html", 404, user=_user_or_none(request), kind="not_found")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code)

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    async def forbidden(request: Request, _: Exception) -> HTMLResponse:
        return render(request, "error.html", 403, user=_user_or_none(request), kind="forbidden")

    async def csrf_rejected(request: Request, _: Exception) -> HTMLResponse:
        return render(request, "error.html", 403, user=_user_or_none(request), kind="csrf")

    async def unavailable(request: Request, exc: Exception) -> HTMLResponse:
        return render(
            request,
            "error.html",
            503,
            user=_user_or_none(request),
            kind="unavailable",
            detail=str(exc),
        )

    async def withheld(request: Request, _: Exception) -> HTMLResponse:
        user = _user_or_none(request)
        state(request).audit.record(
            getattr(user, "username", "anonymous"),
            "reviewer_content_withheld",
            path=request.url.path,
        )
        # Rendered without a user so the guard cannot recurse; the page holds no data.
        return render(request, "error.html", 500, user=None, kind="withheld")

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(LoginRequiredError, login_required)
    app.add_exception_handler(ForbiddenError, forbidden)
    app.add_exception_handler(CsrfRejectedError, csrf_rejected)
    app.add_exception_handler(DataUnavailableError, unavailable)
    app.add_exception_handler(IdentityWithheldError, withheld)
