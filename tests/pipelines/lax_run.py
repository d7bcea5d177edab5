"""Pipeline runs with council thresholds lax enough for a small estate to reach flags.

Imported by the robustness and fault tests (one place to change when the council
configuration changes), and run as a script for the fault-injection child processes:
``python tests/pipelines/lax_run.py LANDING DATA_DIR OUTCOME_JSON`` with the fault asked for in
``SAFEGUARD_FAULT_INJECTION``; it writes the run's outcome as JSON unless it is killed.
:func:`child` is the same run as the body of a process forked from a server that has already
imported this module (and with it Dagster, DuckDB, Splink, LightGBM), so each fault-test
child skips the interpreter start and imports (about 5 s of CPU each on 2 cores).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from lax_council import LAX as COUNCIL

from pipelines.runner import RunOutcome, run_pipeline

FLAG_THRESHOLD = COUNCIL.flagging.threshold


def run_lax(landing: Path, data_dir: Path) -> RunOutcome:
    """``run_pipeline`` with the lax council thresholds."""
    return run_pipeline(landing=Path(landing), data_dir=Path(data_dir), council=COUNCIL)


def main(landing: str, data_dir: str, outcome_path: str) -> int:
    outcome = run_lax(Path(landing), Path(data_dir))
    Path(outcome_path).write_text(
        json.dumps(
            {
                "success": outcome.success,
                "error": outcome.error,
                "recovered": outcome.recovered,
                "failed_gates": [f"{g.asset}/{g.check}" for g in outcome.failed_gates],
                "materialised": sorted(outcome.materialised),
            }
        )
    )
    return 0 if outcome.success else 1


def child(
    landing: str, data_dir: str, outcome_path: str, env: Mapping[str, str], log_path: str
) -> None:
    """:func:`main` in a forked child: exactly ``env`` as its environment (the fault asked for
    in ``SAFEGUARD_FAULT_INJECTION`` included) and its output to ``log_path``."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    sys.exit(main(landing, data_dir, outcome_path))


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
