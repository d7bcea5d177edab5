"""Re-identification from the identity vault, for the allocated worker's family page only.

The caller (the family page) checks the allocation and writes the ``reidentification`` audit
entry before anything from here is shown. Nothing in this module is used by reviewer pages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from safeguard.contracts.landing import AGENCY_SOURCES
from safeguard.portal.db import DataUnavailableError
from safeguard.portal.warehouse import Evidence, as_date

SOURCES = AGENCY_SOURCES  # the agency sources of the landing contract
MEMBERSHIP_SOURCE = "families"  # evidence for family make-up: membership rows, not a record
SOURCE_NAMES = {
    MEMBERSHIP_SOURCE: "Family membership (linked records)",
    "social_care": "Children's social care",
    "education": "Education",
    "housing": "Housing",
    "police": "Police",
    "revenues_benefits": "Revenues and benefits",
}


@dataclass(frozen=True)
class Member:
    """A family member as the allocated worker sees them."""

    person_key: str
    role: str
    first_name: str | None
    last_name: str | None
    dob: date | None

    @property
    def name(self) -> str:
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) if parts else "Name not held"


@dataclass(frozen=True)
class EvidenceRecord:
    """An agency record behind a reason, with the person it is about."""

    source: str
    source_name: str
    event_date: str | None
    event_type: str | None
    person_name: str


def reidentify_members(
    cur: duckdb.DuckDBPyConnection, members: list[tuple[str, str]]
) -> list[Member]:
    """Names and dates of birth for ``(person_key, role)`` pairs.

    A person linked across agencies has several vault rows; the most frequent spelling is shown,
    as a typo in one agency's record is the usual reason for a difference.
    """
    rows = (
        _vault_rows(
            cur,
            "SELECT person_key, first_name, last_name, dob FROM identity_vault "
            "WHERE list_contains(?::VARCHAR[], person_key)",
            [[pk for pk, _ in members]],
        )
        if members
        else []
    )
    spellings: dict[str, Counter[tuple[object, object, object]]] = {}
    for person_key, first, last, dob in rows:
        spellings.setdefault(str(person_key), Counter())[(first, last, dob)] += 1
    result = []
    for person_key, role in members:
        if person_key in spellings:
            first, last, dob = spellings[person_key].most_common(1)[0][0]
            result.append(Member(person_key, role, _text(first), _text(last), as_date(dob)))
        else:
            result.append(Member(person_key, role, None, None, None))
    return result


def reidentify_evidence(
    cur: duckdb.DuckDBPyConnection,
    evidence: list[Evidence],
    members: Sequence[Member] = (),
) -> dict[tuple[str, str], EvidenceRecord]:
    """Map ``(source, record_pseudo)`` to the record's person, date and type.

    One query over the ``identity_<source>`` tables the evidence names (sources outside the
    landing contract are never interpolated into SQL). Family make-up evidence is a membership
    row, named from the already re-identified ``members``.
    """
    member_names = {m.person_key: m.name for m in members}
    sources = sorted({e.source for e in evidence} & set(SOURCES))
    names: dict[tuple[str, str], str] = {}
    if sources:
        sql = " UNION ALL ".join(
            f"SELECT '{source}' AS source, record_pseudo, first_name, last_name "
            f"FROM identity_{source} WHERE list_contains(?::VARCHAR[], record_pseudo)"
            for source in sources
        )
        params = [sorted({e.record_pseudo for e in evidence if e.source == s}) for s in sources]
        for source, pseudo, first, last in _vault_rows(cur, sql, params):
            full = " ".join(str(p) for p in (first, last) if p)
            names[(str(source), str(pseudo))] = full or "Name not held"
    return {
        (e.source, e.record_pseudo): EvidenceRecord(
            source=e.source,
            source_name=SOURCE_NAMES.get(e.source, e.source),
            event_date=e.event_date,
            event_type=e.event_type,
            person_name=(
                member_names.get(e.person_key or "", "Family member")
                if e.source == MEMBERSHIP_SOURCE
                else names.get((e.source, e.record_pseudo), "Record no longer held")
            ),
        )
        for e in evidence
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _vault_rows(
    cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]
) -> list[tuple[object, ...]]:
    try:
        return cur.execute(sql, list(params)).fetchall()
    except duckdb.CatalogException as exc:
        raise DataUnavailableError(
            f"the identity vault is missing a table the flags refer to ({exc}); "
            "re-run the pipeline so the vault and the warehouse come from the same run"
        ) from exc
