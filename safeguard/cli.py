"""The `safeguard` command line: generate estates, run the pipeline, open the Dagster UI.

The commands live in modules by concern (``pipeline_commands``: generate, run, demo, monitor,
dev; ``admin_commands``: config, audit, keys, users, sar, purge, portal); this module
assembles them into one Typer app, the ``safeguard`` entry point.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Annotated

import typer

from safeguard import admin_commands, pipeline_commands
from safeguard.common import console
from safeguard.pipeline_commands import _fresh_trail_for_demo

__all__ = ["_fresh_trail_for_demo", "app", "console"]

app = typer.Typer(
    help="safeguard: an explainable, audited safeguarding risk-indicator pipeline (synthetic data only).",
    no_args_is_help=True,
    add_completion=False,
)


def package_version() -> str:
    try:
        return _dist_version("safeguard")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"safeguard {package_version()}")
        raise typer.Exit()


@app.callback()
def _private_by_default(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="print the installed version and exit",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Every file a command writes (DuckDB and its WAL, Dagster storage, reports) is owner-only."""
    from safeguard.dpia.private_files import restrict_umask

    restrict_umask()


for _command in (
    pipeline_commands.generate,
    pipeline_commands.run,
    pipeline_commands.demo,
    pipeline_commands.monitor,
    pipeline_commands.dev,
    admin_commands.sar,
    admin_commands.purge,
    admin_commands.portal,
):
    app.command()(_command)
for _sub, _name in (
    (admin_commands.config_app, "config"),
    (admin_commands.audit_app, "audit"),
    (admin_commands.keys_app, "keys"),
    (admin_commands.users_app, "users"),
):
    app.add_typer(_sub, name=_name)


if __name__ == "__main__":  # pragma: no cover
    app()
