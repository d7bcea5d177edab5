"""The retention purge as a plain function (no dagster): shared by ``safeguard purge`` and the
weekly ``retention_purge`` job (:mod:`safeguard.pipelines.operations`), so the command line's admin path
never imports dagster (``tests/safeguard/test_cli_purge_without_dagster.py``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from safeguard.dpia.register import load_register
from safeguard.governance import PurgeReport, purge_expired
from safeguard.warehouse.storage import recover_data_dir


def run_retention_purge(
    data_dir: Path, *, today: date, actor: str, landing: Path | None = None
) -> PurgeReport:
    """Apply the register's retention periods (shared by the CLI and the scheduled job).

    An interrupted write is finished or discarded first, so nothing staged escapes the purge.
    """
    root = Path(data_dir)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    recover_data_dir(root)
    return purge_expired(root, load_register(), today=today, actor=actor, landing=landing)
