"""Ingest for the pipeline, outside the asset body: read the drop once, screen, publish together.

Every file of the newest complete drop is read before anything is written (a file refused
whole leaves the last good drop in place); rows that break a contract rule or a row-level
suite rule are quarantined (rule and column, never the value); the objections register is
judged by its gates (:func:`assess`; the check results and withdrawals are in
pipelines/objections.py); then the pseudonymised ``<source>_records``,
the identity vault's tables and the ledgers are written in one staged commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from safeguard import expectations
from safeguard.contracts.landing import event_date_column
from safeguard.contracts.tables import AGENCY_SOURCES, LANDING_FILES, table_of
from safeguard.features.point_in_time import known_at
from safeguard.governance.pending_objections import PENDING_TABLE, usable_identity
from safeguard.ingest.contract import LandingContract
from safeguard.ingest.csvfile import CsvFileError
from safeguard.ingest.drops import Drop, scan_drops
from safeguard.ingest.identity import split_identities
from safeguard.ingest.objections import (
    RegisterAssessment,
    RegisterPolicy,
    assess_register,
    newer_register_problems,
    quarantined_register_rows,
)
from safeguard.ingest.reader import (
    FileIngest,
    LaterRejection,
    quarantine_rows,
    read_file,
    row_accounting_frame,
)

if TYPE_CHECKING:
    from safeguard.pipelines.resources import RunSettings, Warehouse


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


class FileRefusedError(RuntimeError):
    """A file of the drop was refused whole (no header row): nothing of the drop is written."""


@dataclass(frozen=True)
class Screened:
    """One landing file after the door and the row-level screen."""

    ingest: FileIngest
    table: pd.DataFrame | None
    identities: pd.DataFrame | None
    screen: expectations.RowScreen | None

    def written(self) -> Screened:
        """The accounts only: once the rows are staged, the frames can go (memory)."""
        return Screened(
            replace(self.ingest, accepted=self.ingest.accepted.iloc[0:0]), None, None, self.screen
        )


def _screen(
    name: str,
    result: FileIngest,
    table: pd.DataFrame,
    identities: pd.DataFrame | None,
    settings: expectations.SuiteSettings,
) -> Screened:
    """Quarantine the rows that break the table's row-level suite rules (if it has a suite)."""
    dataset = name if name in expectations.DATASETS else None
    if dataset is None:
        return Screened(result, table, identities, None)
    screen = expectations.screen_rows(
        dataset, table, extract_date=result.extract_date, **settings.as_params()
    )
    rejections = [
        LaterRejection(int(r.position), str(r.column), str(r.rule), f"{r.description} [{r.rule}]")
        for r in screen.rejections.itertuples(index=False)
    ]
    keep = screen.keep
    return Screened(
        quarantine_rows(result, rejections),
        table.loc[keep].reset_index(drop=True),
        identities.loc[keep].reset_index(drop=True) if identities is not None else None,
        screen,
    )


def _split_and_screen(
    name: str, result: FileIngest, contract: LandingContract, pseudonymiser, settings
) -> Screened:
    if name in AGENCY_SOURCES or name == "objections":
        table, identities = split_identities(name, result.accepted, contract, pseudonymiser)
    else:
        table = result.accepted.drop(columns=["row_number", "extract_date"], errors="ignore")
        identities = None
    return _screen(name, result, table, identities, settings)


@dataclass(frozen=True)
class Ingested:
    """What one drop's ingest published: each file's accounts, the register's verdict, ledgers."""

    screened: dict[str, Screened]
    assessment: RegisterAssessment
    ledgers: dict[str, pd.DataFrame]


def rows_after_as_of(name: str, table: pd.DataFrame | None, as_of: date, extract: date) -> int:
    """Accepted rows of an agency source dated after ``as_of``: kept, but not linked or used.

    The run stands at ``as_of`` (pipelines/run_context.py): the linkage and the ``events``
    asset leave these rows out, and ``row_accounting`` says how many, so none is lost silently.
    Reference files have none (the objections register is always honoured).
    """
    if name not in AGENCY_SOURCES or table is None:
        return 0
    return int((~known_at(table[event_date_column(name)], as_of, extract)).sum())


def ingest_and_publish(
    warehouse: Warehouse,
    drop: Drop,
    contract: LandingContract,
    settings: RunSettings,
    *,
    as_of: date | None = None,
) -> Ingested:
    """Read, screen and judge every file of ``drop``, then write it all in one staged commit.

    ``as_of`` (the run's date, the extract date when None) only counts the accepted rows
    dated after it in ``row_accounting``; every accepted row is written.
    """
    as_of = as_of or drop.extract_date
    landing = Path(settings.landing_dir)
    pseudonymiser = warehouse.pseudonymiser()
    suite_settings = settings.suite_settings()
    # Read every file before writing anything: a refused file leaves the last good drop in place.
    read: dict[str, FileIngest] = {
        name: read_file(drop, name, contract) for name in LANDING_FILES if name != "objections"
    }
    refused = [r for r in read.values() if r.refused]
    if refused:
        raise FileRefusedError(
            "; ".join(f"{r.file} refused whole: {r.refused}" for r in refused)
            + " -> nothing of this drop was written"
        )
    register, read_error = read_register(drop, contract)
    if register is not None:
        read["objections"] = register

    screened: dict[str, Screened] = {}
    for name in LANDING_FILES:
        if name in read:
            screened[name] = _split_and_screen(
                name, read[name], contract, pseudonymiser, suite_settings
            )
    # the register is judged after its row rules, so a row they refuse counts against it; a
    # refused row that still names someone is honoured by name, pending verification
    objections = screened.get("objections")
    screened_register = objections.ingest if objections else None
    assessment, pending = assess(
        warehouse, landing, drop, contract, screened_register, read_error, settings
    )
    after = {
        name: rows_after_as_of(name, item.table, as_of, drop.extract_date)
        for name, item in screened.items()
    }
    with warehouse.stage("ingest_drop") as stage:
        for name, item in screened.items():
            if name == "objections":
                if not assessment.passed:
                    continue  # fail closed: keep honouring the last accepted register
                stage.write_table(PENDING_TABLE, pending, vault=True)
            if item.identities is not None:
                stage.write_table(f"identity_{name}", item.identities, vault=True)
            stage.write_table(table_of(name), item.table)
            screened[name] = item.written()
        results = [item.ingest for item in screened.values()]
        ledgers = {
            "quarantine": pd.concat([r.quarantine for r in results], ignore_index=True),
            "firewall_log": pd.concat([r.firewall_log for r in results], ignore_index=True),
            "row_accounting": row_accounting_frame(results).assign(
                rows_after_as_of=pd.Series(list(after.values()), dtype="Int64")
            ),
        }
        for ledger, table in ledgers.items():
            stage.write_table(ledger, table)
    return Ingested(screened, assessment, ledgers)
