"""Run the portal with uvicorn (``safeguard portal --data-dir DIR --host H --port P``)."""

from __future__ import annotations

from pathlib import Path

import uvicorn


def serve(
    data_dir: Path, host: str = "127.0.0.1", port: int = 8000, *, secure_cookies: bool = False
) -> None:
    """Serve the portal until interrupted.

    Parameters
    ----------
    data_dir
        The pipeline's data directory.
    host
        Interface to listen on. The default is loopback: put a TLS-terminating reverse proxy in
        front (and pass ``secure_cookies=True``) before exposing it to a network.
    port
        TCP port.
    secure_cookies
        Mark the session cookie Secure (HTTPS only).
    """
    from portal.app import create_app

    app = create_app(Path(data_dir), secure_cookies=secure_cookies)
    # One process: sessions and login throttling live in this process's memory.
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info", server_header=False)
