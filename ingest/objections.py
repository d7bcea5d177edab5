"""The objections register fails closed: whether this drop's register may be trusted at all.

People who objected (UK GDPR Art 21) or whose processing is restricted (Art 18) are excluded
from every analytic and every flag through the register. A register that cannot be read, has no
header row, is empty, lost rows against the last accepted one, or has so many rows quarantined
that the fault is systemic (DD/MM/YYYY dates throughout) cannot exclude the people it should, so
scoring and flagging must stop: the pipeline turns the findings below into two blocking checks
and withdraws the flags already served.

A single row quarantined for a defect (a malformed date of birth) does not stop the run: the
usable parts of its identity (:func:`quarantined_register_rows`: names, postcode, id) go to the
vault as an objection *pending verification*, and every family of a person who may be the one
named is excluded from scoring and flags (``safeguard.governance.pending_objections``). Only a quarantined
row without a usable first and last name truly cannot be honoured, and stops the run.

Everything here is counts and file names: no objection id, name or date is ever in a message.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from safeguard.dpia.firewall import classify_columns
from safeguard.ingest.contract import LandingContract
from safeguard.ingest.csvfile import read_header, read_kept_columns
from safeguard.ingest.drops import Drop, DropStatus
from safeguard.ingest.reader import FileIngest
from safeguard.ingest.rules import check_column, empty_column

__all__ = [
    "OBJECTIONS_FILE",
    "PENDING_COLUMNS",
    "RegisterAssessment",
    "RegisterPolicy",
    "assess_register",
    "newer_register_problems",
    "quarantined_register_rows",
]

OBJECTIONS_FILE = "objections.csv"
# What is kept of a quarantined register row: every declared column but the date of birth (the
# conservative match ignores it, and a malformed one is exactly what must not be stored).
PENDING_COLUMNS = ("objection_id", "first_name", "last_name", "postcode", "received_date")


@dataclass(frozen=True)
class RegisterPolicy:
    """What a council accepts of its objections register.

    Parameters
    ----------
    may_be_empty : bool
        An empty register stops the run unless the council says it really has no objections
        (a new deployment). Default False: empty means the export failed.
    max_lost : int
        Objections of the last accepted register that may be absent from this one (an objection
        withdrawn by the person). Default 0: any loss stops the run until someone confirms it.
        An objection pending verification (quarantined, honoured by name) is not lost.
    max_quarantined_share : float
        Above this share of rows quarantined the fault is systemic (a changed date format, a
        wrong file), not a row defect, and the register is not trusted. Default 0.5, the
        reference files' limit (``SuiteSettings.reference_max_quarantined_share``).
    """

    may_be_empty: bool = False
    max_lost: int = 0
    max_quarantined_share: float = 0.5


@dataclass(frozen=True)
class RegisterAssessment:
    """The two verdicts on a register, with the aggregate figures behind them.

    ``complete_problems`` feed the ``objections_register_complete`` gate (readable, a header
    row, every quarantined row with a usable name, quarantined share within the limit, not
    empty, the newest delivery usable); ``volume_problems`` feed
    ``objections_volume_vs_previous`` (no objection of the last accepted register lost).
    ``pending`` counts the quarantined rows honoured by name (pending verification).
    """

    complete_problems: list[str] = field(default_factory=list)
    volume_problems: list[str] = field(default_factory=list)
    metrics: dict[str, int | str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.complete_problems and not self.volume_problems

    @property
    def pending(self) -> int:
        value = self.metrics.get("rows_pending_verification", 0)
        return value if isinstance(value, int) else 0

    @property
    def summary(self) -> str:
        return "; ".join(self.complete_problems + self.volume_problems)


def newer_register_problems(statuses: Sequence[DropStatus], current: Drop) -> list[str]:
    """Drops newer than ``current`` whose agency files all arrived but whose register did not.

    Agencies deliver at different times, so a newer folder missing an agency file is simply
    still landing. One holding every agency file but no usable ``objections.csv`` is a failed
    register delivery: the newest objections are unknown, so nothing may be scored.
    """
    problems = []
    for status in statuses:
        if status.drop.extract_date <= current.extract_date:
            continue
        absent = set(status.missing_files) | set(status.headerless_files)
        if absent and absent <= {OBJECTIONS_FILE}:
            state = "is missing" if OBJECTIONS_FILE in status.missing_files else "is empty"
            problems.append(
                f"drop {status.drop.extract_date.isoformat()} holds every agency file but "
                f"{OBJECTIONS_FILE} {state}: the newest register cannot be read"
            )
    return problems


def quarantined_register_rows(
    drop: Drop, contract: LandingContract, ingest: FileIngest | None
) -> pd.DataFrame:
    """The usable parts of each quarantined row of the register, one row per quarantined row.

    The file is read again through the same door (firewall, then each column's own rule), and a
    cell is kept only where its column's rule passes, so the defect that quarantined the row (a
    malformed date of birth) is never kept. The date of birth is not kept at all. A row that
    could not be split into fields (``row_shape``), or a refused file's rows, keep nothing;
    an unreadable register (``ingest`` None) gives no rows.

    Returns
    -------
    pandas.DataFrame
        ``row_number`` and :data:`PENDING_COLUMNS` (typed; missing where unusable). For the
        vault only: it holds names.
    """
    spec = contract.file_spec("objections")
    numbers = (
        ingest.quarantine["row_number"].dropna().astype("int64").to_numpy()
        if ingest is not None
        else np.zeros(0, dtype=np.int64)
    )
    out = pd.DataFrame({"row_number": pd.array(numbers, dtype="Int64")})
    for column in PENDING_COLUMNS:
        out[column] = empty_column(spec.columns[column], len(numbers))
    if ingest is None or ingest.refused is not None or len(numbers) == 0:
        return out
    path = drop.file_path(spec.file)
    header, offset = read_header(path)
    decision = classify_columns(header, list(spec.columns), contract.prohibited)
    raw = read_kept_columns(path, len(header), decision.kept, offset)
    positions = pd.Index(raw.row_numbers).get_indexer(numbers)
    found = positions >= 0
    for column in PENDING_COLUMNS:
        if column not in raw.columns:
            continue
        check = check_column(raw.columns[column], spec.columns[column])
        values = pd.Series(check.values)
        usable = pd.Series(check.failed_rule == "") & values.notna()
        kept = values.where(usable)
        taken = kept.iloc[positions[found]].to_numpy()
        column_values = out[column].copy()
        column_values.iloc[np.flatnonzero(found)] = taken
        out[column] = column_values
    return out


def assess_register(
    ingest: FileIngest | None,
    *,
    read_error: str | None = None,
    previous_ids: Collection[str] | None = None,
    current_ids: Collection[str] = (),
    pending_rows: Collection[int] = (),
    newer_problems: Sequence[str] = (),
    policy: RegisterPolicy | None = None,
) -> RegisterAssessment:
    """Judge one objections register against the policy and the last accepted register.

    Parameters
    ----------
    ingest : FileIngest, optional
        The register as read (None when it could not be read at all).
    read_error : str, optional
        Why it could not be read (an exception's type, never its text: parser messages can
        quote a row).
    previous_ids : Collection[str], optional
        Objection ids of the last accepted register, pending ones included (from the vault);
        None on a first run.
    current_ids : Collection[str]
        Objection ids of this register: accepted, and pending verification.
    pending_rows : Collection[int]
        Row numbers of quarantined rows whose identity is usable (a first and a last name): they
        are honoured by name, pending verification. Any other quarantined row cannot be
        honoured and fails the register.
    newer_problems : Sequence[str]
        From :func:`newer_register_problems`.
    policy : RegisterPolicy, optional
    """
    policy = policy or RegisterPolicy()
    out = RegisterAssessment()
    out.complete_problems.extend(newer_problems)
    if ingest is None:
        out.complete_problems.append(
            f"{OBJECTIONS_FILE} could not be read ({read_error or 'unknown error'})"
        )
        out.metrics.update(
            rows_read=0, rows_accepted=0, rows_quarantined=0, rows_pending_verification=0
        )
    else:
        accounting = ingest.accounting
        quarantine = ingest.quarantine
        honoured = (
            quarantine["row_number"].isin(list(pending_rows)) if ingest.refused is None else None
        )
        pending = int(honoured.sum()) if honoured is not None else 0
        out.metrics.update(
            rows_read=accounting.rows_read,
            rows_accepted=accounting.rows_accepted,
            rows_quarantined=accounting.rows_quarantined,
            rows_pending_verification=pending,
        )
        share = accounting.rows_quarantined / accounting.rows_read if accounting.rows_read else 0.0
        if ingest.refused is not None:
            out.complete_problems.append(f"{OBJECTIONS_FILE} refused whole: {ingest.refused}")
        elif share > policy.max_quarantined_share:
            out.complete_problems.append(
                f"{accounting.rows_quarantined} of {accounting.rows_read} rows of "
                f"{OBJECTIONS_FILE} were quarantined ({_by_rule(quarantine)}), {share:.0%} of "
                f"the file, above the limit of {policy.max_quarantined_share:.0%}: a systemic "
                "fault, not a row defect"
            )
        elif honoured is not None and not honoured.all():
            lost = quarantine.loc[~honoured]
            out.complete_problems.append(
                f"{len(lost)} of {accounting.rows_read} rows of {OBJECTIONS_FILE} were "
                f"quarantined without a usable first and last name ({_by_rule(lost)}); such an "
                "objection cannot be honoured"
            )
        if accounting.rows_accepted == 0 and not policy.may_be_empty and ingest.refused is None:
            out.complete_problems.append(
                f"{OBJECTIONS_FILE} holds no objections that could be accepted (an empty "
                "register is accepted only when the council confirms it has none)"
            )
    if previous_ids is not None:
        lost = len(set(previous_ids) - set(current_ids)) if ingest is not None else None
        out.metrics["previous_register_rows"] = len(set(previous_ids))
        out.metrics["objections_lost"] = "unknown" if lost is None else lost
        if lost is None and previous_ids:
            out.volume_problems.append(
                f"{len(set(previous_ids))} objections of the last accepted register cannot be "
                "checked against an unreadable register"
            )
        elif lost is not None and lost > policy.max_lost:
            out.volume_problems.append(
                f"{lost} of {len(set(previous_ids))} objections of the last accepted register "
                f"are missing from this one (limit {policy.max_lost})"
            )
    else:
        out.metrics["previous_register_rows"] = "none (first register)"
    return out


def _by_rule(quarantine: pd.DataFrame) -> str:
    """``column rule: count`` of quarantine rows (names and counts only)."""
    by_rule = quarantine.groupby(["column", "rule"], dropna=False).size().sort_index()
    return ", ".join(
        f"{column if isinstance(column, str) else 'row'} {rule}: {count}"
        for (column, rule), count in by_rule.items()
    )
