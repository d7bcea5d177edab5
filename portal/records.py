"""The portal database for the jobs beside the portal (governance, monitoring, retention, keys).

Those jobs never open the portal's file themselves: the database is wherever
``SAFEGUARD_PORTAL_DATABASE_URL`` says (the embedded SQLite file by default, PostgreSQL in
production, DuckDB if configured), and a job reading a file name would see "no portal yet" on
any other backend: the review pack would count no decisions and the retention purge would keep
expired judgements. These functions read, purge and re-key through the configured URL,
whatever the backend. They are the only door governance has into the portal (docs/DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from safeguard.portal.database import PortalDatabase, _file_of, configured_url, open_portal_database
from safeguard.portal.schema import allocations, judgements, metadata
from safeguard.portal.schema import revision as revision_table

__all__ = [
    "DATE_COLUMNS",
    "PRACTITIONER_TABLES",
    "PortalLocation",
    "portal_database_exists",
    "portal_location",
    "purge_practitioner_records",
    "read_portal_table",
    "read_practitioner_tables",
    "replace_practitioner_tables",
]

#: Practitioners' records that expire by their own date (the DPIA register's policy).
DATE_COLUMNS = {"judgements": judgements.c.decided_at, "allocations": allocations.c.reallocated_at}
#: The tables that can quote a person, family or flag (re-keyed by a key rotation). Sessions and
#: sign-ins in progress hold none; the portal is stopped during a rotation anyway.
PRACTITIONER_TABLES = ("users", "judgements", "allocations")


@dataclass(frozen=True)
class PortalLocation:
    """Where the portal database is: its backend, its file (embedded only), a printable name."""

    backend: str
    path: Path | None
    label: str


def portal_location(data_dir: Path) -> PortalLocation:
    url = sa.make_url(configured_url(Path(data_dir)))
    path = _file_of(url)
    label = path.name if path is not None else url.render_as_string(hide_password=True)
    return PortalLocation(url.get_backend_name(), path, label)


def portal_database_exists(data_dir: Path) -> bool:
    """False only for an embedded file that was never created (the portal not started)."""
    path = portal_location(data_dir).path
    return path is None or path.exists()


def read_portal_table(
    data_dir: Path, table: str, *, sql: str | None = None, params: dict[str, object] | None = None
) -> pd.DataFrame | None:
    """``sql`` (default: the whole ``table``) as a frame; None when there is no portal database.

    Parameters are named (``:name``), as SQLAlchemy writes them on every backend.
    """
    if table not in metadata.tables:
        raise ValueError(f"{table!r} is not a portal table ({', '.join(sorted(metadata.tables))})")
    if not portal_database_exists(data_dir):
        return None
    with open_portal_database(Path(data_dir)) as database, database.reader() as conn:
        query = sa.text(sql) if sql else sa.select(metadata.tables[table])
        return pd.read_sql(query, conn, params=params)


def _bump(conn: sa.Connection) -> None:
    conn.execute(sa.update(revision_table).values(revision=revision_table.c.revision + 1))


def _vacuum(database: PortalDatabase, tables: Collection[str], *, full: bool = False) -> None:
    """Let the deleted rows' bytes go: SQLite's free pages and PostgreSQL's dead tuples.

    ``full``: PostgreSQL rewrites each table into a new file (``VACUUM FULL``, an exclusive
    lock: only while the portal is stopped, as during a key rotation) instead of marking the
    dead tuples reusable, so the old values leave the table's live file at once.
    """
    if database.backend not in {"sqlite", "postgresql"}:
        return  # an embedded DuckDB file is rewritten by the caller (safeguard.governance.store)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if database.backend == "sqlite":
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            for name in tables:
                conn.exec_driver_sql(f"VACUUM {'FULL ' if full else ''}{name}")


def purge_practitioner_records(
    data_dir: Path, cutoff: datetime | None, *, flags: Collection[str] = ()
) -> dict[str, int]:
    """Delete judgements and reallocations recorded before ``cutoff`` or about ``flags``.

    Returns the rows removed per table. SQLite's freed pages are then vacuumed (so the bytes
    go) and PostgreSQL's tables ``VACUUM``-ed; an embedded DuckDB file is rewritten by the
    retention job. ``cutoff`` None: the date policy does not delete (only ``flags`` go).
    """
    if not portal_database_exists(data_dir):
        return {}
    removed: dict[str, int] = {}
    flags = sorted(set(flags))
    with open_portal_database(Path(data_dir)) as database:
        with database.cursor() as conn:
            for name, column in DATE_COLUMNS.items():
                table = column.table
                count = 0
                if flags:
                    result = conn.execute(sa.delete(table).where(table.c.flag_id.in_(flags)))
                    count += int(result.rowcount or 0)
                if cutoff is not None:
                    result = conn.execute(sa.delete(table).where(column < cutoff))
                    count += int(result.rowcount or 0)
                removed[name] = count
            _bump(conn)
        if any(removed.values()):
            _vacuum(database, DATE_COLUMNS)
    return removed


def read_practitioner_tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Every row of :data:`PRACTITIONER_TABLES` (none when the portal was never started)."""
    if not portal_database_exists(data_dir):
        return {}
    with open_portal_database(Path(data_dir)) as database, database.reader() as conn:
        return {
            name: pd.read_sql(sa.select(metadata.tables[name]), conn)
            for name in PRACTITIONER_TABLES
        }


def _rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    plain = frame.astype(object).where(frame.notna(), None)
    rows = plain.to_dict("records")
    for row in rows:
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[key] = value.to_pydatetime()
    return rows  # type: ignore[return-value]


def replace_practitioner_tables(
    data_dir: Path,
    frames: Mapping[str, pd.DataFrame],
) -> None:
    """Replace the rows of each named table with ``frames`` in one transaction (idempotent).

    Used by a key rotation to swap re-keyed rows in: all or nothing, so a rerun after a crash
    writes the same rows again. Old values are then vacuumed away where the backend allows
    (SQLite ``VACUUM`` and WAL truncated; PostgreSQL ``VACUUM FULL``); an embedded DuckDB file
    is rewritten by the caller (``safeguard.governance.store.rewrite_database``).
    """
    unknown = set(frames) - set(PRACTITIONER_TABLES)
    if unknown:
        raise ValueError(f"not practitioner tables: {sorted(unknown)}")
    with open_portal_database(Path(data_dir)) as database:
        with database.cursor() as conn:
            for name in PRACTITIONER_TABLES:  # users first: nothing refers to them by key
                if name not in frames:
                    continue
                table = metadata.tables[name]
                conn.execute(sa.delete(table))
                frame = frames[name]
                rows = _rows(frame[[c.name for c in table.columns if c.name in frame]])
                if rows:
                    conn.execute(sa.insert(table), rows)
            _bump(conn)
        _vacuum(database, frames, full=True)
