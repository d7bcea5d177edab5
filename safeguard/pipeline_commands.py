"""Pipeline commands: generate an estate, run the pipeline, the demo, monitoring, the Dagster UI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from safeguard.common import (
    DATA_DIR_HELP,
    CouncilConfigOption,
    audit,
    console,
    load_council,
    parse_date,
    refuse_unwritable_trail,
    require_completed_run,
)
from safeguard.contracts.layout import DataDir


def generate(
    out: Annotated[Path, typer.Option("--out", help="landing directory to write drops into")],
    people: Annotated[int, typer.Option("--people", min=200, help="people in the estate")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same files)")] = 7,
    extract_date: Annotated[
        str | None, typer.Option("--extract-date", help="newest extract date YYYY-MM-DD")
    ] = None,
    councils: Annotated[int, typer.Option("--councils", min=1, help="number of councils")] = 1,
    history_months: Annotated[
        int, typer.Option("--history-months", min=0, help="earlier monthly extracts to write")
    ] = 1,
    scenario: Annotated[str | None, typer.Option("--scenario", help="e.g. data-loss")] = None,
    truth_out: Annotated[
        Path | None,
        typer.Option("--truth-out", help="ground-truth directory (outside the landing dir)"),
    ] = None,
) -> None:
    """Write a synthetic multi-agency estate (and, separately, its ground truth)."""
    from safeguard.synth import EstateConfig, generate_estate

    kwargs: dict[str, object] = {
        "people": people,
        "seed": seed,
        "councils": councils,
        "history_months": history_months,
        "scenario": scenario,
    }
    parsed = parse_date(extract_date, "--extract-date")
    if parsed is not None:
        kwargs["extract_date"] = parsed
    if truth_out is not None and truth_out.resolve().is_relative_to(out.resolve()):
        raise typer.BadParameter(
            "the ground truth must not be written inside the landing drop", param_hint="--truth-out"
        )
    try:
        config = EstateConfig(**kwargs)  # type: ignore[arg-type]
        summary = generate_estate(config, out=out, truth_out=truth_out, progress=True)
    except ValueError as exc:
        console.print(f"[red]generate failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(summary.as_table())


def run(
    landing: Annotated[
        Path, typer.Option("--landing", help="landing directory holding extract folders")
    ],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="warehouse, vault, artefacts and reports")
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="score as of YYYY-MM-DD (default: extract date)")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="ground-truth folder, for quality figures only")
    ] = None,
    config: CouncilConfigOption = None,
) -> None:
    """Materialise the whole pipeline headless, with a live progress display.

    Exit 0 when every gate passed, 1 when a gate withheld outputs or a step failed (named in
    the summary), 2 when the run was refused before starting (configuration, audit trail)."""
    parse_date(as_of, "--as-of")
    council = load_council(config)
    refuse_unwritable_trail(data_dir, "run")
    outcome = _run_with_progress(
        landing=landing, data_dir=data_dir, as_of=as_of, truth_dir=truth, council=council,
        council_source=str(config) if config else "default council.yaml",
    )  # fmt: skip
    outcome.print_summary(console)
    if not outcome.success:
        raise typer.Exit(1)


def _run_with_progress(*, data_dir: Path, **kwargs):
    """``run_pipeline`` with the live display; library warnings go to the run log."""
    from safeguard.runlog import library_output_to_log

    with library_output_to_log(data_dir) as log:
        from safeguard.pipelines.runner import run_pipeline
        from safeguard.progress import RichRunProgress

        outcome = run_pipeline(
            data_dir=data_dir, console=console, progress=RichRunProgress(console), **kwargs
        )
    console.print(f"[dim]library warnings and logs: {log}[/dim]")
    return outcome


def _fresh_trail_for_demo(data_dir: Path) -> None:
    """`safeguard demo` builds a brand-new estate: where the data directory holds no warehouse
    but the anchor of a removed trail remains (`make clean && make demo`), start a new trail,
    recorded as such; anywhere else the trail must be writable as it is."""
    from safeguard.dpia.audit import AUDIT_RELATIVE_PATH, AuditError, AuditLog, AuditTrailRemoved

    if DataDir(data_dir).warehouse.exists():
        refuse_unwritable_trail(data_dir, "demo")
        return
    try:
        log = AuditLog(data_dir / AUDIT_RELATIVE_PATH)
        try:
            log.check_writable()
            return
        except AuditTrailRemoved:
            from safeguard.dpia.private_files import secure_data_dir

            secure_data_dir(data_dir, create=True)
            result = log.restart(
                reason="safeguard demo: a new synthetic estate in a data directory with no warehouse"
            )
    except AuditError as exc:
        console.print(f"[red]demo refused:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if result is not None:
        console.print(
            f"[yellow]audit:[/yellow] {data_dir} was removed since its last run, so a new audit "
            f"trail was started; its first entry records the retired trail (last entry "
            f"{result.retired_seq}), whose anchor is archived at {result.archived_anchor}",
            soft_wrap=True,
        )


def monitor(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="data directory of a completed `safeguard run`")
    ],
    months: Annotated[
        int | None,
        typer.Option(
            "--months", min=1, help="as-of months to backfill (default: the configuration's)"
        ),
    ] = None,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="ground-truth folder (true-harm validation)")
    ] = None,
    config: CouncilConfigOption = None,
    no_backfill: Annotated[
        bool, typer.Option("--no-backfill", help="judge the months already scored")
    ] = False,
) -> None:
    """Score past months with the approved model, judge them against the model card's promise,
    and stop flagging if a decommission rule fires (exit 1 naming the rule)."""
    from safeguard.runlog import library_output_to_log

    council = load_council(config)
    require_completed_run(data_dir, "monitor")
    with library_output_to_log(data_dir):
        from safeguard.pipelines.monitoring_run import run_monitoring

        outcome = run_monitoring(
            data_dir=data_dir, months=months, truth_dir=truth, council=council, console=console,
            council_source=str(config) if config else "default council.yaml",
            backfill=not no_backfill,
        )  # fmt: skip
    for month, error in outcome.failed_months.items():
        console.print(f"[red]scoring as of {month} failed:[/red] {error}")
    console.print(f"months scored: {len(outcome.months)} ({outcome.duration_s:.0f} s)")
    if outcome.error:
        console.print(f"[red]monitoring failed:[/red] {outcome.error}")
        raise typer.Exit(1)
    for line in outcome.reasons.split("; "):
        console.print(("[red]" if not outcome.check_passed else "") + line)
    if outcome.report:
        console.print(f"monitoring page: {outcome.report}")
    if not outcome.check_passed:
        raise typer.Exit(1)


def dev(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
    landing: Annotated[
        Path | None, typer.Option("--landing", help="landing directory (default DATA_DIR/landing)")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="port for the Dagster UI")] = 3000,
) -> None:
    """Start the Dagster UI on the same data directory as `safeguard run`."""
    env = _pipeline_env(data_dir, landing or DataDir(data_dir).landing, None)
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-m",
        "safeguard.pipelines.definitions",
        "-p",
        str(port),
    ]
    console.print(f"Dagster UI on http://127.0.0.1:{port} (data dir {data_dir})")
    raise typer.Exit(subprocess.call(cmd, env=env))


def _pipeline_env(data_dir: Path, landing: Path, truth: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["SAFEGUARD_DATA_DIR"] = str(data_dir.resolve())
    env["SAFEGUARD_LANDING"] = str(landing.resolve())
    if truth is not None:
        env["SAFEGUARD_TRUTH_DIR"] = str(truth.resolve())
    dagster_home = DataDir(data_dir.resolve()).dagster_home
    dagster_home.mkdir(parents=True, exist_ok=True)
    env["DAGSTER_HOME"] = str(dagster_home)
    return env


def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
    people: Annotated[
        int, typer.Option("--people", min=200, help="people in the synthetic estate")
    ] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same estate)")] = 7,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="council configuration YAML (default: the demo configuration, whose "
            "synthetic sign-offs are printed in every report)",
        ),
    ] = None,
) -> None:
    """Generate the default synthetic estate, run the whole pipeline, and print what came out.

    A gate that withholds flags is a result, not a failure: the demo exits 0 whenever the
    pipeline behaved as designed, and 1 only when a step crashed or the reports could not be
    rebuilt (2: refused before starting)."""
    from safeguard.contracts.council import demo_config_path
    from safeguard.synth import EstateConfig, generate_estate

    config = config or demo_config_path()
    council = load_council(config)
    _fresh_trail_for_demo(data_dir)
    landing, truth = DataDir(data_dir).landing, DataDir(data_dir).truth
    console.rule("1. synthetic estate (synthetic data only)")
    summary = generate_estate(
        EstateConfig(people=people, seed=seed), out=landing, truth_out=truth, progress=True
    )
    console.print(summary.as_table())
    console.rule("2. pipeline")
    outcome = _run_with_progress(
        landing=landing, data_dir=data_dir, as_of=None, truth_dir=truth, council=council,
        council_source=str(config),
    )  # fmt: skip
    outcome.print_summary(console, assets=False)
    console.rule("3. what came out")
    _print_demo_summary(data_dir)
    console.rule("4. where to look")
    console.print(f"review pack:   {data_dir / 'reports' / 'review_pack.html'}")
    console.print(f"model card:    {data_dir / 'artefacts' / 'model' / 'model_card.html'}")
    console.print(
        f"Dagster UI:    .venv/bin/safeguard dev --data-dir {data_dir}   (http://127.0.0.1:3000)",
        soft_wrap=True,
    )
    _print_demo_accounts(
        data_dir, withheld_by=[f"{g.asset}/{g.check}" for g in outcome.failed_gates]
    )
    if outcome.error or outcome.report_error:
        raise typer.Exit(1)


def _print_demo_summary(data_dir: Path) -> None:
    import duckdb
    from rich.table import Table

    path = DataDir(data_dir).warehouse
    if not path.exists():
        return
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }

        def scalar(sql: str) -> object:
            return con.execute(sql).fetchall()[0][0]

        table = Table("measure", "value")
        if "row_accounting" in tables:
            table.add_row("rows read / accepted / quarantined", "{:,} / {:,} / {:,}".format(
                *con.execute("SELECT sum(rows_read), sum(rows_accepted), sum(rows_quarantined) FROM row_accounting").fetchall()[0]
            ))  # fmt: skip
        if "record_links" in tables:
            table.add_row("records linked into people", f"{scalar('SELECT count(*) FROM record_links'):,} -> "
                          f"{scalar('SELECT count(DISTINCT person_key) FROM record_links'):,}")  # fmt: skip
        if "families" in tables:
            table.add_row(
                "current families",
                f"{scalar('SELECT count(DISTINCT family_key) FROM families WHERE valid_to IS NULL'):,}",
            )
        if "fairness_audit" in tables:
            verdicts = con.execute(
                "SELECT verdict, count(*) FROM fairness_audit GROUP BY 1 ORDER BY 1"
            ).fetchall()
            table.add_row(
                "fairness comparisons (by group: model card)",
                ", ".join(f"{v}: {n}" for v, n in verdicts),
            )
        if "flags" in tables:
            table.add_row("flags", f"{scalar('SELECT count(*) FROM flags'):,}")
            for worker, n in con.execute(
                "SELECT worker_id, count(*) FROM flags GROUP BY 1 ORDER BY 1"
            ).fetchall():
                table.add_row(f"  flags for {worker}", str(n))
        console.print(table)


def _print_demo_accounts(data_dir: Path, withheld_by: list[str]) -> None:
    import duckdb

    path = DataDir(data_dir).warehouse
    with duckdb.connect(str(path), read_only=True) as con:
        has_flags = bool(con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'flags'"
        ).fetchall()[0][0])  # fmt: skip
    if withheld_by or not has_flags:
        why = (
            f"{', '.join(withheld_by)} withheld them"
            if withheld_by
            else "no family was above the threshold"
        )
        console.print(
            f"portal:        no flags this run ({why}), so no demo accounts; the reviewer "
            "side is in the review pack"
        )
        return
    from safeguard.portal.demo import create_demo_accounts

    accounts = create_demo_accounts(data_dir)
    audit(data_dir, "demo_accounts_created", accounts=len(accounts))
    console.print(
        f"portal:        .venv/bin/safeguard portal --data-dir {data_dir} --insecure-http   "
        "(http://127.0.0.1:8000; plain HTTP on loopback for this demo only)",
        soft_wrap=True,
    )
    console.print("demo accounts (this synthetic demo only; new passwords each time):")
    for username, password, role, worker_id in accounts:
        console.print(
            f"  {role:<14} {username:<22} {password}" + (f"  ({worker_id})" if worker_id else "")
        )
