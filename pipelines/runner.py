"""Headless runs for `safeguard run`: materialise everything, show progress, name any failed gate.

Runs go into a persistent Dagster instance under the data directory, so the same run history
is visible later in `safeguard dev` (the Dagster UI).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import resource
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from safeguard.alerts import alert_data_team, run_alert
from safeguard.contracts.council import CouncilConfig
from safeguard.dpia.audit import AuditError
from safeguard.pipelines.definitions import build_definitions
from safeguard.pipelines.instance import QUIET_RUN_CONFIG, _instance, step_errors
from safeguard.pipelines.operations import governance_job, pipeline_job
from safeguard.pipelines.resources import Warehouse
from safeguard.pipelines.run_context import AsOfError, check_as_of
from safeguard.portal.snapshot import publish_serving_snapshot
from safeguard.warehouse.storage import StorageRecoveryError


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    blocking: bool
    message: str
    severity: str = "ERROR"  # a failed WARN check is reported and never blocks

    @property
    def verdict(self) -> str:
        if self.passed:
            return "passed"
        return "failed" if self.severity == "ERROR" else "warning"

    def headline(self) -> str:
        """The decision in one line: the verdict and the first condition not met (the whole
        text is in the review pack and the Dagster UI)."""
        clauses = [c.strip() for c in self.message.split("; ") if c.strip()]
        failing = [c for c in clauses if c.startswith(("FAIL", "BLOCK", "STOP"))]
        if self.passed or not clauses:
            return self.verdict
        first = re.sub(r"^(FAIL|BLOCK\w*|STOP\w*):\s*", "", (failing or clauses)[0])
        more = len(failing) - 1
        return f"{self.verdict}: {first}" + (f" (+{more} more)" if more > 0 else "")


@dataclass(frozen=True)
class StepProfile:
    step: str
    seconds: float
    peak_rss_mb: float


class _RssSampler:
    """Samples this process's resident memory so each step's peak can be reported (Linux /proc)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: fall back to the lifetime peak
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def reset(self) -> None:
        self.peak = self.current()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> _RssSampler:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class RunOutcome:
    """What a run produced, in aggregates a data team can read."""

    success: bool
    run_id: str
    data_dir: Path
    duration_s: float
    materialised: dict[str, int | None] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    steps: list[StepProfile] = field(default_factory=list)
    error: str | None = None
    report_error: str | None = None
    notices: list[str] = field(default_factory=list)
    recovered: str | None = None

    @property
    def failed_gates(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed and c.blocking and c.severity == "ERROR"]

    @property
    def warnings(self) -> list[CheckOutcome]:
        """Checks that failed with severity WARN: reported, not blocking."""
        return [c for c in self.checks if not c.passed and c.severity != "ERROR"]

    @property
    def peak_rss_mb(self) -> float:
        return max((s.peak_rss_mb for s in self.steps), default=0.0)

    @property
    def gate_decisions(self) -> list[CheckOutcome]:
        """The model and flagging gates (always shown) and every check that did not pass."""
        return [
            c for c in self.checks
            if not c.passed or any(word in c.check for word in MODEL_GATE_WORDS)
        ]  # fmt: skip

    @property
    def outcome_sentence(self) -> str:
        """What the run came to, in one sentence."""
        if self.error:
            return f"The run stopped on an error: {self.error}"
        if self.failed_gates:
            names = ", ".join(f"{g.asset}/{g.check}" for g in self.failed_gates)
            return (
                f"The pipeline ran as designed and {names} withheld the outputs downstream of it"
                + (" (no new flags)" if "flags" in self.skipped else "")
                + "."
            )
        flags = self.materialised.get("flags")
        if flags is not None:
            return (
                f"Every gate passed; {flags:,} families were flagged for a practitioner's review."
            )
        return "Every gate passed."

    def print_steps(self, console: Console) -> None:
        table = Table(title="steps (in the order they finished)", title_justify="left")
        table.add_column("step")
        table.add_column("seconds", justify="right")
        table.add_column("peak memory (MiB)", justify="right")
        for step in self.steps:
            table.add_row(step.step, f"{step.seconds:.1f}", f"{step.peak_rss_mb:,.0f}")
        console.print(table)

    def print_gates(self, console: Console) -> None:
        """Each gate's decision in one line; the full text is in the review pack."""
        passed = sum(c.passed for c in self.checks)
        console.print(f"checks: {passed} of {len(self.checks)} passed")
        style = {"passed": "green", "failed": "red", "warning": "yellow"}
        for check in self.gate_decisions:
            console.print(
                f"  [{style[check.verdict]}]{check.asset}/{check.check}[/]: {check.headline()}",
                overflow="ellipsis",
                no_wrap=True,
                crop=True,
            )

    def print_summary(self, console: Console, *, assets: bool = True) -> None:
        if assets:
            table = Table(title="rows written", title_justify="left")
            table.add_column("asset")
            table.add_column("rows", justify="right")
            for asset, rows in sorted(self.materialised.items()):
                table.add_row(asset, "" if rows is None else f"{rows:,}")
            console.print(table)
        if self.steps:
            self.print_steps(console)
        console.print(
            f"run {self.run_id} took {self.duration_s:.1f} s; peak memory "
            f"{self.peak_rss_mb:,.0f} MiB"
        )
        self.print_gates(console)
        if self.recovered:
            console.print(f"[yellow]recovered an interrupted run[/yellow]: {self.recovered}")
        quarantined = [n for n in self.notices if "rows quarantined" in n]
        if quarantined:
            counts = ", ".join(n.split(" rows quarantined")[0] for n in quarantined)
            console.print(
                f"[yellow]note[/yellow] rows quarantined (rule and column per row in the "
                f"quarantine table): {counts}"
            )
        for notice in self.notices:
            if notice not in quarantined:
                console.print(f"[yellow]note[/yellow] {notice}")
        if self.skipped:
            console.print(
                f"not materialised because of a failed gate: {', '.join(sorted(self.skipped))}"
            )
        if self.error:
            console.print(f"[red]run failed:[/red] {self.error}")
        if self.report_error:
            console.print(f"[red]governance reports not rebuilt:[/red] {self.report_error}")
        else:
            console.print(
                f"review pack (every gate's full text): "
                f"{self.data_dir / 'reports' / 'review_pack.html'}"
            )
        console.print(f"data directory: {self.data_dir}")
        colour = "green" if self.success else ("red" if self.error else "yellow")
        console.print(f"[{colour}]{self.outcome_sentence}[/]")
        if not self.success:
            console.print("[dim]previous outputs downstream of the failure are left in place[/dim]")


REPORTS_STEP = "governance reports (review pack)"
# Checks whose decision is always shown: they decide whether flags are produced.
MODEL_GATE_WORDS = ("gate", "decommission")


class RunProgress:
    """What the runner reports while it runs (aggregates only); the plain version prints one
    line per finished step. ``safeguard`` passes a live progress display instead."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def start(self, planned_steps: int) -> None:
        self.console.print(f"running {planned_steps} steps")

    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, seconds: float, ok: bool) -> None:
        mark = "[green]done[/green]" if ok else "[red]failed[/red]"
        self.console.print(f"  {step}: {mark} in {seconds:.1f} s")

    def materialised(self, step: str, asset: str, rows: int | None) -> None:
        pass

    def checked(self, check: CheckOutcome) -> None:
        if not check.passed:
            self.console.print(f"  check {check.asset}/{check.check}: {check.verdict}")

    def stop(self) -> None:
        pass


def _notices(name: str, metadata: dict) -> list[str]:
    """Aggregate facts a data team must act on, from an asset's materialisation metadata."""

    def value(key: str) -> object:
        return getattr(metadata.get(key), "value", None)

    notes = []
    quarantined = value("rows_quarantined")
    if isinstance(quarantined, int) and quarantined > 0:
        notes.append(
            f"{name}: {quarantined:,} of {value('rows_read'):,} rows quarantined "
            "(rule and column per row in the quarantine table)"
        )
    pending = value("rows_pending_verification")
    if isinstance(pending, int) and pending > 0:
        notes.append(
            f"{name}: {pending:,} objection(s) pending verification (quarantined for a defect): "
            "every possible match by name and district is excluded until the register is "
            "corrected"
        )
    unrouted = value("unrouted")
    if name == "flags" and isinstance(unrouted, int) and unrouted > 0:
        notes.append(
            f"flags: {unrouted:,} families above the threshold were not routed: no practitioner "
            f"covers their district (by district: {value('unrouted_districts')})"
        )
    return notes


# Below this much free space a run cannot finish; refusing up front keeps every file whole
# (a run that starts anyway fails part-way, and even its audit entry could not be written).
MIN_FREE_BYTES = 32 * 2**20


def _free_bytes(data_dir: Path) -> int:
    return shutil.disk_usage(data_dir).free


def _disk_full(text: str, data_dir: Path) -> bool:
    """A failure caused by a full disk: ENOSPC in the message, or (SQLite reports a failed
    write as a "disk I/O error") hardly any space left where the data directory lives."""
    lowered = text.lower()
    return (
        "no space left on device" in lowered
        or "disk is full" in lowered
        or f"[errno {errno.ENOSPC}]" in lowered
        or _free_bytes(data_dir) < MIN_FREE_BYTES
    )


def _disk_full_message(data_dir: Path) -> str:
    free = _free_bytes(data_dir) / 2**20
    return (
        f"the disk holding {data_dir} is full ({free:.0f} MiB free): nothing was changed, or "
        "the step's writes were discarded, so the last good tables, flags and files stay in "
        "place. Free space and run again; the next run completes any write that was cut short."
    )


def _error_chain(error: BaseException) -> str:
    parts, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "; ".join(parts)


def run_pipeline(
    *,
    landing: Path,
    data_dir: Path,
    as_of: str | None = None,
    truth_dir: Path | None = None,
    console: Console | None = None,
    council: CouncilConfig | None = None,
    council_source: str = "default council.yaml",
    progress: RunProgress | None = None,
) -> RunOutcome:
    """Materialise every asset for the newest complete drop under ``landing``.

    ``progress`` receives each step, materialisation and check as it happens (by default a
    line per finished step on ``console``). A failed gate or a failed run is sent to the data
    team on the channels the settings name (``SAFEGUARD_ALERT_*``; aggregates only)."""
    try:
        outcome = _run_pipeline(
            landing=landing, data_dir=data_dir, as_of=as_of, truth_dir=truth_dir,
            console=console, council=council, council_source=council_source, progress=progress,
        )  # fmt: skip
    except Exception as exc:
        alert_data_team(run_alert(run_id="(not started)", success=False, error=type(exc).__name__))
        raise
    alert_data_team(
        run_alert(
            run_id=outcome.run_id,
            success=outcome.success,
            failed_gates=[(g.asset, g.check) for g in outcome.failed_gates],
            error=outcome.error,
        )
    )
    return outcome


def _run_pipeline(
    *,
    landing: Path,
    data_dir: Path,
    as_of: str | None,
    truth_dir: Path | None,
    console: Console | None,
    council: CouncilConfig | None,
    council_source: str,
    progress: RunProgress | None,
) -> RunOutcome:
    console = console or Console(quiet=True)
    progress = progress or RunProgress(console)
    # Splink reports training progress through logging; the run log keeps what matters.
    for noisy in ("splink", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    data_dir = data_dir.resolve()
    defs = build_definitions(
        data_dir=str(data_dir),
        landing_dir=str(landing.resolve()),
        truth_dir=str(truth_dir.resolve()) if truth_dir else None,
        as_of=as_of,
        council=council,
        council_source=council_source,
    )
    warehouse = Warehouse(data_dir=str(data_dir))
    audit = warehouse.audit_log()
    job = defs.resolve_job_def(pipeline_job.name)
    run_id = str(uuid.uuid4())  # what Dagster itself uses for a run id
    outcome = RunOutcome(success=False, run_id=run_id, data_dir=data_dir, duration_s=0.0)
    started = time.perf_counter()
    step_started: dict[str, float] = {}
    if _free_bytes(data_dir) < MIN_FREE_BYTES:
        outcome.error = _disk_full_message(data_dir)
        return outcome
    try:  # the whole run stands at one date: refused before any work when it cannot
        check_as_of(landing, as_of)
    except AsOfError as exc:
        outcome.error = str(exc)
        return outcome
    try:  # refuse before any work when the trail would refuse this run's entries
        audit.check_writable()
    except AuditError as exc:
        outcome.error = str(exc)
        return outcome
    try:
        # A run killed or stopped by a full disk left a staged write: finish or discard it.
        recovery = warehouse.recover()
    except StorageRecoveryError as exc:
        outcome.error = str(exc)
        return outcome
    if recovery:
        outcome.recovered = recovery.describe()
        console.print(f"[yellow]recovered an interrupted run[/yellow]: {outcome.recovered}")
    with _instance(data_dir) as instance, _RssSampler() as sampler:
        audit.append(
            "data_team",
            "run_started",
            run_id=run_id,
            landing=str(landing),
            as_of=as_of or "extract date",
            **({"recovered": outcome.recovered} if outcome.recovered else {}),
        )

        def on_event(entry) -> None:  # live progress, aggregates only
            event = entry.dagster_event
            if event is None:
                return
            if event.is_step_start:
                progress.step_started(event.step_key)
                step_started[event.step_key] = time.perf_counter()
                sampler.reset()
            elif event.is_step_success or event.is_step_failure:
                began = step_started.pop(event.step_key, time.perf_counter())
                profile = StepProfile(
                    event.step_key, time.perf_counter() - began, sampler.peak / 2**20
                )
                outcome.steps.append(profile)
                progress.step_finished(event.step_key, profile.seconds, event.is_step_success)
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                mat = event.event_specific_data.materialization
                rows = mat.metadata.get("rows") or mat.metadata.get("rows_accepted")
                name = mat.asset_key.path[-1]
                outcome.materialised[name] = getattr(rows, "value", None)
                outcome.notices += _notices(name, mat.metadata)
                progress.materialised(event.step_key or "", name, outcome.materialised[name])
            elif event.event_type_value == "ASSET_CHECK_EVALUATION":
                ev = event.event_specific_data
                name = ev.asset_check_key.asset_key.path[-1]
                meta = ev.metadata
                severity = getattr(ev.severity, "value", str(ev.severity))
                message = (
                    getattr(meta.get("failure"), "value", None)
                    or (
                        getattr(meta.get("warnings"), "value", None)
                        if severity != "ERROR"
                        else getattr(meta.get("failures"), "value", None)
                    )
                    or ev.description
                    or ""
                )
                check = CheckOutcome(
                    name, ev.check_name, ev.passed, bool(ev.blocking), str(message), severity
                )
                outcome.checks.append(check)
                progress.checked(check)

        instance.add_event_listener(run_id, on_event)
        progress.start(len(job.graph.nodes) + 1)  # and the reports
        try:
            result = job.execute_in_process(
                instance=instance, run_id=run_id, raise_on_error=False, run_config=QUIET_RUN_CONFIG
            )
        except Exception as exc:  # Dagster's own run storage failing to write (a full disk)
            if not _disk_full(_error_chain(exc), data_dir):
                raise
            # Nothing more can be written, the audit entry included (a torn line would break
            # the chain); the next run records that it recovered this one.
            outcome.error = f"{_disk_full_message(data_dir)} ({_error_chain(exc)[:300]})"
            outcome.duration_s = time.perf_counter() - started
            progress.stop()
            return outcome
        # Reviewers' artefacts are rebuilt whatever the outcome, so a failed gate is visible.
        progress.step_started(REPORTS_STEP)
        began = time.perf_counter()
        sampler.reset()
        reports = defs.resolve_job_def(governance_job.name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET_RUN_CONFIG
        )
        outcome.steps.append(
            StepProfile(REPORTS_STEP, time.perf_counter() - began, sampler.peak / 2**20)
        )
        progress.step_finished(REPORTS_STEP, outcome.steps[-1].seconds, reports.success)
        progress.stop()
        if not reports.success:
            failures = [e for e in reports.all_events if e.is_step_failure]
            outcome.report_error = (
                "; ".join(
                    e.step_failure_data.error.message.strip().splitlines()[0]
                    for e in failures
                    if e.step_failure_data and e.step_failure_data.error
                )
                or "see the Dagster run log"
            )
        # The portal reads only what this publishes (the warehouse keeps the last good flags
        # when a gate fails, and its withdrawals, so every run publishes).
        publish_serving_snapshot(data_dir)
        outcome.duration_s = time.perf_counter() - started
        outcome.success = result.success and not outcome.failed_gates
        planned = {k.path[-1] for k in job.asset_layer.selected_asset_keys}
        outcome.skipped = sorted(planned - set(outcome.materialised))
        if not result.success and not outcome.failed_gates:
            # The innermost cause names the file and rule (Dagster's wrapper names only the op).
            outcome.error = step_errors(result)
            if _disk_full(outcome.error, data_dir):
                outcome.error = f"{_disk_full_message(data_dir)} ({outcome.error})"
        if _free_bytes(data_dir) < MIN_FREE_BYTES:
            return outcome  # as above: no audit line that a full disk could tear
        audit.append(
            "data_team",
            "run_finished",
            run_id=run_id,
            success=outcome.success,
            failed_gates=[f"{g.asset}/{g.check}" for g in outcome.failed_gates],
            assets=len(outcome.materialised),
        )  # every append refreshes the trail's anchor (outside the data dir)
    return outcome
