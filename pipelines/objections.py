"""Objections fail closed: the register's gates, withdrawal of served flags, the objector check.

Thin adapters between Dagster and the domain: the register is judged by
:func:`safeguard.ingest.objections.assess_register`, withdrawals kept by :mod:`safeguard.governance.withdrawals`.
A failed register gate (``objections_register_complete`` or ``objections_volume_vs_previous``,
both blocking) stops linkage, features, training and flagging, keeps the last accepted register
in the warehouse and vault, and withdraws every flag served to practitioners until a run passes.
A row quarantined for a defect but naming someone does not fail the gate: it is kept in the
vault as an objection pending verification (:mod:`safeguard.governance.pending_objections`) and every
family of a possible match is excluded. ``no_objector_scored_or_flagged`` is checked on the
scores and flags *before* they are written, pending objections included.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

from safeguard.governance.pending_objections import (
    PENDING_TABLE,
    candidate_person_keys,
    families_of,
    usable_identity,
)
from safeguard.governance.withdrawals import empty_withdrawals, reinstate_flags, withdraw_flags
from safeguard.ingest.contract import LandingContract
from safeguard.ingest.csvfile import CsvFileError
from safeguard.ingest.drops import Drop, scan_drops
from safeguard.ingest.objections import (
    RegisterAssessment,
    RegisterPolicy,
    assess_register,
    newer_register_problems,
    quarantined_register_rows,
)
from safeguard.ingest.reader import FileIngest, read_file

if TYPE_CHECKING:
    from safeguard.pipelines.resources import RunSettings, Warehouse

REGISTER_COMPLETE = "objections_register_complete"
REGISTER_VOLUME = "objections_volume_vs_previous"
OBJECTOR_CHECK = "no_objector_scored_or_flagged"
WITHDRAWALS_TABLE = "flag_withdrawals"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ObjectorFlaggedError(RuntimeError):
    """Scores or flags would have included a family with an objector: nothing was published."""


def read_register(drop: Drop, contract: LandingContract) -> tuple[FileIngest | None, str | None]:
    """The register as read, or why it could not be (the exception's type only)."""
    try:
        return read_file(drop, "objections", contract), None
    except (OSError, CsvFileError, UnicodeError) as exc:
        return None, type(exc).__name__


def _previous_ids(warehouse: Warehouse) -> set[str] | None:
    """Ids of the last accepted register: accepted objections and those pending verification."""
    if not warehouse.table_exists("identity_objections", vault=True):
        return None
    ids = warehouse.read_table("identity_objections", vault=True, columns=["objection_id"])
    previous = set(ids["objection_id"].dropna().astype(str))
    if warehouse.table_exists(PENDING_TABLE, vault=True):
        pending = warehouse.read_table(PENDING_TABLE, vault=True, columns=["objection_id"])
        previous |= set(pending["objection_id"].dropna().astype(str))
    return previous


def pending_frame(
    drop: Drop, contract: LandingContract, register: FileIngest | None
) -> pd.DataFrame:
    """The register's quarantined rows that name someone, for the vault's ``pending_objections``.

    Usable parts only (``safeguard.ingest.objections.quarantined_register_rows``), with the extract date.
    """
    rows = quarantined_register_rows(drop, contract, register)
    rows = rows.loc[usable_identity(rows).to_numpy(bool)].reset_index(drop=True)
    rows["extract_date"] = pd.Series(
        pd.Timestamp(drop.extract_date), index=rows.index, dtype="datetime64[ns]"
    )
    return rows


def assess(
    warehouse: Warehouse,
    landing: Path,
    drop: Drop,
    contract: LandingContract,
    register: FileIngest | None,
    read_error: str | None,
    settings: RunSettings,
) -> tuple[RegisterAssessment, pd.DataFrame]:
    """The register's verdict, and its rows pending verification (for the vault)."""
    pending = pending_frame(drop, contract, register)
    current: set[str] = set()
    if register is not None:
        current = set(register.accepted["objection_id"].dropna().astype(str))
        current |= set(pending["objection_id"].dropna().astype(str))
    assessment = assess_register(
        register,
        read_error=read_error,
        previous_ids=_previous_ids(warehouse),
        current_ids=current,
        pending_rows=set(pending["row_number"].dropna().astype(int)),
        newer_problems=newer_register_problems(scan_drops(landing), drop),
        policy=RegisterPolicy(
            may_be_empty=settings.objections_may_be_empty,
            max_lost=settings.max_objections_lost,
            max_quarantined_share=settings.suite_settings().quarantine_limit(reference=True),
        ),
    )
    return assessment, pending


def pending_note(pending: int) -> str:
    """What a passed register gate says about its objections pending verification (counts)."""
    return (
        f"{pending} objection(s) pending verification: quarantined for a defect, honoured by "
        "name (same name and postcode district, any date of birth); the families of every "
        "possible match are excluded from scoring and flags until the register is corrected"
    )


def register_check_results(assessment: RegisterAssessment) -> Iterator[dg.AssetCheckResult]:
    for name, problems in (
        (REGISTER_COMPLETE, assessment.complete_problems),
        (REGISTER_VOLUME, assessment.volume_problems),
    ):
        message = "; ".join(problems)
        note = pending_note(assessment.pending) if name == REGISTER_COMPLETE else ""
        description = message or (note if assessment.pending else "")
        yield dg.AssetCheckResult(
            asset_key="objections",
            check_name=name,
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description=description or None,
            metadata={**assessment.metrics, **({"failure": message} if message else {})},
        )


def _ledger(warehouse: Warehouse) -> pd.DataFrame:
    if warehouse.table_exists(WITHDRAWALS_TABLE):
        return warehouse.read_table(WITHDRAWALS_TABLE)
    return empty_withdrawals()


def _served(warehouse: Warehouse) -> Warehouse:
    """Withdrawals act on what is served, whichever step fails: not an input of that step."""
    return getattr(warehouse, "unchecked", warehouse)


def withdraw_served_flags(warehouse: Warehouse, *, gate: str, reason: str) -> int:
    """Withdraw every served flag (recorded in ``flag_withdrawals`` and the audit trail)."""
    warehouse = _served(warehouse)
    if not warehouse.table_exists("flags"):
        return 0
    flags = warehouse.read_table("flags")
    ledger, withdrawn = withdraw_flags(
        flags, _ledger(warehouse), gate=gate, reason=reason, at=utc_now()
    )
    if withdrawn:
        warehouse.write_table(WITHDRAWALS_TABLE, ledger)
        warehouse.audit_log().append(
            "pipeline", "flags_withdrawn", flags=withdrawn, gate=gate, reason=reason[:500]
        )
    return withdrawn


def reinstate_published_flags(warehouse: Warehouse, flag_ids: pd.Series) -> int:
    """After a run that passed every gate published flags: close their open withdrawals."""
    warehouse = _served(warehouse)
    if not warehouse.table_exists(WITHDRAWALS_TABLE):
        return 0
    ledger, reinstated = reinstate_flags(_ledger(warehouse), flag_ids.astype(str), at=utc_now())
    if reinstated:
        warehouse.write_table(WITHDRAWALS_TABLE, ledger)
        warehouse.audit_log().append("pipeline", "flags_reinstated", flags=reinstated)
    return reinstated


def pending_person_keys(warehouse: Warehouse) -> set[str]:
    """People who may be named by an objection pending verification (read from the vault)."""
    if not (
        warehouse.table_exists(PENDING_TABLE, vault=True)
        and warehouse.table_exists("identity_vault", vault=True)
    ):
        return set()
    pending = warehouse.read_table(PENDING_TABLE, vault=True)
    if pending.empty:
        return set()
    identities = warehouse.read_table(
        "identity_vault",
        vault=True,
        columns=["first_name", "last_name", "postcode", "person_key"],
    )
    identities = identities[identities["person_key"].notna()]  # linked records only
    return candidate_person_keys(identities, pending)


def objector_families(warehouse: Warehouse, families: pd.DataFrame) -> set[str]:
    """Families (any spell) with a member matched to the register, read from the vault.

    Independent of the exclusion the scoring step applies (which reads ``record_links``): the
    vault's own ``identity_vault`` rows of source ``objections`` name the objectors' person keys;
    the people possibly named by an objection pending verification are added.
    """
    if not warehouse.table_exists("identity_vault", vault=True):
        return set()
    vault = warehouse.read_table("identity_vault", vault=True, columns=["source", "person_key"])
    objectors = set(vault.loc[vault["source"] == "objections", "person_key"].dropna().astype(str))
    return families_of(objectors | pending_person_keys(warehouse), families)


def objector_check(
    warehouse: Warehouse, families: pd.DataFrame, scores: pd.DataFrame, flags: pd.DataFrame
) -> dg.AssetCheckResult:
    """The blocking objector check, on scores and flags that have not been written yet."""
    blocked = objector_families(warehouse, families)
    pending = families_of(pending_person_keys(warehouse), families)
    scored = int(scores["family_key"].astype(str).isin(blocked).sum())
    flagged = int(flags["family_key"].astype(str).isin(blocked).sum())
    failure = (
        f"{scored} scored and {flagged} flagged families have a member who objected, whose "
        "processing is restricted, or who may be named by an objection pending verification"
        if scored or flagged
        else ""
    )
    return dg.AssetCheckResult(
        asset_key="flags",
        check_name=OBJECTOR_CHECK,
        passed=not failure,
        severity=dg.AssetCheckSeverity.ERROR,
        description=failure or None,
        metadata={
            "objector_families": len(blocked),
            "pending_verification_families": len(pending),
            "scored_objector_families": scored,
            "flagged_objector_families": flagged,
            **({"failure": failure} if failure else {}),
        },
    )
