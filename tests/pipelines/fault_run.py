"""Run the pipeline in a child process for the fault-injection tests (not a test module).

``python tests/pipelines/fault_run.py LANDING DATA_DIR OUTCOME_JSON`` with the fault asked for
in ``SAFEGUARD_FAULT_INJECTION``; writes the run's outcome as JSON unless the process is killed.
Council thresholds are lax so that a small estate reaches flags.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipelines.assets.model import ModelSettings
from pipelines.runner import run_pipeline

COUNCIL = ModelSettings(min_precision_lift=0.0, max_ece=1.0)


def main(landing: str, data_dir: str, outcome_path: str) -> int:
    outcome = run_pipeline(landing=Path(landing), data_dir=Path(data_dir), model_settings=COUNCIL)
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
