"""The objections register fails closed: whether this drop's register may be trusted at all.

People who objected (UK GDPR Art 21) or whose processing is restricted (Art 18) are excluded
from every analytic and every flag through the register. A register that cannot be read, has no
header row, lost rows, or whose rows were quarantined (DD/MM/YYYY dates, a missing date of birth)
cannot exclude the people it should, so scoring and flagging must stop: the pipeline turns the
findings below into two blocking checks and withdraws the flags already served.

Everything here is counts and file names: no objection id, name or date is ever in a message.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ingest.drops import Drop, DropStatus
from ingest.reader import FileIngest

__all__ = [
    "OBJECTIONS_FILE",
    "RegisterAssessment",
    "RegisterPolicy",
    "assess_register",
    "newer_register_problems",
]

OBJECTIONS_FILE = "objections.csv"


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
    """

    may_be_empty: bool = False
    max_lost: int = 0


@dataclass(frozen=True)
class RegisterAssessment:
    """The two verdicts on a register, with the aggregate figures behind them.

    ``complete_problems`` feed the ``objections_register_complete`` gate (readable, a header
    row, every row accepted, not empty, the newest delivery usable); ``volume_problems`` feed
    ``objections_volume_vs_previous`` (no objection of the last accepted register lost).
    """

    complete_problems: list[str] = field(default_factory=list)
    volume_problems: list[str] = field(default_factory=list)
    metrics: dict[str, int | str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.complete_problems and not self.volume_problems

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


def assess_register(
    ingest: FileIngest | None,
    *,
    read_error: str | None = None,
    previous_ids: Collection[str] | None = None,
    current_ids: Collection[str] = (),
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
        Objection ids of the last accepted register (from the vault); None on a first run.
    current_ids : Collection[str]
        Objection ids accepted from this register.
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
        out.metrics.update(rows_read=0, rows_accepted=0, rows_quarantined=0)
    else:
        accounting = ingest.accounting
        out.metrics.update(
            rows_read=accounting.rows_read,
            rows_accepted=accounting.rows_accepted,
            rows_quarantined=accounting.rows_quarantined,
        )
        if ingest.refused is not None:
            out.complete_problems.append(f"{OBJECTIONS_FILE} refused whole: {ingest.refused}")
        elif accounting.rows_quarantined:
            by_rule = (
                ingest.quarantine.groupby(["column", "rule"], dropna=False).size().sort_index()
            )
            detail = ", ".join(
                f"{column if isinstance(column, str) else 'row'} {rule}: {count}"
                for (column, rule), count in by_rule.items()
            )
            out.complete_problems.append(
                f"{accounting.rows_quarantined} of {accounting.rows_read} rows of "
                f"{OBJECTIONS_FILE} were quarantined ({detail}); a quarantined objection "
                "cannot be honoured"
            )
        if accounting.rows_accepted == 0 and not policy.may_be_empty and ingest.refused is None:
            out.complete_problems.append(
                f"{OBJECTIONS_FILE} holds no objections (an empty register is accepted only "
                "when the council confirms it has none)"
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
