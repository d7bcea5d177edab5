"""The portal database for the jobs beside the portal (governance, monitoring, retention).

Today those jobs open ``DIR/portal.duckdb`` with DuckDB directly, which is right for the
embedded default only. With ``SAFEGUARD_PORTAL_DATABASE_URL`` pointing at SQLite or PostgreSQL
the judgements live there instead, and a job reading the file would see "no portal yet": the
review pack would count no decisions and the retention purge would keep expired judgements.
These functions read and purge through the configured URL, whatever the backend.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from safeguard.portal.database import configured_url, default_url, open_portal_database
from safeguard.portal.schema import allocations, judgements, metadata

#: Practitioners' records that expire by their own date (the DPIA register's policy).
DATE_COLUMNS = {"judgements": judgements.c.decided_at, "allocations": allocations.c.reallocated_at}


def portal_database_exists(data_dir: Path) -> bool:
    """False only for the embedded default file that was never created (portal not started)."""
    url = configured_url(Path(data_dir))
    return url != default_url(Path(data_dir)) or (Path(data_dir) / "portal.duckdb").exists()


def read_portal_table(
    data_dir: Path, table: str, *, sql: str | None = None, params: dict[str, object] | None = None
) -> pd.DataFrame | None:
    """``sql`` (default: the whole ``table``) as a frame; None when there is no portal database.

    The drop-in for ``safeguard.governance.store.read_table(DIR / "portal.duckdb", table, sql=...)``;
    parameters are named (``:name``), as SQLAlchemy writes them on every backend.
    """
    if table not in metadata.tables:
        raise ValueError(f"{table!r} is not a portal table ({', '.join(sorted(metadata.tables))})")
    if not portal_database_exists(data_dir):
        return None
    with open_portal_database(Path(data_dir)) as database, database.reader() as conn:
        query = sa.text(sql) if sql else sa.select(metadata.tables[table])
        return pd.read_sql(query, conn, params=params)


def purge_practitioner_records(data_dir: Path, cutoff: datetime) -> dict[str, int]:
    """Delete judgements and reallocations recorded before ``cutoff``; rows removed per table.

    SQLite's freed pages are then vacuumed (so the bytes go) and PostgreSQL's table is
    ``VACUUM``-ed; the embedded DuckDB file is rewritten by the retention job as before.
    """
    if not portal_database_exists(data_dir):
        return {}
    removed: dict[str, int] = {}
    with open_portal_database(Path(data_dir)) as database:
        with database.cursor() as conn:
            for name, column in DATE_COLUMNS.items():
                result = conn.execute(sa.delete(column.table).where(column < cutoff))
                removed[name] = int(result.rowcount or 0)
            conn.execute(
                sa.update(metadata.tables["portal_revision"]).values(
                    revision=metadata.tables["portal_revision"].c.revision + 1
                )
            )
        if database.backend in {"sqlite", "postgresql"} and any(removed.values()):
            with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                if database.backend == "sqlite":
                    conn.exec_driver_sql("VACUUM")
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                else:
                    for name in DATE_COLUMNS:
                        conn.exec_driver_sql(f"VACUUM {name}")
    return removed
