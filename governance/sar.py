"""Subject access (UK GDPR Art 15): everything held and derived about one person.

The requester is found through the linkage (:mod:`safeguard.governance.matching`), never by an exact
search, so records an agency spelt differently are included. Pseudonymised data is personal
data: the export covers the vault identities, the pseudonymised agency rows, links, family
membership, family features, scores, flags, explanations, practitioners' judgements and the
audit entries about them. Other family members are third parties: their keys and record
references, records and events (nested evidence included) are replaced by
``[third party: redacted]``; family-level figures are kept; practitioners' free text is
withheld for review and staff appear by role (:mod:`safeguard.governance.sar_collect`). An ambiguous
request exports nothing and asks for manual verification, and so does a fuzzy match whose
first name or date of birth differs on every record (a twin "Jun" must never receive "Yun"'s
records because the model thinks the names are a typo apart). A data directory whose linkage
stood at a past as-of date left later records unlinked: the request is refused
(:class:`~safeguard.governance.matching.LinkageIncomplete`), never answered "nothing found".
Every request, answered or refused, is audit-logged (action ``sar``) without any
identifier in the log.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from safeguard.dpia.audit import AuditLog
from safeguard.governance.matching import (
    DEFAULT_MATCH_THRESHOLD,
    LinkageIncomplete,
    score_candidates,
)
from safeguard.governance.sar_collect import collect_subject_data
from safeguard.governance.sar_render import render_sar_html
from safeguard.governance.store import AUDIT_PATH, VAULT_FILE, read_table
from safeguard.linkage import standardise_dob, standardise_name

__all__ = ["REDACTED", "SarExport", "SarRequest", "subject_access", "write_sar"]

REDACTED = "[third party: redacted]"
SarStatus = Literal["matched", "no_match", "needs_verification"]


@dataclass(frozen=True)
class SarRequest:
    """The request as made (the requester's own identifiers)."""

    first_name: str
    last_name: str
    dob: date
    postcode: str | None
    requested_by: str
    received_at: datetime


@dataclass(frozen=True)
class SarExport:
    """The answer to one request.

    ``sections`` maps a plain-English title to its rows (JSON-safe dicts); empty unless
    ``status`` is ``matched``. ``audit_seq`` is the audit entry that records the export.
    """

    request: SarRequest
    status: SarStatus
    message: str
    generated_at: datetime
    person_keys: tuple[str, ...] = ()
    sections: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    audit_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only (dates as ISO strings)."""
        data = asdict(self)
        data["sections"] = {k: [dict(r) for r in v] for k, v in self.sections.items()}
        return json.loads(json.dumps(data, default=_json_default))

    def record_count(self) -> int:
        return sum(len(rows) for rows in self.sections.values())


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable in a SAR export")


def _decide(candidates: pd.DataFrame, threshold: float) -> tuple[SarStatus, str, tuple[str, ...]]:
    confident = sorted(
        set(candidates.loc[candidates["match_probability"] >= threshold, "person_key"])
    )
    weak = set(candidates["person_key"]) - set(confident)
    if len(confident) == 1:
        note = (
            f" {len(weak)} other linked person(s) resembled the request below the match "
            "threshold and were not included."
            if weak
            else ""
        )
        return "matched", f"The request matched one linked person.{note}", (confident[0],)
    if len(confident) > 1:
        return (
            "needs_verification",
            f"The request matched {len(confident)} different linked people. Nothing was "
            "exported: verify the requester's identity and identifiers manually (e.g. "
            "address history, agency reference) before disclosing anything.",
            (),
        )
    if weak:
        return (
            "needs_verification",
            f"The request resembled {len(weak)} linked person(s) but none reached the match "
            "threshold. Nothing was exported: verify the requester's details manually.",
            (),
        )
    return (
        "no_match",
        "No linked records match the request. The council holds no analytics data about "
        "this person under these details (check spelling, date of birth and postcode).",
        (),
    )


def _same_given_name_and_dob(data_dir: Path, person_key: str, first_name: str, dob: date) -> bool:
    """True when one of the person's records has the request's first name and date of birth.

    The linkage tolerates typos because agencies make them; a requester does not misspell
    their own name, so a match that only a typo's tolerance explains (a twin, a sibling with
    the same date of birth) must be verified by a person before anything is disclosed.
    """
    rows = read_table(
        Path(data_dir) / VAULT_FILE,
        "identity_vault",
        sql="SELECT first_name, dob FROM identity_vault WHERE person_key = ?",
        params=[person_key],
    )
    if rows is None or rows.empty:
        return False
    wanted_name = standardise_name(pd.Series([first_name])).iloc[0]
    wanted_dob = standardise_dob(pd.Series([pd.Timestamp(dob)]))["dob"].iloc[0]
    names = standardise_name(rows["first_name"].astype("string"))
    dobs = standardise_dob(pd.to_datetime(rows["dob"], errors="coerce"))["dob"]
    return bool(((names == wanted_name) & (dobs == wanted_dob)).fillna(False).any())


def subject_access(
    data_dir: Path,
    *,
    first_name: str,
    last_name: str,
    dob: date,
    postcode: str | None = None,
    requested_by: str,
    threshold: float = DEFAULT_MATCH_THRESHOLD,
    candidate_floor: float = 0.5,
) -> SarExport:
    """Answer a subject access request through the linkage.

    Parameters
    ----------
    data_dir
        The data directory (warehouse, vault, optional portal database, audit trail,
        linkage model).
    first_name, last_name, dob, postcode
        The requester's identifiers as they gave them (verified by the council beforehand).
    requested_by
        Who runs the request (a user id); the audit entry's actor.
    threshold
        Match probability at which a linked person is the requester (the linkage's own
        link threshold by default).
    candidate_floor
        Scores from this up to ``threshold`` count as "resembles": if only such people are
        found, nothing is disclosed and manual verification is asked for.

    Returns
    -------
    SarExport
        ``matched`` with everything held and derived, ``no_match``, or
        ``needs_verification`` (several people, or only weak resemblance) with no data.
    """
    data_dir = Path(data_dir)
    request = SarRequest(first_name, last_name, dob, postcode, requested_by, datetime.now(UTC))
    query = pd.DataFrame(
        {
            "query_id": ["request"],
            "first_name": [first_name],
            "last_name": [last_name],
            "dob": [pd.Timestamp(dob)],
            "postcode": [postcode],
        }
    )
    try:
        candidates = score_candidates(data_dir, query, floor=candidate_floor)
    except LinkageIncomplete:  # refused, not answered: logged like any request
        AuditLog(data_dir / AUDIT_PATH).append(
            requested_by, "sar", subject=None, status="refused_linkage_as_of", rows_exported=0
        )
        raise
    status, message, people = _decide(candidates, threshold)
    if status == "matched" and not _same_given_name_and_dob(data_dir, people[0], first_name, dob):
        status, people = "needs_verification", ()
        message = (
            "The request resembled one linked person, but none of their records gives the "
            "same first name and date of birth as the request (for example a twin or sibling "
            "one letter apart). Nothing was exported: verify the requester's identity and "
            "identifiers manually before disclosing anything."
        )
    sections: dict[str, tuple[Mapping[str, Any], ...]] = {}
    notes: tuple[str, ...] = ()
    if status == "matched":
        sections, notes = collect_subject_data(
            data_dir, people[0], request_names=(first_name, last_name, dob), redacted=REDACTED
        )
    export = SarExport(request, status, message, datetime.now(UTC), people, sections, notes)
    entry = AuditLog(data_dir / AUDIT_PATH).append(
        requested_by,
        "sar",
        subject=f"person_key:{people[0]}" if status == "matched" else None,
        status=status,
        rows_exported=export.record_count(),
        sections={k: len(v) for k, v in sections.items()},
        people_considered=int(candidates["person_key"].nunique()),
    )
    return replace(export, audit_seq=entry.seq)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def write_sar(export: SarExport, out: Path) -> tuple[Path, Path]:
    """Write the export as ``<out>.html`` and ``<out>.json`` (mode 0600: personal data).

    ``out`` may be given with or without a suffix; both files share its stem.
    """
    out = Path(out)
    html_path, json_path = out.with_suffix(".html"), out.with_suffix(".json")
    _write_private(json_path, json.dumps(export.as_dict(), indent=2, ensure_ascii=False))
    _write_private(html_path, render_sar_html(export))
    return html_path, json_path
