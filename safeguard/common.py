"""What every command shares: the console, date and configuration parsing, the audit trail."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from safeguard.contracts.layout import DataDir

# `--config` of the commands that run under the council's configuration (run, monitor)
CouncilConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="council configuration YAML (default: the shipped council.yaml)"),
]

console = Console()

DATA_DIR_HELP = "data directory (warehouse, vault, artefacts, reports, audit trail)"


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (expected YYYY-MM-DD)", param_hint=option
        ) from None


def refuse_unwritable_trail(data_dir: Path, command: str) -> None:
    """Exit 2 with one line, before any work, when the audit trail would refuse its next entry
    (cut short, replaced, or removed with its data directory: the line names what to run)."""
    from safeguard.dpia.audit import AUDIT_RELATIVE_PATH, AuditError, AuditLog

    try:
        AuditLog(data_dir / AUDIT_RELATIVE_PATH).check_writable()
    except AuditError as exc:
        console.print(f"[red]{command} refused:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None


def load_council(path: Path | None):
    from safeguard.contracts.council import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]\n{exc}")
        raise typer.Exit(2) from None


def private(data_dir: Path) -> None:
    """Tighten a data directory an older version (or a copy) left readable by others."""
    from safeguard.dpia.private_files import secure_data_dir

    secure_data_dir(data_dir)


def audit_log(data_dir: Path):
    from safeguard.dpia.audit import AuditLog

    private(data_dir)
    path = DataDir(data_dir).audit_log
    path.parent.mkdir(parents=True, exist_ok=True)
    return AuditLog(path)


def audit(data_dir: Path, action: str, **details: object) -> None:
    audit_log(data_dir).append("data_team", action, **details)  # refreshes the anchor too


def require_completed_run(data_dir: Path, command: str) -> None:
    """Exit 2 with one line when ``data_dir`` holds no completed ingest (no warehouse, or a
    warehouse whose first run stopped before writing its row accounting)."""
    import duckdb

    path = DataDir(data_dir).warehouse
    ready = False
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as con:
            ready = bool(con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'row_accounting'"
            ).fetchall()[0][0])  # fmt: skip
    if not ready:
        console.print(
            f"[red]{command} refused:[/red] {data_dir} holds no completed run: run "
            f"`safeguard run --landing DIR --data-dir {data_dir}` first",
            soft_wrap=True,
        )
        raise typer.Exit(2)
