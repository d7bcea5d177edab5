"""Retention purge: delete expired rows, and everything derived from them, per the register.

Source records expire ``period_months`` after their event date (a care episode after it
ends; an open episode never). An expired record is deleted from its ``<source>_records``
table, from the vault (``identity_<source>``, ``identity_vault``), from every table carrying
its ``record_pseudo`` (record links, events) or quoting it in an ``evidence`` JSON column
(flag explanations), and from every text artefact or report on disk that mentions it. People
left with no record lose their rows in ``people``, ``protected_characteristics`` and
``families``. Tables with their own date (quarantine and logs by extract date, features,
scores and flags by as-of date) expire by their own policy; explanations and caseloads go
with their flags. Aggregates (family features, scores) are rebuilt by the next run.

Deleting rows is not enough: DuckDB only marks their blocks free, so purged names, NHS
numbers and judgement text would stay readable in the file's bytes. Every database file is
therefore rewritten after its deletions (live rows copied to a fresh file swapped in
atomically, WAL removed). The portal's judgements and reallocations expire by their own
date, landing drops by their extract date, and the audit trail by entry date (cut with the
cut point sealed in its anchor, so what remains still verifies). The report lists every
store, touched or not, and why.

Order makes a failed purge safe to rerun: the expired set is read from the warehouse, which
is committed last, so a rerun finds the same records and finishes the job.
"""

from __future__ import annotations

import calendar
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from safeguard.contracts.landing import Source, sources
from safeguard.contracts.layout import DataDir
from safeguard.dpia.audit import AuditError, AuditLog
from safeguard.dpia.register import DpiaRegister
from safeguard.governance.store import (
    AGENCY_SOURCES,
    AUDIT_PATH,
    VAULT_FILE,
    WAREHOUSE_FILE,
    list_tables,
    rewrite_database,
    table_columns,
)
from safeguard.portal.records import (
    portal_database_exists,
    portal_location,
    purge_practitioner_records,
)
from safeguard.portal.snapshot import republish_serving_snapshot

__all__ = [
    "EVENT_DATE_SQL",
    "OWN_DATE_COLUMNS",
    "PORTAL_DATE_COLUMNS",
    "PurgeReport",
    "months_before",
    "purge_expired",
]


def _expiry_sql(source: Source) -> str:
    """SQL for the date a ``<source>_records`` row expires from (NULL = keep).

    Taken from the landing contract's date columns: the event date, or the later of the event
    and end dates for a record spanning a period; an open-ended record (no end date yet, e.g.
    a social-care episode still open) never expires.
    """
    if source.end_date is None:
        return source.event_date
    span = f"greatest({source.event_date}, {source.end_date})"
    if source.open_ended:
        return f"CASE WHEN {source.end_date} IS NULL THEN NULL ELSE {span} END"
    return span


#: The date a source record expires from (SQL on its ``<source>_records`` row; NULL = keep).
EVENT_DATE_SQL = {source.name: _expiry_sql(source) for source in sources()}
#: Tables that expire by a date of their own, under their own asset's policy.
OWN_DATE_COLUMNS = {
    "quarantine": "extract_date",
    "firewall_log": "extract_date",
    "row_accounting": "extract_date",
    "family_features": "as_of_date",
    "training_frame": "as_of_date",
    "family_scores": "as_of_date",
    "flags": "as_of_date",
}
#: Portal tables (written by practitioners) and the date each row expires from.
PORTAL_DATE_COLUMNS = {"judgements": "decided_at", "allocations": "reallocated_at"}
#: The portal database's line in the purge report, whatever its backend.
PORTAL_STORE = "portal database"
_PERSON_TABLES = ("people", "protected_characteristics", "families")
_TEXT_SUFFIXES = frozenset({".html", ".htm", ".md", ".json", ".csv", ".txt", ".svg"})
_PSEUDONYM = r"[0-9a-f]{16}"


@dataclass(frozen=True)
class PurgeReport:
    """What one purge deleted: rows per ``<database>.<table>``, files, and what it skipped."""

    today: date
    cutoffs: dict[str, date] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    files_removed: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)
    landing_removed: tuple[str, ...] = ()
    audit_entries_removed: int = 0
    audit_seq: int | None = None
    note: str = (
        "Derived aggregates (family features, scores, flags, caseloads, reports) still "
        "reflect the deleted records until the next pipeline run rebuilds them."
    )

    @property
    def rows_deleted(self) -> int:
        return sum(self.deleted.values())


def months_before(day: date, months: int) -> date:
    """``day`` minus whole calendar months (31 March minus 1 month is 28/29 February)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _in_list(column: str) -> str:
    return f'"{column}" IN (SELECT unnest(?::VARCHAR[]))'


def _delete(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list[object]) -> int:
    rows = con.execute(f'DELETE FROM "{table}" WHERE {where}', params).fetchall()
    return int(rows[0][0]) if rows else 0


@dataclass
class _Tally:
    """Mutable counts while purging; frozen into a :class:`PurgeReport` at the end."""

    today: date
    cutoffs: dict[str, date] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    stores: dict[str, str] = field(default_factory=dict)

    def rows_in(self, label: str) -> int:
        return sum(n for k, n in self.deleted.items() if k.startswith(f"{label}."))


class _Plan:
    """The expired keys, found before anything is deleted."""

    def __init__(self) -> None:
        self.records: list[str] = []
        self.record_keys: list[str] = []
        self.flags: list[str] = []


def _plan(con: duckdb.DuckDBPyConnection, register: DpiaRegister, report: _Tally) -> _Plan:
    plan = _Plan()
    tables = set(list_tables(con))
    for source in AGENCY_SOURCES:
        table = f"{source}_records"
        policy = register.retention_for(table)
        if table not in tables or policy.action != "delete" or policy.period_months is None:
            report.skipped[table] = "absent" if table not in tables else f"policy {policy.name}"
            continue
        cutoff = months_before(report.today, policy.period_months)
        report.cutoffs[table] = cutoff
        expired = con.execute(
            f'SELECT record_pseudo FROM "{table}" WHERE {EVENT_DATE_SQL[source]} < ?', [cutoff]
        ).fetchall()
        plan.records += [r[0] for r in expired if r[0] is not None]
    if "flags" in tables and "as_of_date" in table_columns(con, "flags"):
        cutoff = months_before(report.today, register.retention_for("flags").period_months or 0)
        found = con.execute("SELECT flag_id FROM flags WHERE as_of_date < ?", [cutoff]).fetchall()
        plan.flags = [r[0] for r in found]
    return plan


def _purge_records(con: duckdb.DuckDBPyConnection, label: str, plan: _Plan, report: _Tally) -> None:
    """Delete rows carrying an expired record pseudonym (column or ``evidence`` JSON)."""
    for table in list_tables(con):
        columns = table_columns(con, table)
        count = 0
        if "record_pseudo" in columns and plan.records:
            count += _delete(con, table, _in_list("record_pseudo"), [plan.records])
        if "evidence" in columns and plan.records:
            where = (
                f"list_has_any(regexp_extract_all(evidence::VARCHAR, '{_PSEUDONYM}'), ?::VARCHAR[])"
            )
            count += _delete(con, table, where, [plan.records])
        if "flag_id" in columns and table != "flags" and plan.flags:
            count += _delete(con, table, _in_list("flag_id"), [plan.flags])
        if count:
            report.deleted[f"{label}.{table}"] = report.deleted.get(f"{label}.{table}", 0) + count


def _purge_own_dates(
    con: duckdb.DuckDBPyConnection, register: DpiaRegister, report: _Tally
) -> None:
    for table, column in OWN_DATE_COLUMNS.items():
        if table not in list_tables(con) or column not in table_columns(con, table):
            report.skipped.setdefault(table, "absent")
            continue
        policy = register.retention_for(table)
        if policy.action != "delete" or policy.period_months is None:
            report.skipped[table] = f"policy {policy.name} is {policy.action}"
            continue
        cutoff = months_before(report.today, policy.period_months)
        report.cutoffs[table] = cutoff
        count = _delete(con, table, f'"{column}" < ?', [cutoff])
        if count:
            report.deleted[f"warehouse.{table}"] = count


def _purge_orphans(con: duckdb.DuckDBPyConnection, report: _Tally) -> None:
    """People whose every record is gone lose their person-level rows."""
    tables = set(list_tables(con))
    if "record_links" not in tables:
        return
    for table in _PERSON_TABLES:
        if table in tables and "person_key" in table_columns(con, table):
            where = "person_key NOT IN (SELECT person_key FROM record_links)"
            count = _delete(con, table, where, [])
            if count:
                report.deleted[f"warehouse.{table}"] = count


def _purge_portal(data_dir: Path, plan: _Plan, register: DpiaRegister, report: _Tally) -> None:
    """Judgements and reallocations of expired flags, and those past their own date.

    Through :mod:`safeguard.portal.records`, wherever the portal database is (SQLite by default,
    PostgreSQL, DuckDB); an embedded DuckDB file is rewritten afterwards like the others.
    """
    where = portal_location(data_dir)
    if not portal_database_exists(data_dir):
        report.stores[PORTAL_STORE] = "absent (the portal has not been started)"
        return
    policy = register.retention_for("practitioner_records")
    cutoff = None
    if policy.action != "delete" or policy.period_months is None:
        report.skipped["portal"] = f"policy {policy.name} is {policy.action}"
    else:
        day = months_before(report.today, policy.period_months)
        cutoff = datetime(day.year, day.month, day.day)
        for table in PORTAL_DATE_COLUMNS:
            report.cutoffs[f"portal.{table}"] = day
    removed = purge_practitioner_records(data_dir, cutoff, flags=plan.flags)
    for table, count in removed.items():
        if count:
            report.deleted[f"portal.{table}"] = report.deleted.get(f"portal.{table}", 0) + count
    rows = report.rows_in("portal")
    if where.backend == "duckdb" and where.path is not None:
        size = rewrite_database(where.path)
        done = f"file rewritten from its live rows ({size:,} bytes), WAL removed"
    elif where.backend == "sqlite":
        done = "file vacuumed, WAL truncated"
    else:
        done = "tables vacuumed"
    report.stores[PORTAL_STORE] = f"{where.label}: {rows:,} rows deleted; {done}"


def _purge_key_history(
    con: duckdb.DuckDBPyConnection, register: DpiaRegister, report: _Tally
) -> None:
    """Old-to-current key mappings serve the audit trail's old subjects: they expire with it."""
    policy = register.retention_for("audit_trail")
    if "key_rotations" not in list_tables(con) or policy.period_months is None:
        return
    cutoff = months_before(report.today, policy.period_months)
    count = _delete(con, "key_rotations", "rotated_at < ?", [cutoff])
    if count:
        report.deleted["vault.key_rotations"] = count


def _purge_landing(landing: Path, register: DpiaRegister, report: _Tally) -> tuple[str, ...]:
    """Delivered drops (folders named by extract date) older than the register allows."""
    policy = register.retention_for("landing_drops")
    if policy.action != "delete" or policy.period_months is None:
        report.stores["landing"] = f"not purged: policy {policy.name} is {policy.action}"
        return ()
    cutoff = months_before(report.today, policy.period_months)
    report.cutoffs["landing_drops"] = cutoff
    removed = []
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        try:
            extracted = date.fromisoformat(folder.name)
        except ValueError:
            continue  # not a drop folder: left for a person to look at
        if extracted < cutoff:
            shutil.rmtree(folder)
            removed.append(folder.name)
    report.stores["landing"] = (
        f"{landing}: {len(removed)} drop(s) extracted before {cutoff} deleted"
        if removed
        else f"{landing}: no drop extracted before {cutoff}"
    )
    return tuple(removed)


def _rewrite(path: Path, label: str, report: _Tally) -> None:
    """Rewrite a database after its deletions so no deleted value stays in its bytes."""
    size = rewrite_database(path)
    rows = report.rows_in(label)
    report.stores[path.name] = (
        f"{rows:,} rows deleted; file rewritten from its live rows ({size:,} bytes), WAL removed"
    )


def _cut_audit_trail(log: AuditLog, register: DpiaRegister, report: _Tally) -> int:
    policy = register.retention_for("audit_trail")
    if policy.action != "delete" or policy.period_months is None or not log.path.exists():
        report.stores["audit trail"] = "not cut (no trail, or its policy is not delete)"
        return 0
    cutoff = months_before(report.today, policy.period_months)
    report.cutoffs["audit_trail"] = cutoff
    cut = log.cut_before(datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC))
    report.stores["audit trail"] = (
        f"{cut.removed} entries written before {cutoff} removed (seq {cut.first_seq}..{cut.last_seq});"
        " the cut point is sealed in the anchor"
        if cut.removed
        else f"no entry written before {cutoff}"
    )
    return cut.removed


def _purge_files(roots: Iterable[Path], tokens: set[str], data_dir: Path) -> tuple[str, ...]:
    """Remove text artefacts that quote an expired record; the next run rebuilds them."""
    removed = []
    for root in roots:
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if not path.is_file() or path.suffix.lower() not in _TEXT_SUFFIXES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if any(token in text for token in tokens):
                path.unlink()
                removed.append(path.relative_to(data_dir).as_posix())
    return tuple(removed)


def _transaction(path: Path, work: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            work(con)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")  # fold the deletions into the file, not just the WAL
    finally:
        con.close()


def purge_expired(
    data_dir: Path,
    register: DpiaRegister,
    *,
    today: date,
    actor: str,
    landing: Path | None = None,
) -> PurgeReport:
    """Delete everything whose retention period has passed, and audit-log the counts.

    Parameters
    ----------
    data_dir
        The data directory (``warehouse.duckdb``, ``vault.duckdb``, ``artefacts/``,
        ``reports/``, ``audit/audit.jsonl``); the portal database is reached through
        :mod:`safeguard.portal.records` (``SAFEGUARD_PORTAL_DATABASE_URL``).
    register
        The DPIA register: retention periods per dataset.
    today
        The date the periods are counted back from.
    actor
        Who runs the purge (``data_team``, a scheduler id); the audit entry's actor.
    landing
        The landing folder of delivered drops (``<extract date>/`` folders); drops older
        than the register's ``landing_drops`` period are deleted. Defaults to
        ``data_dir/landing`` when that exists.

    Returns
    -------
    PurgeReport
        Rows deleted per table, files and drops removed, audit entries cut, cut-off dates,
        one line per store (touched or not, and why), datasets not purged here and why, and
        the sequence number of the ``purge`` audit entry.
    """
    data_dir = Path(data_dir)
    report = _Tally(today=today)
    warehouse = data_dir / WAREHOUSE_FILE
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: nothing to purge in {data_dir}")
    audit = AuditLog(data_dir / AUDIT_PATH)
    trail = audit.verify()
    if not trail.ok:  # a purge that cannot be audit-logged does not start
        raise AuditError(
            f"retention purge not started: the audit trail does not verify ({trail.reason})"
        )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        plan = _plan(con, register, report)
    finally:
        con.close()
    vault = data_dir / VAULT_FILE
    if vault.exists():
        if plan.records:
            vcon = duckdb.connect(str(vault), read_only=True)
            try:
                if "identity_vault" in list_tables(vcon):
                    plan.record_keys = [
                        r[0]
                        for r in vcon.execute(
                            f"SELECT DISTINCT record_key FROM identity_vault WHERE {_in_list('record_pseudo')}",
                            [plan.records],
                        ).fetchall()
                    ]
            finally:
                vcon.close()
            _transaction(vault, lambda c: _purge_records(c, "vault", plan, report))
        _transaction(vault, lambda c: _purge_key_history(c, register, report))
        _rewrite(vault, "vault", report)
    tokens = set(plan.records) | {k for k in plan.record_keys if k and len(k) >= 6}
    roots = (DataDir(data_dir).artefacts, DataDir(data_dir).reports)
    files = _purge_files(roots, tokens, data_dir) if tokens else ()
    report.stores["artefacts/ and reports/"] = (
        f"{len(files)} text file(s) quoting an expired record removed (rebuilt by the next run)"
    )
    _purge_portal(data_dir, plan, register, report)

    def warehouse_work(c: duckdb.DuckDBPyConnection) -> None:
        _purge_records(c, "warehouse", plan, report)
        _purge_own_dates(c, register, report)
        _purge_orphans(c, report)

    _transaction(warehouse, warehouse_work)
    _rewrite(warehouse, "warehouse", report)
    served = republish_serving_snapshot(data_dir)  # purged families leave the portal now
    report.stores["serving snapshot"] = (
        f"republished from the purged warehouse ({served.name}); older snapshots removed"
        if served is not None
        else "none published (the portal has not been served from this directory)"
    )
    landing = landing if landing is not None else DataDir(data_dir).landing
    dropped = _purge_landing(landing, register, report) if landing.is_dir() else ()
    if not landing.is_dir():
        report.stores["landing"] = f"{landing}: absent (drops not purged here)"
    report.stores["dagster_home"] = (
        "not purged: run history holds aggregate metadata only (counts, rates), no identifiers"
    )
    cut = _cut_audit_trail(audit, register, report)
    entry = audit.append(
        actor,
        "purge",
        today=today,
        deleted=report.deleted,
        rows_deleted=sum(report.deleted.values()),
        files_removed=len(files),
        landing_drops_removed=len(dropped),
        audit_entries_removed=cut,
        cutoffs=report.cutoffs,
        stores=sorted(report.stores),
    )
    return PurgeReport(
        today=today,
        cutoffs=dict(report.cutoffs),
        deleted=dict(report.deleted),
        files_removed=files,
        skipped=dict(report.skipped),
        stores=dict(report.stores),
        landing_removed=dropped,
        audit_entries_removed=cut,
        audit_seq=entry.seq,
    )
