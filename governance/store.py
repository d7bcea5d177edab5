"""Where things live in a data directory (docs/DESIGN.md) and small read helpers.

Governance reads the warehouse and the vault directly with DuckDB (it runs outside Dagster:
from the CLI for subject access and from the retention job), so the file names are pinned here
once. The portal database is reached only through :mod:`safeguard.portal.records` (any backend).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from safeguard.contracts.landing import AGENCY_SOURCES
from safeguard.contracts.layout import AUDIT_LOG, LINKAGE_MODEL, VAULT_FILE, WAREHOUSE_FILE

__all__ = [
    "AGENCY_SOURCES",
    "AUDIT_PATH",
    "LINKAGE_MODEL_PATH",
    "VAULT_FILE",
    "WAREHOUSE_FILE",
    "list_tables",
    "read_table",
    "rewrite_database",
    "table_columns",
]

AUDIT_PATH = AUDIT_LOG
#: Where ``safeguard.linkage.link_with_details(artefact_dir=DIR/artefacts/linkage)`` saves the model.
LINKAGE_MODEL_PATH = LINKAGE_MODEL


def list_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Base tables of the main schema of an open database."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column name -> DuckDB type of ``table``."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {name: kind for name, kind in rows}


def read_table(
    db_path: Path,
    table: str,
    *,
    sql: str | None = None,
    params: list[object] | None = None,
) -> pd.DataFrame | None:
    """Run ``sql`` (default ``SELECT * FROM table``) read-only; None when the file or table is absent.

    Absence is normal (the portal may not exist yet, a stage may not have run); any other
    database error propagates.
    """
    if not Path(db_path).exists():
        return None
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        if table not in list_tables(con):
            return None
        return con.execute(sql or f'SELECT * FROM "{table}"', params or []).df()
    finally:
        con.close()


def rewrite_database(path: Path) -> int:
    """Copy the live rows of a DuckDB file into a fresh file and swap it in atomically.

    DuckDB's ``DELETE`` and ``CREATE OR REPLACE`` only mark blocks free: deleted names, NHS
    numbers and notes stay readable in the file (and its WAL) until overwritten. Copying what
    is live into a new file and replacing the old one leaves no deleted value in the bytes
    under the data directory. The old file's WAL, if any, goes with it. Returns the new size.
    """
    path = Path(path)
    fresh = path.with_name(f".{path.name}.rewrite")
    for stale in (fresh, fresh.with_name(fresh.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        name = con.execute("SELECT current_database()").fetchall()[0][0]
        con.execute("CHECKPOINT")
        target = str(fresh).replace("'", "''")
        con.execute(f"ATTACH '{target}' AS safeguard_rewrite")
        con.execute(f'COPY FROM DATABASE "{name}" TO safeguard_rewrite')
        con.execute("DETACH safeguard_rewrite")
    finally:
        con.close()
    fd = os.open(fresh, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(fresh, 0o600)
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path.stat().st_size
