"""Session-wide test settings: the audit trail's key and anchors live outside every data dir.

Production reads them from the environment (docs/DESIGN.md, "Audit trail"); tests point them
at a private temporary folder so nothing is written to the home directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from safeguard.dpia.audit_anchor import ANCHOR_DIR_ENV, AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV


@pytest.fixture(scope="session", autouse=True)
def _audit_key_and_anchors_outside_data(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    root = tmp_path_factory.mktemp("audit-secrets")
    saved = {k: os.environ.get(k) for k in (AUDIT_KEY_ENV, AUDIT_KEY_FILE_ENV, ANCHOR_DIR_ENV)}
    os.environ.pop(AUDIT_KEY_ENV, None)
    os.environ[AUDIT_KEY_FILE_ENV] = str(root / "audit.key")
    os.environ[ANCHOR_DIR_ENV] = str(root / "anchors")
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
