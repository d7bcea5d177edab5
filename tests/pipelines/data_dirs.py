"""Copying a data directory in tests, the way an operator must: adopting its audit trail.

The trail's anchor lives outside the data directory and is named after the trail's path, so
a copy (a restore, a move) has entries but no anchor, and every writer refuses it until it is
checked against the original's anchor and re-anchored at its new path
(``safeguard audit verify --anchor OLD --write-anchor``). Tests that copy a run's state do the
same, so the copy is trusted explicitly, never silently.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from safeguard.dpia.audit import AUDIT_RELATIVE_PATH, AuditLog


def trail_anchor(data_dir: Path) -> Path:
    """Where the anchor of the audit trail of ``data_dir`` lives (outside it)."""
    return AuditLog(Path(data_dir) / AUDIT_RELATIVE_PATH).anchor_path


def adopt_copy(source: Path, target: Path) -> None:
    """Re-anchor the trail copied from ``source`` to ``target``, checked against the original."""
    result = AuditLog(Path(target) / AUDIT_RELATIVE_PATH).adopt(anchor_file=trail_anchor(source))
    assert result.ok, result.reason


def copy_data_dir(source: Path, target: Path) -> None:
    """Copy a run's data directory and adopt its audit trail."""
    shutil.copytree(source, target)
    adopt_copy(source, target)
