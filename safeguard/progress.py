"""Live progress for `safeguard run` and `safeguard demo`.

The display shows the whole run (steps done of planned, elapsed, rows written so far) and each
running step (elapsed, rows it wrote). Aggregates only: step and asset names, counts, seconds.
Import it after :func:`safeguard.runlog.library_output_to_log` is in place (it imports the
pipeline, whose libraries warn on import).
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from safeguard.pipelines.runner import CheckOutcome, RunProgress


def _display_console(console: Console) -> Console:
    """A console on a duplicate of the terminal's file descriptor, taken before Dagster
    redirects descriptor 1 for a step's captured output."""
    try:
        fd = os.dup(console.file.fileno())
    except (AttributeError, OSError, ValueError):
        return console
    return Console(
        file=os.fdopen(fd, "w", buffering=1, encoding="utf-8"),
        force_terminal=True,
        width=console.width,
        color_system=console.color_system,
    )


def _rows(rows: int) -> str:
    return f"{rows:,} rows" if rows else ""


class RichRunProgress(RunProgress):
    """A rich progress display: the run as a bar of steps, each running step with its time."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.interactive = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rows]}", style="dim"),
            console=_display_console(console) if self.interactive else Console(quiet=True),
            transient=True,
            # Dagster captures each step's stdout/stderr through a pipe; the display writes to
            # its own copy of the terminal and leaves sys.stdout alone, so neither waits on the
            # other (wrapping stdout while the capture reads it can deadlock).
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.overall: TaskID | None = None
        self.running: dict[str, TaskID] = {}
        self.step_rows: dict[str, int] = {}
        self.total_rows = 0
        self.failed_checks = 0

    def start(self, planned_steps: int) -> None:
        self.progress.start()
        self.overall = self.progress.add_task("pipeline", total=planned_steps, rows="")

    def step_started(self, step: str) -> None:
        self.running[step] = self.progress.add_task(f"  {step}", total=None, rows="")

    def step_finished(self, step: str, seconds: float, ok: bool) -> None:
        task = self.running.pop(step, None)
        if task is not None:
            self.progress.remove_task(task)
        if self.overall is not None:
            self.progress.advance(self.overall)
        if not self.interactive:  # logs and CI: one line per step instead of a display
            mark = "done" if ok else "[red]failed[/red]"
            rows = self.step_rows.get(step, 0)
            self.console.print(
                f"  {step}: {mark} in {seconds:.1f} s" + (f", {rows:,} rows" if rows else "")
            )

    def materialised(self, step: str, asset: str, rows: int | None) -> None:
        if not rows:
            return
        self.step_rows[step] = self.step_rows.get(step, 0) + rows
        self.total_rows += rows
        if step in self.running:
            self.progress.update(self.running[step], rows=_rows(self.step_rows[step]))
        if self.overall is not None:
            self.progress.update(self.overall, rows=f"{self.total_rows:,} rows written")

    def checked(self, check: CheckOutcome) -> None:
        if not check.passed:
            self.failed_checks += 1
            if self.overall is not None:
                self.progress.update(
                    self.overall, description=f"pipeline ([red]{self.failed_checks} failed[/red])"
                )

    def stop(self) -> None:
        self.progress.stop()
        display = self.progress.console
        if display is not self.console and not display.quiet:
            display.file.close()  # our duplicate of the terminal's descriptor
