"""Run the portal with uvicorn (``safeguard portal --data-dir DIR --host H --port P``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn


def uvicorn_config(
    app: Any, host: str, port: int, *, trusted_proxies: Sequence[str] = ()
) -> uvicorn.Config:
    """The server configuration: forwarded headers are believed only from ``trusted_proxies``.

    uvicorn's default believes ``X-Forwarded-For`` from loopback (127.0.0.1, ::1), so any client
    of a portal behind nothing, or a local process, could set its own address and walk past the
    login throttle. With no trusted proxy the headers are ignored altogether.
    """
    trusted = [address for address in trusted_proxies if address]
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=1,
        log_level="info",
        server_header=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else "",
    )


def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    secure_cookies: bool = True,
    trusted_proxies: Sequence[str] = (),
) -> None:
    """Serve the portal until interrupted.

    The deployment settings (``SAFEGUARD_*`` variables, settings file) are read and validated
    first, so a typo or a bad value stops the start with a message naming it; the arguments
    given here (the command line's options) win over them.

    Parameters
    ----------
    data_dir
        The pipeline's data directory.
    host
        Interface to listen on. The default is loopback: put a TLS-terminating reverse proxy in
        front (and name it in ``trusted_proxies``) before exposing it to a network.
    port
        TCP port.
    secure_cookies
        Mark the session cookie Secure (HTTPS only); off only for a plain-HTTP loopback demo.
    trusted_proxies
        Reverse-proxy addresses whose forwarded headers are believed (none by default; else
        ``SAFEGUARD_PORTAL_TRUSTED_PROXIES``).
    """
    from dataclasses import replace

    from safeguard.portal.app import create_app
    from safeguard.portal.settings import PortalSettings
    from safeguard.settings import load_settings

    deployment = load_settings(data_dir=Path(data_dir))
    proxies = tuple(trusted_proxies) or tuple(deployment.portal_trusted_proxies)
    settings = replace(
        PortalSettings.from_settings(deployment),
        secure_cookies=secure_cookies and deployment.portal_secure_cookies,
        trusted_proxies=proxies,
    )
    app = create_app(Path(data_dir), settings=settings)
    # One process here; several workers need a shared database (see production_app).
    uvicorn.Server(uvicorn_config(app, host, port, trusted_proxies=proxies)).run()


def production_app() -> Any:
    """ASGI factory for a service manager: ``uvicorn --factory safeguard.portal.server:production_app``.

    Everything comes from the validated settings (``SAFEGUARD_*`` variables or the settings
    file). With the portal database on PostgreSQL several workers can share the load
    (sessions live in the database); the embedded DuckDB default allows one worker only.
    """
    from safeguard.logs import configure_logging
    from safeguard.portal.app import create_app
    from safeguard.portal.settings import PortalSettings
    from safeguard.settings import load_settings

    deployment = load_settings()
    configure_logging(deployment)
    return create_app(deployment.data_dir, settings=PortalSettings.from_settings(deployment))
