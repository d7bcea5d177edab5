"""The `safeguard` command line: generate estates, run the pipeline, open the Dagster UI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="safeguard: an explainable, audited safeguarding risk-indicator pipeline (synthetic data only).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def _private_by_default() -> None:
    """Every file a command writes (DuckDB and its WAL, Dagster storage, reports) is owner-only."""
    from dpia.private_files import restrict_umask

    restrict_umask()


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (expected YYYY-MM-DD)", param_hint=option
        ) from None


@app.command()
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
    from synth import EstateConfig, generate_estate

    kwargs: dict[str, object] = {
        "people": people,
        "seed": seed,
        "councils": councils,
        "history_months": history_months,
        "scenario": scenario,
    }
    parsed = _parse_date(extract_date, "--extract-date")
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


@app.command()
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
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="council configuration YAML (default: the shipped council.yaml)"
        ),
    ] = None,
) -> None:
    """Materialise the whole pipeline headless; exit non-zero naming the gate that failed."""
    from pipelines.runner import run_pipeline

    _parse_date(as_of, "--as-of")
    council = _load_council(config)
    _refuse_unwritable_trail(data_dir, "run")
    outcome = run_pipeline(
        landing=landing, data_dir=data_dir, as_of=as_of, truth_dir=truth, console=console,
        council=council, council_source=str(config) if config else "default council.yaml",
    )  # fmt: skip
    outcome.print_summary(console)
    if not outcome.success:
        raise typer.Exit(1)


def _refuse_unwritable_trail(data_dir: Path, command: str) -> None:
    """Exit 2 with one line, before any work, when the audit trail would refuse its next entry
    (cut short, replaced, or removed with its data directory: the line names what to run)."""
    from dpia.audit import AUDIT_RELATIVE_PATH, AuditError, AuditLog

    try:
        AuditLog(data_dir / AUDIT_RELATIVE_PATH).check_writable()
    except AuditError as exc:
        console.print(f"[red]{command} refused:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None


def _fresh_trail_for_demo(data_dir: Path) -> None:
    """`safeguard demo` builds a brand-new estate: where the data directory holds no warehouse
    but the anchor of a removed trail remains (`make clean && make demo`), start a new trail,
    recorded as such; anywhere else the trail must be writable as it is."""
    from dpia.audit import AUDIT_RELATIVE_PATH, AuditError, AuditLog, AuditTrailRemoved

    if (data_dir / "warehouse.duckdb").exists():
        _refuse_unwritable_trail(data_dir, "demo")
        return
    try:
        log = AuditLog(data_dir / AUDIT_RELATIVE_PATH)
        try:
            log.check_writable()
            return
        except AuditTrailRemoved:
            from dpia.private_files import secure_data_dir

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


@app.command()
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
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="council configuration YAML (default: the shipped council.yaml)"
        ),
    ] = None,
    no_backfill: Annotated[
        bool, typer.Option("--no-backfill", help="judge the months already scored")
    ] = False,
) -> None:
    """Score past months with the approved model, judge them against the model card's promise,
    and stop flagging if a decommission rule fires (exit 1 naming the rule)."""
    from pipelines.monitoring_run import run_monitoring

    council = _load_council(config)
    outcome = run_monitoring(
        data_dir=data_dir, months=months, truth_dir=truth, council=council, console=console,
        council_source=str(config) if config else "default council.yaml", backfill=not no_backfill,
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


def _load_council(path: Path | None):
    from pipelines.council import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]\n{exc}")
        raise typer.Exit(2) from None


config_app = typer.Typer(help="The council configuration file (gates, thresholds, sign-offs).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show() -> None:
    """Print the shipped default configuration, with its comments (copy it to start yours)."""
    from pipelines.council import default_config_text

    typer.echo(default_config_text(), nl=False)


@config_app.command("check")
def config_check(
    path: Annotated[Path, typer.Argument(help="configuration file to validate")],
) -> None:
    """Validate a configuration file; name every bad key (exit 2) or summarise it."""
    council = _load_council(path)
    gate = council.fairness_gate
    console.print(
        f"[green]valid[/green]: {path} ({council.council.name}); threshold "
        f"{council.flagging.threshold:g}, approved model {council.flagging.approved_model}, "
        f"fairness band {gate.band[0]:g}-{gate.band[1]:g}, {len(gate.sign_offs)} sign-off(s)"
    )
    for line in council.sign_off_lines():
        console.print(f"  sign-off: {line}")


@app.command()
def dev(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    landing: Annotated[Path | None, typer.Option("--landing")] = None,
    port: Annotated[int, typer.Option("--port")] = 3000,
) -> None:
    """Start the Dagster UI on the same data directory as `safeguard run`."""
    env = _pipeline_env(data_dir, landing or data_dir / "landing", None)
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions", "-p", str(port)]
    console.print(f"Dagster UI on http://127.0.0.1:{port} (data dir {data_dir})")
    raise typer.Exit(subprocess.call(cmd, env=env))


def _pipeline_env(data_dir: Path, landing: Path, truth: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["SAFEGUARD_DATA_DIR"] = str(data_dir.resolve())
    env["SAFEGUARD_LANDING"] = str(landing.resolve())
    if truth is not None:
        env["SAFEGUARD_TRUTH_DIR"] = str(truth.resolve())
    dagster_home = data_dir.resolve() / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    env["DAGSTER_HOME"] = str(dagster_home)
    return env


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    people: Annotated[int, typer.Option("--people", min=200)] = 100_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="council configuration YAML (default: the demo configuration, whose "
            "synthetic sign-offs are printed in every report)",
        ),
    ] = None,
) -> None:
    """Generate the default synthetic estate, run the whole pipeline, and print what came out."""
    from pipelines.council import demo_config_path
    from pipelines.runner import run_pipeline
    from synth import EstateConfig, generate_estate

    config = config or demo_config_path()
    council = _load_council(config)
    _fresh_trail_for_demo(data_dir)
    landing, truth = data_dir / "landing", data_dir / "truth"
    console.rule("1. synthetic estate (synthetic data only)")
    summary = generate_estate(
        EstateConfig(people=people, seed=seed), out=landing, truth_out=truth, progress=True
    )
    console.print(summary.as_table())
    console.rule("2. pipeline")
    outcome = run_pipeline(
        landing=landing, data_dir=data_dir, as_of=None, truth_dir=truth, console=console,
        council=council, council_source=str(config),
    )  # fmt: skip
    outcome.print_summary(console)
    console.rule("3. what came out")
    _print_demo_summary(data_dir)
    console.rule("4. where to look")
    console.print(f"review pack:   {data_dir / 'reports' / 'review_pack.html'}")
    console.print(
        f"Dagster UI:    .venv/bin/safeguard dev --data-dir {data_dir}   (http://127.0.0.1:3000)"
    )
    _print_demo_accounts(data_dir)
    if not outcome.success:
        raise typer.Exit(1)


def _print_demo_summary(data_dir: Path) -> None:
    import duckdb
    from rich.table import Table

    path = data_dir / "warehouse.duckdb"
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
            table.add_row("fairness comparisons", ", ".join(f"{v}: {n}" for v, n in verdicts))
        if "flags" in tables:
            table.add_row("flags", f"{scalar('SELECT count(*) FROM flags'):,}")
            for worker, n in con.execute(
                "SELECT worker_id, count(*) FROM flags GROUP BY 1 ORDER BY 1"
            ).fetchall():
                table.add_row(f"  flags for {worker}", str(n))
        console.print(table)
        if "fairness_audit" in tables:
            _print_fairness_detail(con)


def _print_fairness_detail(con) -> None:
    """Per characteristic: which groups were inconclusive or not assessable, and why."""
    rows = con.execute(
        'SELECT dimension, verdict, string_agg(DISTINCT "group", \', \' ORDER BY "group"), '
        "CASE WHEN verdict = 'not assessable' AND NOT starts_with(note, 'fewer than') THEN note END "
        "FROM fairness_audit WHERE verdict <> 'pass' GROUP BY 1, 2, 4 ORDER BY 1, 2"
    ).fetchall()
    if not rows:
        return
    console.print("fairness comparisons not shown to pass (every figure is in the model card):")
    why = {
        "inconclusive, signed off": "parity neither shown nor ruled out; accepted by a named sign-off",
        "inconclusive": "parity neither shown nor ruled out; no sign-off (blocking)",
        "not assessable": "fewer than 30 expected outcomes in the group or the rest",
        "fail": "disparity established beyond the band (blocking)",
    }
    for dimension, verdict, groups, note in rows:
        console.print(f"  {dimension}: {verdict}: {groups} ({note or why.get(verdict, verdict)})")


def _print_demo_accounts(data_dir: Path) -> None:
    import duckdb

    path = data_dir / "warehouse.duckdb"
    with duckdb.connect(str(path), read_only=True) as con:
        has_flags = bool(con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'flags'"
        ).fetchall()[0][0])  # fmt: skip
    if not has_flags:
        console.print(
            "portal: no flags this run (a gate failed or nothing was above the threshold), so no demo accounts"
        )
        return
    from portal.demo import create_demo_accounts

    accounts = create_demo_accounts(data_dir)
    _audit(data_dir, "demo_accounts_created", accounts=len(accounts))
    console.print(
        f"portal:        .venv/bin/safeguard portal --data-dir {data_dir} --insecure-http   "
        "(http://127.0.0.1:8000; plain HTTP on loopback for this demo only)"
    )
    console.print("demo accounts (this synthetic demo only; new passwords each time):")
    for username, password, role, worker_id in accounts:
        console.print(
            f"  {role:<14} {username:<22} {password}" + (f"  ({worker_id})" if worker_id else "")
        )


audit_app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    allow_missing_anchor: Annotated[
        bool,
        typer.Option(
            "--allow-missing-anchor",
            help="check the chain alone when the anchor is lost (a cut-off tail goes unseen)",
        ),
    ] = False,
    anchor: Annotated[
        Path | None,
        typer.Option("--anchor", help="check against this anchor file (e.g. before a move)"),
    ] = None,
    write_anchor: Annotated[
        bool,
        typer.Option("--write-anchor", help="if intact, anchor the trail at its current path"),
    ] = False,
) -> None:
    """Check the keyed chain and its anchor; name the first edited, forged, deleted or
    reordered entry, or the missing tail. Exit 0 intact, 1 broken, 2 not checkable."""
    from dpia.audit import AuditError, AuditLog

    path = data_dir / "audit" / "audit.jsonl"
    if not path.exists():
        console.print(f"[red]no audit trail at {path}[/red]")
        raise typer.Exit(2)
    try:
        log = AuditLog(path)
        if write_anchor:
            if not (allow_missing_anchor or anchor):
                raise AuditError("--write-anchor needs --allow-missing-anchor or --anchor FILE")
            result = log.adopt(anchor_file=anchor)
        else:
            result = log.verify(require_anchor=not allow_missing_anchor, anchor_file=anchor)
    except AuditError as exc:
        console.print(f"[red]audit trail not verified:[/red] {exc}")
        raise typer.Exit(2) from exc
    if result.ok:
        console.print(f"[green]audit trail intact[/green]: {result.reason}")
        if not result.anchored:
            console.print("[yellow]no anchor was checked: a cut-off tail would not show[/yellow]")
        return
    where = f" at entry {result.first_bad_seq}" if result.first_bad_seq else ""
    console.print(f"[red]audit trail broken{where}[/red]: {result.reason}")
    raise typer.Exit(1)


@audit_app.command("restart")
def audit_restart(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    reason: Annotated[
        str, typer.Option("--reason", help="why (recorded in the new trail's first entry)")
    ] = "the data directory was removed and is being started afresh",
) -> None:
    """Start a new audit trail where the old one was removed with its data directory.

    The old anchor (kept outside the data directory) is archived beside itself, and the new
    trail's first entry names the retired trail's last entry and head hash, so the break is on
    the record. Refused when the trail still has entries: restart never discards any. Exit 0
    started (or nothing to restart), 2 refused."""
    from dpia.audit import AuditError

    try:
        log = _audit_log(data_dir)
        result = log.restart(reason=reason)
    except AuditError as exc:
        console.print(f"[red]audit trail not restarted:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if result is None:
        console.print(f"nothing to restart: {log.path} has no anchor yet; it starts on its own")
        return
    console.print(
        f"[green]new audit trail started[/green] at {log.path}: entry 1 records the retired "
        f"trail (last entry {result.retired_seq}, head hash {result.retired_hash}); its anchor "
        f"is archived at {result.archived_anchor}",
        soft_wrap=True,
    )


keys_app = typer.Typer(help="The pseudonymisation key.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    new_key_env: Annotated[
        str | None,
        typer.Option(
            "--new-key-env",
            help="environment variable holding the new key (hex), when the current key comes "
            "from SAFEGUARD_PSEUDONYM_KEY",
        ),
    ] = None,
) -> None:
    """Re-key every pseudonym (vault, warehouse, portal database, case packs and reports)
    under a new key, then replace the key. Stop the portal first. Rerun to finish an
    interrupted rotation."""
    from dpia.audit import AuditError
    from dpia.pseudonymise import PseudonymKeyError
    from governance.rekey import KeyRotationError, rotate_keys

    _private(data_dir)
    new_key = None
    if new_key_env is not None:
        try:
            new_key = bytes.fromhex(os.environ[new_key_env].strip())
        except (KeyError, ValueError) as exc:
            console.print(f"[red]{new_key_env} must hold the new key in hex[/red]")
            raise typer.Exit(2) from exc
    try:
        report = rotate_keys(data_dir, actor="data_team", new_key=new_key)
    except (KeyRotationError, PseudonymKeyError, AuditError) as exc:
        console.print(f"[red]key rotation:[/red] {exc}")
        raise typer.Exit(2) from exc
    for kind, n in sorted(report.recomputed.items()):
        console.print(f"{kind}: {n:,} pseudonyms re-derived under the new key")
    console.print(
        f"{report.wrapped:,} other pseudonyms re-keyed (address, tenancy, incident: rebuilt "
        f"from the next drop); {len(report.rows)} tables and {len(report.files)} files rewritten"
    )
    if not report.key_file_written:
        console.print(
            "[yellow]put the new key in the secret store as SAFEGUARD_PSEUDONYM_KEY before "
            "the next run[/yellow]"
        )


users_app = typer.Typer(help="Portal accounts, for the data team.", no_args_is_help=True)
app.add_typer(users_app, name="users")


PASSWORD_STDIN_HELP = (
    "read the password from the first line of standard input (for scripts); otherwise it is "
    "prompted for. Never given on the command line, where other users and shell history see it"
)


def _password(from_stdin: bool) -> str:
    """The new password, from a hidden prompt or one line of stdin, never from argv."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            console.print("[red]--password-stdin given but standard input is empty[/red]")
            raise typer.Exit(2)
        return line.rstrip("\r\n")
    return typer.prompt(
        "password (15+ characters; a passphrase of several unrelated words)",
        hide_input=True,
        confirmation_prompt=True,
    )


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[
        str, typer.Option("--role", help="practitioner | team_manager | reviewer | admin")
    ],
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    worker_id: Annotated[
        str | None, typer.Option("--worker-id", help="required for practitioners")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="required for team managers")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help=PASSWORD_STDIN_HELP)
    ] = False,
) -> None:
    """Create a portal account."""
    from portal.users import UserAdminError, add_user

    try:
        add_user(
            data_dir,
            username,
            role,
            _password(password_stdin),
            worker_id=worker_id,
            team=team,
            display_name=display_name,
        )
    except UserAdminError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    _audit(data_dir, "user_added", username=username, role=role)
    console.print(f"added {username} ({role})")


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument()],
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
) -> None:
    """Disable an account (every existing session ends at its next request)."""
    from portal.users import UserAdminError, disable_user

    try:
        disable_user(data_dir, username)
    except UserAdminError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    _audit(data_dir, "user_disabled", username=username)
    console.print(f"disabled {username}")


@users_app.command("reset")
def users_reset(
    username: Annotated[str, typer.Argument()],
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help=PASSWORD_STDIN_HELP)
    ] = False,
) -> None:
    """Set a new password (re-enables the account; every existing session ends)."""
    from portal.users import UserAdminError, reset_password

    try:
        reset_password(data_dir, username, _password(password_stdin))
    except UserAdminError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    _audit(data_dir, "user_password_reset", username=username)
    console.print(f"reset {username}")


@users_app.command("list")
def users_list(data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data")) -> None:
    """List accounts (never passwords or hashes)."""
    from rich.table import Table

    from portal.users import list_users

    table = Table("username", "role", "worker", "team", "disabled")
    for user in list_users(data_dir):
        table.add_row(
            user.username,
            user.role,
            user.worker_id or "",
            user.team or "",
            "yes" if user.disabled else "",
        )
    console.print(table)


def _private(data_dir: Path) -> None:
    """Tighten a data directory an older version (or a copy) left readable by others."""
    from dpia.private_files import secure_data_dir

    secure_data_dir(data_dir)


def _audit_log(data_dir: Path):
    from dpia.audit import AuditLog

    _private(data_dir)
    path = data_dir / "audit" / "audit.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return AuditLog(path)


def _audit(data_dir: Path, action: str, **details: object) -> None:
    _audit_log(data_dir).append("data_team", action, **details)  # refreshes the anchor too


@app.command()
def sar(
    data_dir: Annotated[Path, typer.Option("--data-dir")],
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    dob: Annotated[str, typer.Option("--dob", help="YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="export path; .html and .json are written")],
    postcode: Annotated[str | None, typer.Option("--postcode")] = None,
    requested_by: Annotated[
        str, typer.Option("--requested-by", help="who handles the request")
    ] = "data_team",
) -> None:
    """Subject access (Art 15): export everything held and derived about one person."""
    from governance import MatchingUnavailable, subject_access, write_sar

    _private(data_dir)
    born = _parse_date(dob, "--dob")
    assert born is not None
    try:
        export = subject_access(
            data_dir,
            first_name=first_name,
            last_name=last_name,
            dob=born,
            postcode=postcode,
            requested_by=requested_by,
        )
    except MatchingUnavailable as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{export.status}: {export.message}")
    if export.status != "matched":
        raise typer.Exit(1)
    html, json_path = write_sar(export, out)
    console.print(f"written {html} and {json_path}")


@app.command()
def purge(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    today: Annotated[
        str | None, typer.Option("--today", help="purge as if on YYYY-MM-DD (default: today)")
    ] = None,
    landing: Annotated[
        Path | None,
        typer.Option(
            "--landing", help="landing folder whose old drops to delete (default DIR/landing)"
        ),
    ] = None,
) -> None:
    """Retention: delete expired records and everything derived from them, rewrite every
    database file, delete old landing drops and cut the audit trail (all audit-logged)."""
    from dpia.audit import AuditError
    from pipelines.operations import run_retention_purge

    _private(data_dir)

    try:
        report = run_retention_purge(
            data_dir,
            today=_parse_date(today, "--today") or date.today(),
            actor="data_team",
            landing=landing,
        )
    except (AuditError, FileNotFoundError) as exc:
        console.print(f"[red]purge failed:[/red] {exc}")
        raise typer.Exit(2) from exc
    for table, rows in sorted(report.deleted.items()):
        console.print(f"{table}: {rows:,} rows deleted")
    for store, what in sorted(report.stores.items()):
        console.print(f"[bold]{store}[/bold]: {what}")
    console.print(f"files removed: {len(report.files_removed)}; {report.note}")


@app.command()
def portal(
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data"),
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    insecure_http: Annotated[
        bool,
        typer.Option(
            "--insecure-http",
            help="plain-HTTP loopback demo only: send the session cookie without Secure",
        ),
    ] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="address of a TLS-terminating reverse proxy whose X-Forwarded-* headers are "
            "believed (repeat for several); none by default",
        ),
    ] = None,
) -> None:
    """Serve the practitioner and reviewer portal (HTTPS behind a reverse proxy)."""
    from portal import serve

    if insecure_http:
        loopback = host in ("127.0.0.1", "localhost", "::1")
        console.print(
            "[yellow]--insecure-http: the session cookie is sent without Secure, so that a "
            "browser keeps it over plain HTTP. Use this only for a local demo on loopback; "
            "serve real data over HTTPS.[/yellow]"
        )
        if not loopback:
            console.print(f"[red]refusing --insecure-http on a non-loopback address ({host})[/red]")
            raise typer.Exit(2)
    scheme = "http" if insecure_http else "https (through your reverse proxy)"
    console.print(f"portal on {host}:{port}, {scheme} (data dir {data_dir})")
    serve(
        data_dir,
        host=host,
        port=port,
        secure_cookies=not insecure_http,
        trusted_proxies=tuple(trusted_proxy or ()),
    )


if __name__ == "__main__":  # pragma: no cover
    app()
