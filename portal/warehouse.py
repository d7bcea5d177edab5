"""Read-only queries on the analytic warehouse: flags, reasons, workers, family membership.

Everything here is pseudonymous. Identities come only from :mod:`safeguard.portal.identity`, and only for
the worker a flag is allocated to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import duckdb


@dataclass(frozen=True)
class Flag:
    """A flagged family as the portal shows it (``worker_id`` is the effective allocation)."""

    flag_id: str
    family_key: str
    as_of_date: date
    worker_id: str | None
    rank: int | None
    probability: float | None
    band: str | None
    model_version: str | None
    postcode_district: str | None
    allocated_since: date | None = None

    def reallocated_to(self, worker_id: str, at: datetime) -> Flag:
        return replace(self, worker_id=worker_id, allocated_since=at.date())


@dataclass(frozen=True)
class Evidence:
    """One agency record behind a reason (pseudonymous until re-identified)."""

    source: str
    record_pseudo: str
    event_date: str | None
    event_type: str | None
    person_key: str | None = None


@dataclass(frozen=True)
class Reason:
    """One SHAP reason in plain English, with the records that support it."""

    reason_rank: int
    feature: str
    label: str | None
    direction: str
    contribution: float
    value: object
    text: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Worker:
    worker_id: str
    display_name: str
    team: str | None
    role: str | None


def as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _rows(
    cur: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> list[tuple[Any, ...]]:
    """Run a query; a table the pipeline has not built yet reads as empty (nothing to show)."""
    try:
        return cur.execute(sql, params or []).fetchall()
    except duckdb.CatalogException:
        return []


_FLAG_COLUMNS = (
    "flag_id, family_key, as_of_date, worker_id, rank, probability, band, model_version, "
    "postcode_district"
)


def _flag(row: tuple[object, ...]) -> Flag:
    flag_id, family_key, as_of, worker_id, rank, probability, band, version, district = row
    return Flag(
        flag_id=str(flag_id),
        family_key=str(family_key),
        as_of_date=as_date(as_of) or date.min,
        worker_id=None if worker_id is None else str(worker_id),
        rank=None if rank is None else int(rank),  # type: ignore[call-overload]
        probability=None if probability is None else float(probability),  # type: ignore[arg-type]
        band=None if band is None else str(band),
        model_version=None if version is None else str(version),
        postcode_district=None if district is None else str(district),
        allocated_since=as_date(as_of),
    )


def _has_table(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = cur.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    return bool(rows.fetchall()[0][0])


def current_flags(cur: duckdb.DuckDBPyConnection) -> list[Flag]:
    """Flags of the latest as-of date, less any withdrawn (older runs' flags are history).

    A flag withdrawn by a failed gate (``flag_withdrawals`` without ``reinstated_at``, e.g. the
    objections register could not be trusted) is not shown to anyone until a run that passes
    every gate publishes it again.
    """
    withdrawn = (
        "AND flag_id NOT IN (SELECT flag_id FROM flag_withdrawals WHERE reinstated_at IS NULL) "
        if _has_table(cur, "flag_withdrawals")
        else ""
    )
    rows = _rows(
        cur,
        f"SELECT {_FLAG_COLUMNS} FROM flags WHERE as_of_date = (SELECT max(as_of_date) FROM flags) "
        f"{withdrawn}ORDER BY rank, flag_id",
    )
    return [_flag(row) for row in rows]


def withdrawn_flag_count(cur: duckdb.DuckDBPyConnection) -> int:
    """How many served flags are withdrawn now (shown to practitioners as a notice, no detail)."""
    if not _has_table(cur, "flag_withdrawals"):
        return 0
    rows = _rows(cur, "SELECT count(*) FROM flag_withdrawals WHERE reinstated_at IS NULL")
    return int(rows[0][0]) if rows else 0


def _evidence(raw: object) -> tuple[Evidence, ...]:
    if raw is None:
        return ()
    items = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(
        Evidence(
            source=str(item["source"]),
            # family make-up evidence is a membership row: no agency record, one per member
            record_pseudo=(
                str(item["record_pseudo"])
                if item.get("record_pseudo") is not None
                else f"member:{item.get('person_key')}"
            ),
            event_date=None if item.get("event_date") is None else str(item["event_date"])[:10],
            event_type=item.get("event_type"),
            person_key=None if item.get("person_key") is None else str(item["person_key"]),
        )
        for item in items  # type: ignore[union-attr]
    )


def reasons(cur: duckdb.DuckDBPyConnection, flag_id: str) -> list[Reason]:
    """The flag's reasons, strongest first."""
    rows = _rows(
        cur,
        "SELECT reason_rank, feature, label, direction, contribution, value, text, evidence "
        "FROM flag_explanations WHERE flag_id = ? ORDER BY reason_rank",
        [flag_id],
    )
    return [
        Reason(
            reason_rank=int(rank),
            feature=str(feature),
            label=None if label is None else str(label),
            direction=str(direction),
            contribution=float(contribution or 0.0),
            value=value,
            text=str(text),
            evidence=_evidence(evidence),
        )
        for rank, feature, label, direction, contribution, value, text, evidence in rows
    ]


def workers(cur: duckdb.DuckDBPyConnection, team: str | None = None) -> list[Worker]:
    sql = "SELECT worker_id, display_name, team, role FROM workers"
    params: list[object] = []
    if team is not None:
        sql += " WHERE team = ?"
        params.append(team)
    rows = _rows(cur, sql + " ORDER BY display_name, worker_id", params)
    return [Worker(*(None if v is None else str(v) for v in row)) for row in rows]  # type: ignore[arg-type]


def family_members(cur: duckdb.DuckDBPyConnection, family_key: str) -> list[tuple[str, str]]:
    """Current members of a family as ``(person_key, role)``, children first."""
    rows = _rows(
        cur,
        "SELECT person_key, role FROM families WHERE family_key = ? AND valid_to IS NULL "
        "ORDER BY role = 'adult', person_key",
        [family_key],
    )
    return [(str(person_key), str(role)) for person_key, role in rows]
