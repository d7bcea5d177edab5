"""Pipeline runs with council thresholds lax enough for a small estate to reach flags.

Imported by the robustness and fault tests (one place to change when the council
configuration changes), and run as a script for the fault-injection child processes:
``python tests/pipelines/lax_run.py LANDING DATA_DIR OUTCOME_JSON`` with the fault asked for in
``SAFEGUARD_FAULT_INJECTION``; it writes the run's outcome as JSON unless it is killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lax_council import LAX as COUNCIL

from safeguard.pipelines.runner import RunOutcome, run_pipeline

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


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
