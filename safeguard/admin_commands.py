"""Operations commands: configuration, audit trail, keys, portal accounts, SAR, purge, portal."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from safeguard.common import (
    DATA_DIR_HELP,
    audit,
    audit_log,
    console,
    load_council,
    parse_date,
    private,
    require_completed_run,
)
from safeguard.contracts.layout import DataDir

config_app = typer.Typer(help="The council configuration file (gates, thresholds, sign-offs).",
                         no_args_is_help=True)  # fmt: skip


@config_app.command("show")
def config_show() -> None:
    """Print the shipped default configuration, with its comments (copy it to start yours)."""
    from safeguard.contracts.council import default_config_text

    typer.echo(default_config_text(), nl=False)


@config_app.command("check")
def config_check(
    path: Annotated[Path, typer.Argument(help="configuration file to validate")],
) -> None:
    """Validate a configuration file; name every bad key (exit 2) or summarise it."""
    from safeguard.pipelines import council as council_settings

    council = load_council(path)
    gate = council.fairness_gate
    console.print(
        f"[green]valid[/green]: {path} ({council.council.name}); threshold "
        f"{council.flagging.threshold:g}, approved model {council.flagging.approved_model}, "
        f"fairness band {gate.band[0]:g}-{gate.band[1]:g}, {len(gate.sign_offs)} sign-off(s)"
    )
    for line in council_settings.sign_off_lines(council):
        console.print(f"  sign-off: {line}")


audit_app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
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
    from safeguard.dpia.audit import AuditError, AuditLog

    path = DataDir(data_dir).audit_log
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
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
    reason: Annotated[
        str, typer.Option("--reason", help="why (recorded in the new trail's first entry)")
    ] = "the data directory was removed and is being started afresh",
) -> None:
    """Start a new audit trail where the old one was removed with its data directory.

    The old anchor (kept outside the data directory) is archived beside itself, and the new
    trail's first entry names the retired trail's last entry and head hash, so the break is on
    the record. Refused when the trail still has entries: restart never discards any. Exit 0
    started (or nothing to restart), 2 refused."""
    from safeguard.dpia.audit import AuditError

    try:
        log = audit_log(data_dir)
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


@keys_app.command("rotate")
def keys_rotate(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
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
    from safeguard.dpia.audit import AuditError
    from safeguard.dpia.pseudonymise import PseudonymKeyError
    from safeguard.governance.rekey import KeyRotationError, rotate_keys
    from safeguard.settings import raw_setting

    private(data_dir)
    new_key = None
    if new_key_env is not None:
        try:
            new_key = bytes.fromhex(os.environ[new_key_env].strip())
        except (KeyError, ValueError) as exc:
            console.print(f"[red]{new_key_env} must hold the new key in hex[/red]")
            raise typer.Exit(2) from exc
    try:
        report = rotate_keys(
            data_dir, actor="data_team", new_key=new_key, key_hex=raw_setting("pseudonym_key")
        )
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
    username: Annotated[str, typer.Argument(help="the account's login name")],
    role: Annotated[
        str, typer.Option("--role", help="practitioner | team_manager | reviewer | admin")
    ],
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
    worker_id: Annotated[
        str | None, typer.Option("--worker-id", help="required for practitioners")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="required for team managers")] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="name shown in the portal")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help=PASSWORD_STDIN_HELP)
    ] = False,
) -> None:
    """Create a portal account."""
    from safeguard.portal.users import UserAdminError, add_user

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
    audit(data_dir, "user_added", username=username, role=role)
    console.print(f"added {username} ({role})")


@users_app.command("disable")
def users_disable(
    username: Annotated[str, typer.Argument(help="the account's login name")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
) -> None:
    """Disable an account (every existing session ends at its next request)."""
    from safeguard.portal.users import UserAdminError, disable_user

    try:
        disable_user(data_dir, username)
    except UserAdminError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    audit(data_dir, "user_disabled", username=username)
    console.print(f"disabled {username}")


@users_app.command("reset")
def users_reset(
    username: Annotated[str, typer.Argument(help="the account's login name")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help=PASSWORD_STDIN_HELP)
    ] = False,
) -> None:
    """Set a new password (re-enables the account; every existing session ends)."""
    from safeguard.portal.users import UserAdminError, reset_password

    try:
        reset_password(data_dir, username, _password(password_stdin))
    except UserAdminError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    audit(data_dir, "user_password_reset", username=username)
    console.print(f"reset {username}")


@users_app.command("list")
def users_list(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
) -> None:
    """List accounts (never passwords or hashes)."""
    from rich.table import Table

    from safeguard.portal.users import list_users

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


def sar(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)],
    first_name: Annotated[
        str, typer.Option("--first-name", help="the requester's first name, as on the records")
    ],
    last_name: Annotated[str, typer.Option("--last-name", help="the requester's last name")],
    dob: Annotated[str, typer.Option("--dob", help="YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="export path; .html and .json are written")],
    postcode: Annotated[
        str | None,
        typer.Option(
            "--postcode", help="postcode, to tell apart people of the same name and birth date"
        ),
    ] = None,
    requested_by: Annotated[
        str, typer.Option("--requested-by", help="who handles the request")
    ] = "data_team",
) -> None:
    """Subject access (Art 15): export everything held and derived about one person."""
    from safeguard.governance import MatchingUnavailable, subject_access, write_sar

    private(data_dir)
    born = parse_date(dob, "--dob")
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


def purge(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
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
    from safeguard.dpia.audit import AuditError
    from safeguard.runlog import library_output_to_log

    private(data_dir)
    require_completed_run(data_dir, "purge")
    try:
        with library_output_to_log(data_dir):
            from safeguard.pipelines.retention import run_retention_purge  # no dagster

            report = run_retention_purge(
                data_dir,
                today=parse_date(today, "--today") or date.today(),
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


def portal(
    data_dir: Annotated[Path, typer.Option("--data-dir", help=DATA_DIR_HELP)] = Path("data"),
    host: Annotated[
        str, typer.Option("--host", help="address to listen on (loopback by default)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
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
    from safeguard.portal import serve

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
