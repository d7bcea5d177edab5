"""The data directory's Dagster instance and how runs are executed quietly (shared by the runners)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from safeguard.contracts.layout import DataDir

# Dagster's console logger would print every step event; the CLI prints its own progress and the
# full log stays in the run's event log (visible in `safeguard dev`).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def step_errors(result: dg.ExecuteInProcessResult) -> str:
    """Each failed step with the innermost cause of its error (Dagster wraps the real one)."""
    messages = []
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        text = error.message.strip().splitlines()[0] if error is not None else "unknown error"
        messages.append(f"{event.step_key}: {text}")
    return "; ".join(messages) or "see the Dagster run log"


def _instance(data_dir: Path) -> dg.DagsterInstance:
    home = DataDir(data_dir).dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # No usage telemetry leaves a council's machine.
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()
