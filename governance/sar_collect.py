"""Collect every row held or derived about one linked person, with third parties redacted.

Tables are found by their key columns rather than by a fixed list, so a table added later
(e.g. a new derived asset) is included in subject access without a code change:
``record_pseudo`` (the person's records), ``person_key``, ``family_key`` (their families) and
``flag_id`` (their families' flags).

Third parties are redacted, not just their top-level keys: a row about another person is left
out (the family's other members appear only as role and dates, key redacted); an evidence
item inside ``flag_explanations.evidence`` that cites another member's record or membership
loses every field (key, record, date, event type, source); practitioners' free text
(judgement and reallocation reasons) is withheld for review by the data team before release;
staff appear by role only (audit actors, worker ids, usernames).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from safeguard.dpia.audit import AuditLog
from safeguard.governance.store import (
    AUDIT_PATH,
    VAULT_FILE,
    WAREHOUSE_FILE,
    list_tables,
    read_table,
    table_columns,
)
from safeguard.linkage import standardise_dob, standardise_name
from safeguard.portal.records import read_portal_table, read_practitioner_tables

__all__ = ["FREE_TEXT_WITHHELD", "collect_subject_data"]

#: Shown instead of practitioners' free text, which may name third parties or staff: the data
#: team reviews it (and redacts what must be) before it is released with the export.
FREE_TEXT_WITHHELD = "[practitioner's free text: withheld until reviewed by the data team]"
# Staff log-in names are not about the requester; staff ids become their role.
_DROP_COLUMNS = frozenset({"username", "reallocated_by", "password_hash"})
_STAFF_COLUMNS = frozenset({"worker_id", "from_worker", "to_worker", "account"})
_FREE_TEXT_COLUMNS = frozenset({"reason"})
_SKIP_TABLES = frozenset({"users", "workers", "key_rotations"})
#: Audit actors that are services or the data team as a whole, not a person.
_SERVICE_ACTORS = frozenset(
    {"data_team", "system", "retention_job", "retention_schedule", "anonymous"}
)


def _plain(value: Any) -> Any:
    """JSON-safe scalar: dates as ISO (midnight timestamps as dates), missing as None."""
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _redact_evidence(text: Any, own: set[str], person_key: str, redacted: str) -> Any:
    """Evidence items citing another member's record or membership are redacted whole."""
    items = json.loads(text) if isinstance(text, str) else text
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if not isinstance(item, dict):
            out.append(redacted)
            continue
        mine = (
            item.get("record_pseudo") in own
            if item.get("record_pseudo") is not None
            else item.get("person_key") == person_key
        )
        out.append(dict(item) if mine else dict.fromkeys(item, redacted))
    return out


class _Scope:
    """The requester's keys, grown as tables reveal their families and flags."""

    def __init__(self, person_key: str) -> None:
        self.person_key = person_key
        self.records: set[str] = set()
        self.families: set[str] = set()
        self.flags: set[str] = set()
        self.objections: set[str] = set()

    def _keys(self) -> tuple[tuple[str, set[str]], ...]:
        """(column, the subject's values in it), in the order :meth:`where` and :meth:`mask` try them."""
        return (
            ("record_pseudo", self.records),
            ("person_key", {self.person_key}),
            ("family_key", self.families),
            ("flag_id", self.flags),
            ("objection_pseudo", self.objections),
        )

    def where(self, columns: Iterable[str]) -> tuple[str, list[Any]] | None:
        """SQL condition selecting this person's rows of a table with ``columns``."""
        cols = set(columns)
        parts: list[str] = []
        params: list[Any] = []
        for column, values in self._keys():
            if column in cols and values:
                parts.append(f'"{column}" IN (SELECT unnest(?::VARCHAR[]))')
                params.append(sorted(values))
            if column in cols and column in ("record_pseudo", "person_key"):
                break  # person-level tables: only the person's own rows, not their family's
        return (" OR ".join(parts), params) if parts else None

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """:meth:`where` on rows already read (the portal database, any backend)."""
        selected = pd.Series(False, index=frame.index)
        for column, values in self._keys():
            if column in frame and values:
                selected |= frame[column].isin(sorted(values))
            if column in frame and column in ("record_pseudo", "person_key"):
                break
        return selected


def _staff_role(value: Any, roles: Mapping[str, str]) -> Any:
    return None if value is None else roles.get(str(value), "member of staff")


def _rows(
    frame: pd.DataFrame, scope: _Scope, redacted: str, roles: Mapping[str, str]
) -> tuple[dict[str, Any], ...]:
    """The requester's rows, third parties and staff redacted (see the module docstring)."""
    rows = []
    for record in frame.drop(columns=[c for c in frame if c in _DROP_COLUMNS]).to_dict("records"):
        clean = {k: _plain(v) for k, v in record.items()}
        if clean.get("person_key") not in (None, scope.person_key):
            continue  # another person's row
        for column in _STAFF_COLUMNS & set(clean):
            clean[column] = _staff_role(clean[column], roles)
        for column in _FREE_TEXT_COLUMNS & set(clean):
            if clean[column] is not None:
                clean[column] = FREE_TEXT_WITHHELD
        if "evidence" in clean:
            clean["evidence"] = _redact_evidence(
                clean["evidence"], scope.records, scope.person_key, redacted
            )
        rows.append(clean)
    return tuple(rows)


def _member_rows(frame: pd.DataFrame, redacted: str) -> tuple[dict[str, Any], ...]:
    """Other members of the family: role and dates only, never their key."""
    keep = [c for c in ("role", "valid_from", "valid_to") if c in frame]
    return tuple(
        {"person_key": redacted, **{k: _plain(v) for k, v in row.items()}}
        for row in frame[keep].to_dict("records")
    )


def _collect_db(
    path: Path,
    label: str,
    scope: _Scope,
    redacted: str,
    roles: Mapping[str, str],
    order: Iterable[str] = (),
) -> dict[str, tuple[dict[str, Any], ...]]:
    if not path.exists():
        return {}
    sections: dict[str, tuple[dict[str, Any], ...]] = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for t in list_tables(con) if t not in _SKIP_TABLES]
        ranked = sorted(tables, key=lambda t: (list(order).index(t) if t in order else 99, t))
        for table in ranked:
            condition = scope.where(table_columns(con, table))
            if condition is None:
                continue
            sql, params = condition
            frame = con.execute(f'SELECT * FROM "{table}" WHERE {sql}', params).df()
            if frame.empty:
                continue
            if "family_key" in frame and table == "families":
                scope.families |= set(frame["family_key"].dropna())
            if "flag_id" in frame and table == "flags":
                scope.flags |= set(frame["flag_id"].dropna())
            rows = _rows(frame, scope, redacted, roles)
            if rows:
                sections[f"{label}: {table}"] = rows
    finally:
        con.close()
    return sections


def _collect_portal(
    data_dir: Path, scope: _Scope, redacted: str, roles: Mapping[str, str]
) -> dict[str, tuple[dict[str, Any], ...]]:
    """The practitioners' records about the person, read through :mod:`safeguard.portal.records`."""
    sections: dict[str, tuple[dict[str, Any], ...]] = {}
    for table, frame in sorted(read_practitioner_tables(data_dir).items()):
        if table in _SKIP_TABLES or frame.empty:
            continue
        rows = _rows(frame[scope.mask(frame)], scope, redacted, roles)
        if rows:
            sections[f"Practitioners' records: {table}"] = rows
    return sections


def _family_members(path: Path, scope: _Scope, redacted: str) -> tuple[dict[str, Any], ...]:
    """The other members of the person's families: role and dates only."""
    if not path.exists() or not scope.families:
        return ()
    con = duckdb.connect(str(path), read_only=True)
    try:
        frame = con.execute(
            "SELECT * FROM families WHERE family_key IN (SELECT unnest(?::VARCHAR[])) "
            "AND person_key <> ?",
            [sorted(scope.families), scope.person_key],
        ).df()
    finally:
        con.close()
    return _member_rows(frame, redacted)


def _objections(path: Path, names: tuple[str, str, date]) -> set[str]:
    """Pseudonyms of the requester's own objections (same standardised name and dob)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        if "identity_objections" not in list_tables(con):
            return set()
        frame = con.execute(
            "SELECT objection_pseudo, first_name, last_name, dob FROM identity_objections"
        ).df()
    finally:
        con.close()
    first, last, dob = names
    key = (
        standardise_name(pd.Series([first])).iloc[0],
        standardise_name(pd.Series([last])).iloc[0],
        standardise_dob(pd.Series([pd.Timestamp(dob)]))["dob"].iloc[0],
    )
    mine = (
        (standardise_name(frame["first_name"]) == key[0])
        & (standardise_name(frame["last_name"]) == key[1])
        & (standardise_dob(pd.to_datetime(frame["dob"]))["dob"] == key[2])
    ).fillna(False)
    return set(frame.loc[mine, "objection_pseudo"].dropna())


def _earlier_keys(vault: Path, keys: set[str]) -> set[str]:
    """Keys the person, families and flags had before key rotations (vault ``key_rotations``)."""
    history = read_table(vault, "key_rotations")
    if history is None or history.empty:
        return set()
    earlier: set[str] = set()
    current = set(keys)
    while True:  # follow the chain back through several rotations
        older = set(history.loc[history["current_key"].isin(current), "old_key"].dropna())
        if not older - earlier:
            return earlier
        earlier |= older
        current = older


def _staff_roles(data_dir: Path) -> dict[str, str]:
    """Username and worker id -> role, from the portal's accounts and the workers table."""
    roles: dict[str, str] = {}
    users = read_portal_table(Path(data_dir), "users")
    if users is not None:
        for username, role, worker in users[["username", "role", "worker_id"]].itertuples(
            index=False
        ):
            roles[str(username)] = str(role).replace("_", " ")
            if worker is not None and not pd.isna(worker):
                roles[str(worker)] = str(role).replace("_", " ")
    workers = read_table(Path(data_dir) / WAREHOUSE_FILE, "workers")
    if workers is not None and {"worker_id", "role"} <= set(workers.columns):
        for worker, role in workers[["worker_id", "role"]].itertuples(index=False):
            roles.setdefault(str(worker), str(role).replace("_", " "))
    return roles


def _audit_entry(entry: Any, roles: Mapping[str, str]) -> dict[str, Any]:
    """An audit entry with staff shown by role (their user names are not the requester's data)."""
    body = entry.body()
    actor = body["actor"]
    body["actor"] = actor if actor in _SERVICE_ACTORS else roles.get(actor, "member of staff")
    details = dict(body["details"])
    for key in _STAFF_COLUMNS & set(details):
        details[key] = _staff_role(details[key], roles)
    for key in {"username", "requested_by"} & set(details):
        details[key] = "member of staff"
    body["details"] = details
    return {k: _plain(v) if not isinstance(v, dict) else v for k, v in body.items()}


def collect_subject_data(
    data_dir: Path,
    person_key: str,
    *,
    request_names: tuple[str, str, date],
    redacted: str,
) -> tuple[dict[str, tuple[Mapping[str, Any], ...]], tuple[str, ...]]:
    """Every row about ``person_key`` across vault, warehouse, portal and audit trail.

    Returns the sections (title -> rows) and notes for the reader of the export.
    """
    scope = _Scope(person_key)
    vault = Path(data_dir) / VAULT_FILE
    con = duckdb.connect(str(vault), read_only=True)
    try:
        scope.records = {
            r[0]
            for r in con.execute(
                "SELECT record_pseudo FROM identity_vault WHERE person_key = ?", [person_key]
            ).fetchall()
        }
    finally:
        con.close()
    scope.objections = _objections(vault, request_names)
    sections: dict[str, tuple[Mapping[str, Any], ...]] = {}
    roles = _staff_roles(Path(data_dir))
    sections.update(
        _collect_db(vault, "Identity vault", scope, redacted, roles, ("identity_vault",))
    )
    warehouse = Path(data_dir) / WAREHOUSE_FILE
    order = ("record_links", "people", "protected_characteristics", "events", "families", "flags")
    sections.update(_collect_db(warehouse, "Warehouse", scope, redacted, roles, order))
    members = _family_members(warehouse, scope, redacted)
    if members:
        sections["Other members of your family (third parties, redacted)"] = members
    sections.update(_collect_portal(Path(data_dir), scope, redacted, roles))
    keys = {person_key} | scope.families | scope.flags
    keys |= _earlier_keys(vault, keys)  # audit entries written before a key rotation
    subjects = {
        f"{kind}:{k}" for k in keys for kind in ("person_key", "family_key", "flag_id", "flag")
    }
    audit = AuditLog(Path(data_dir) / AUDIT_PATH)
    entries = tuple(_audit_entry(e, roles) for e in audit.entries() if e.subject in subjects)
    if entries:
        sections["Audit trail: who did what with your data"] = entries
    notes = (
        f"Records were found through the record linkage ({len(scope.records)} agency "
        "record(s) linked to you), including records spelt differently by an agency.",
        f"Other members of your family are third parties: their keys, records and events "
        f"(including those cited as evidence for a reason) are shown as {redacted}. "
        "Family-level features, scores and reasons are kept.",
        "Practitioners' written reasons may mention other people: they are withheld here "
        f"({FREE_TEXT_WITHHELD}) and released after review by the data team.",
        "Staff are shown by their role, not their name or user name.",
        "Pseudonymised data (keys such as record_pseudo) is still your personal data and is "
        "included.",
    )
    return sections, notes
