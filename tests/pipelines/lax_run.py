"""Pipeline runs with council thresholds lax enough for a small estate to reach flags.

Imported by the robustness and fault tests (one place to change when the council
configuration changes), and run as a script for the fault-injection child processes:
``python tests/pipelines/lax_run.py LANDING DATA_DIR OUTCOME_JSON`` with the fault asked for in
``SAFEGUARD_FAULT_INJECTION``; it writes the run's outcome as JSON unless it is killed.
``python tests/pipelines/lax_run.py --serve`` is a fork server for the same runs: it imports
this module (and with it Dagster, DuckDB, Splink, LightGBM) once, then reads one JSON request a
line, forks a child for it and answers with the child's exit status, so each fault-test run
skips the interpreter start and the imports (about 5 s of CPU each on 2 cores).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
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


def _child(request: dict) -> None:
    """The forked child: the request's environment (the fault asked for included), its output
    to the request's log file, then :func:`main`; it never returns."""
    code = 1
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        code = main(request["landing"], request["data_dir"], request["outcome"])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """Fork a child per request line on stdin; answer each with ``{"returncode": ...}``, negative
    for the signal that ended it (as ``subprocess`` reports it)."""
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1:] == ["--serve"] else main(*sys.argv[1:4]))
