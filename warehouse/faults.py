"""Fault injection at the storage seam, for the crash-consistency tests (never set in production).

``SAFEGUARD_FAULT_INJECTION="<action>@<stage>:<phase>"`` makes the process fail at one point of
one staged write (:mod:`safeguard.warehouse.storage`), the first time that point is reached:

phases
    ``staged`` after the first table of the stage has been staged (the middle of the write);
    ``committing`` inside the warehouse transaction that swaps the staged tables in, before
    COMMIT; ``committed`` after that COMMIT, before the identity vault and the artefact files
    are published.
actions
    ``kill`` SIGKILLs the process (no cleanup, no ``finally``); ``enospc`` raises
    ``OSError(ENOSPC)`` as a failed write would; ``fill`` fills the file system holding the
    data directory with a ballast file (``<data-dir>/fault-ballast``), so the writes that
    follow fail with a real ENOSPC. ``fill`` refuses to run where more than
    :data:`FILL_LIMIT_BYTES` are free: it is meant for a small tmpfs, not a real disk.

Stages are named after the step that writes them (``ingest_drop``, ``link_records``,
``family_features``, ``train_and_gate_model``, ``score_and_flag``) or, for a single table
written on its own, after the table.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "SAFEGUARD_FAULT_INJECTION"
ACTIONS = frozenset({"kill", "enospc", "fill"})
PHASES = frozenset({"staged", "committing", "committed"})
BALLAST = "fault-ballast"
FILL_LIMIT_BYTES = 512 * 2**20


class FaultSpecError(ValueError):
    """The fault-injection variable is set but malformed."""


@dataclass(frozen=True)
class Fault:
    action: str
    stage: str
    phase: str


def configured() -> Fault | None:
    """The fault asked for in the environment, or None (the normal case)."""
    spec = os.environ.get(ENV_VAR, "").strip()
    if not spec:
        return None
    try:
        action, rest = spec.split("@", 1)
        stage, phase = rest.rsplit(":", 1)
    except ValueError:
        raise FaultSpecError(
            f"{ENV_VAR}={spec!r}: expected <action>@<stage>:<phase>, e.g. kill@score_and_flag:staged"
        ) from None
    if action not in ACTIONS or phase not in PHASES or not stage:
        raise FaultSpecError(
            f"{ENV_VAR}={spec!r}: action must be one of {sorted(ACTIONS)}, "
            f"phase one of {sorted(PHASES)}"
        )
    return Fault(action, stage, phase)


_fired: set[Fault] = set()


def rearm() -> None:
    """Let every fault fire again (for tests that inject the same fault twice in one process)."""
    _fired.clear()


def fault_point(stage: str, phase: str, *, data_dir: Path) -> None:
    """Fail here if the environment asks for a fault at this stage and phase (first time only)."""
    fault = configured()
    if fault is None or fault in _fired or (fault.stage, fault.phase) != (stage, phase):
        return
    _fired.add(fault)
    if fault.action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault.action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (injected at {stage}:{phase})")
    fill_file_system(Path(data_dir))


def fill_file_system(data_dir: Path) -> Path:
    """Write ``data_dir/fault-ballast`` until the file system holding it is full."""
    free = shutil.disk_usage(data_dir).free
    if free > FILL_LIMIT_BYTES:
        raise FaultSpecError(
            f"refusing to fill {data_dir}: {free / 2**20:.0f} MiB free; mount a small tmpfs"
        )
    path = data_dir / BALLAST
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    size = 2**16
    try:
        while size:  # unbuffered, so nothing is left to flush (and fail) on close
            try:
                if os.write(fd, b"\0" * size) == 0:
                    size //= 2
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                size //= 2
    finally:
        os.close(fd)
    return path
