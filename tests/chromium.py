"""Debian's chromium for the browser tests: where it is, how it is started, and the rule that
CI must have it (``.ci/run`` installs it; elsewhere a missing browser skips the test)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# no background traffic of the browser's own, so "nothing left the machine" means the page's
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_chromium() -> None:
    """Skip without Debian chromium, but fail under ``CI=true``: CI must run the browser tests."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"CI=true but Debian chromium is missing at {CHROMIUM}: apt-get install -y chromium"
        )
    pytest.skip(f"Debian chromium not installed at {CHROMIUM} (the browser test runs in CI)")
