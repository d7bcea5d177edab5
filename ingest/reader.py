"""Read one file of a drop against the landing contract: firewall, types, quarantine, accounting.

``read_file`` is the door. The firewall decides from the header which columns may be read;
only those are parsed. Every data row ends in exactly one place: ``accepted`` or
``quarantine`` (one quarantine row per rejected row, for its first failing rule, with the
other failing columns named in the reason). Reasons say file, row, column and rule, and quote
a value only for event columns (dates, numbers) and only when it is made of digits and
separators, never for text, enum, identity, protected, key, reference or prohibited columns.
Prohibited and undeclared columns are logged by name and row count only. A file whose first
row is data rather than column names is refused whole: every row is quarantined (rule
``header``) and nothing is read but the row count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from safeguard.dpia.firewall import FirewallDecision, classify_columns, header_refusal
from safeguard.ingest.contract import FileSpec, LandingContract
from safeguard.ingest.csvfile import RawFile, read_header, read_kept_columns
from safeguard.ingest.drops import Drop
from safeguard.ingest.rules import check_column, describe_failure, empty_column

__all__ = [
    "FIREWALL_LOG_COLUMNS",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_RULES",
    "ROW_ACCOUNTING_COLUMNS",
    "FileIngest",
    "LaterRejection",
    "RowAccounting",
    "RowAccountingError",
    "quarantine_rows",
    "read_file",
    "row_accounting_frame",
]

log = logging.getLogger(__name__)

QUARANTINE_COLUMNS = ("extract_date", "file", "row_number", "column", "rule", "reason")
FIREWALL_LOG_COLUMNS = ("extract_date", "file", "column", "action", "row_count")
ROW_ACCOUNTING_COLUMNS = ("extract_date", "file", "rows_read", "rows_accepted", "rows_quarantined")
QUARANTINE_RULES = ("required", "type", "enum", "format", "duplicate_key", "row_shape", "header")


class RowAccountingError(RuntimeError):
    """Rows read differ from rows accepted plus rows quarantined (a bug: never ignore it)."""


@dataclass(frozen=True)
class RowAccounting:
    """Where every data row of one file went."""

    extract_date: date
    file: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int

    def __post_init__(self) -> None:
        if self.rows_read != self.rows_accepted + self.rows_quarantined:
            raise RowAccountingError(
                f"{self.file} ({self.extract_date}): {self.rows_read} rows read but "
                f"{self.rows_accepted} accepted + {self.rows_quarantined} quarantined"
            )


@dataclass(frozen=True)
class FileIngest:
    """The result of reading one file.

    Attributes
    ----------
    name : str
        Contract name (``police``).
    accepted : pandas.DataFrame
        Every declared column in contract order (typed; all-missing when the file lacks it),
        then ``row_number`` (Int64, 1-based data row) and ``extract_date``.
    quarantine, firewall_log : pandas.DataFrame
        Rows of the ``quarantine`` and ``firewall_log`` tables (see docs/DESIGN.md).
    accounting : RowAccounting
    missing_columns : tuple[str, ...]
        Declared columns absent from the file's header.
    refused : str, optional
        Why the whole file was refused (its first row is not a header row); quotes no cell.
    empty_columns : tuple[str, ...]
        Declared columns in the header but empty in every well-shaped data row (a required
        one means the file cannot be used; an optional one is legitimate).
    """

    name: str
    file: str
    extract_date: date
    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    firewall_log: pd.DataFrame
    accounting: RowAccounting
    missing_columns: tuple[str, ...]
    refused: str | None = None
    empty_columns: tuple[str, ...] = ()


def _dates(day: date, n_rows: int) -> pd.Series:
    return pd.Series(np.full(n_rows, np.datetime64(day, "ns")), dtype="datetime64[ns]")


def read_file(drop: Drop, name: str, contract: LandingContract) -> FileIngest:
    """Read one contract file of a drop.

    Parameters
    ----------
    drop : Drop
        The drop folder (its date is the ``extract_date`` of every output row).
    name : str
        Contract name (``police``) or file name (``police.csv``).
    contract : LandingContract

    Returns
    -------
    FileIngest

    Raises
    ------
    safeguard.ingest.csvfile.CsvFileError
        When the file has no header or cannot be parsed as CSV at all.
    FileNotFoundError
        When the file is not in the drop.
    """
    spec = contract.file_spec(name)
    name = contract.file_name(name)
    path = drop.file_path(spec.file)
    if not path.is_file():
        raise FileNotFoundError(f"{spec.file} is missing from drop {drop.path}")
    header, offset = read_header(path)
    refusal = header_refusal(header, list(spec.columns), contract.prohibited, spec.key_column)
    if refusal is not None:
        return _refused_file(drop, name, spec, path, header, offset, refusal)
    decision = classify_columns(header, list(spec.columns), contract.prohibited)
    raw = read_kept_columns(path, len(header), decision.kept, offset)
    typed, reasons = _apply_rules(raw, spec)

    keep = np.ones(len(raw.row_numbers), dtype=bool)
    positions = [position for position, *_ in reasons if position is not None]
    keep[positions] = False
    accepted = pd.DataFrame({column: typed[column] for column in spec.columns})
    accepted["row_number"] = pd.array(raw.row_numbers, dtype="Int64")
    accepted = accepted.loc[keep].reset_index(drop=True)
    accepted["extract_date"] = _dates(drop.extract_date, len(accepted))
    quarantine = _quarantine_frame(drop.extract_date, spec.file, [r[1:] for r in reasons])
    firewall_log = _firewall_frame(drop, spec.file, decision, raw.rows_read)
    accounting = RowAccounting(
        extract_date=drop.extract_date,
        file=spec.file,
        rows_read=raw.rows_read,
        rows_accepted=len(accepted),
        rows_quarantined=len(quarantine),
    )
    log.info(
        "%s: %d rows read, %d accepted, %d quarantined; %d prohibited and %d undeclared "
        "columns dropped",
        spec.file,
        raw.rows_read,
        len(accepted),
        len(quarantine),
        len(decision.dropped_prohibited),
        len(decision.dropped_undeclared),
    )
    return FileIngest(
        name=name,
        file=spec.file,
        extract_date=drop.extract_date,
        accepted=accepted,
        quarantine=quarantine,
        firewall_log=firewall_log,
        accounting=accounting,
        missing_columns=tuple(decision.missing),
        empty_columns=_empty_columns(raw),
    )


def _refused_file(
    drop: Drop, name: str, spec: FileSpec, path: Path, header: list[str], offset: int, refusal: str
) -> FileIngest:
    """Every row of a file without a header row quarantined; no value is converted.

    The first row is data, so it counts as data row 1 and the rows below it follow on.
    """
    counted = read_kept_columns(path, len(header), {}, offset)
    rows_read = 1 + counted.rows_read
    reasons: list[tuple[int, str | None, str, str]] = [
        (n, None, "header", f"file refused: {refusal}") for n in range(1, rows_read + 1)
    ]
    quarantine = _quarantine_frame(drop.extract_date, spec.file, reasons)
    accepted = pd.DataFrame({c: empty_column(s, 0) for c, s in spec.columns.items()})
    accepted["row_number"] = pd.array([], dtype="Int64")
    accepted["extract_date"] = _dates(drop.extract_date, 0)
    log.warning("%s: refused whole, %s; %d rows quarantined", spec.file, refusal, rows_read)
    return FileIngest(
        name=name,
        file=spec.file,
        extract_date=drop.extract_date,
        accepted=accepted,
        quarantine=quarantine,
        firewall_log=_firewall_frame(drop, spec.file, FirewallDecision(kept={}), rows_read),
        accounting=RowAccounting(drop.extract_date, spec.file, rows_read, 0, rows_read),
        missing_columns=tuple(spec.columns),
        refused=refusal,
    )


def _empty_columns(raw: RawFile) -> tuple[str, ...]:
    """Kept columns with no non-blank value in any well-shaped row (none when no rows)."""
    if len(raw.row_numbers) == 0:
        return ()
    return tuple(
        column
        for column, text in raw.columns.items()
        if not pc.any(pc.not_equal(pc.utf8_trim_whitespace(text), "")).as_py()
    )


@dataclass(frozen=True)
class LaterRejection:
    """An accepted row refused by a rule applied after the door (a suite's row-level rule).

    ``detail`` describes the rule and must not quote the row's value (the reason text is
    stored and shown).
    """

    position: int
    column: str
    rule: str
    detail: str


def quarantine_rows(ingest: FileIngest, rejections: Iterable[LaterRejection]) -> FileIngest:
    """Move accepted rows to quarantine after a later row-level rule, keeping the accounts.

    Parameters
    ----------
    ingest : FileIngest
        A file as read by :func:`read_file`.
    rejections : iterable of LaterRejection
        Positions index ``ingest.accepted`` (0-based). A row failing several rules gets one
        quarantine row, for its first rejection, naming the other columns in the reason.

    Returns
    -------
    FileIngest
        ``accepted`` without those rows, ``quarantine`` with them (ordered by row number) and
        ``accounting`` updated, so rows read = accepted + quarantined still holds.
    """
    first: dict[int, LaterRejection] = {}
    also: dict[int, list[str]] = {}
    for rejection in rejections:
        if not 0 <= rejection.position < len(ingest.accepted):
            raise IndexError(
                f"{ingest.file}: rejection at position {rejection.position} but only "
                f"{len(ingest.accepted)} rows were accepted"
            )
        earlier = first.setdefault(rejection.position, rejection)
        others = also.setdefault(rejection.position, [])
        if rejection.column not in (earlier.column, *others):
            others.append(rejection.column)
    if not first:
        return ingest
    positions = sorted(first)
    numbers = ingest.accepted["row_number"].to_numpy(dtype=np.int64)
    reasons: list[tuple[int, str | None, str, str]] = []
    for position in positions:
        rejection = first[position]
        detail = rejection.detail
        if also.get(position):
            detail += f"; also fails: {', '.join(also[position])}"
        reasons.append((int(numbers[position]), rejection.column, rejection.rule, detail))
    later = _quarantine_frame(ingest.extract_date, ingest.file, reasons)
    quarantine = pd.concat([ingest.quarantine, later], ignore_index=True)
    quarantine = quarantine.sort_values("row_number", kind="stable").reset_index(drop=True)
    keep = np.ones(len(ingest.accepted), dtype=bool)
    keep[positions] = False
    accepted = ingest.accepted.loc[keep].reset_index(drop=True)
    accounting = replace(
        ingest.accounting,
        rows_accepted=len(accepted),
        rows_quarantined=len(quarantine),
    )
    return replace(ingest, accepted=accepted, quarantine=quarantine, accounting=accounting)


# (position among well-shaped rows or None, row number, column, rule, detail)
_Reason = tuple[int | None, int, str | None, str, str]


def _apply_rules(raw: RawFile, spec: FileSpec) -> tuple[dict[str, object], list[_Reason]]:
    """Typed columns, and one reason per rejected row (its first failing rule).

    Other failing columns of the same row are named in the reason, so that a data team can
    fix a row in one pass; values are quoted only where the column allows it.
    """
    n_rows = len(raw.row_numbers)
    typed: dict[str, object] = {}
    first_rule = np.full(n_rows, "", dtype=object)
    first_column = np.full(n_rows, "", dtype=object)
    first_text = np.full(n_rows, None, dtype=object)
    also: dict[int, list[str]] = {}
    for column, column_spec in spec.columns.items():
        if column not in raw.columns:
            typed[column] = empty_column(column_spec, n_rows)
            if not column_spec.required:
                continue
            rule = np.full(n_rows, "required", dtype=object)
        else:
            check = check_column(raw.columns[column], column_spec)
            typed[column] = check.values
            rule = check.failed_rule
        fails = rule != ""
        first = fails & (first_rule == "")
        for index in np.flatnonzero(fails & ~first).tolist():
            also.setdefault(index, []).append(column)
        first_rule[first] = rule[first]
        first_column[first] = column
        if column in raw.columns and column_spec.echo_allowed and first.any():
            positions = np.flatnonzero(first)
            first_text[positions] = check.text.take(positions).to_pylist()

    key = spec.key_column
    duplicate_rows, kept_rows = _duplicate_keys(typed[key], first_rule == "", raw.row_numbers)
    first_rule[duplicate_rows] = "duplicate_key"
    first_column[duplicate_rows] = key
    kept_at = dict(zip(duplicate_rows.tolist(), kept_rows.tolist(), strict=True))

    reasons: list[_Reason] = [
        (None, f.row_number, f.column, "row_shape", f.reason) for f in raw.shape_failures
    ]
    for index in np.flatnonzero(first_rule != "").tolist():
        rule_name, column = str(first_rule[index]), str(first_column[index])
        if rule_name == "duplicate_key":
            detail = f"duplicate record key (row {kept_at[index]} has it and was kept)"
        else:
            detail = describe_failure(rule_name, spec.columns[column], first_text[index])
        if index in also:
            detail += f"; also fails: {', '.join(also[index])}"
        reasons.append((index, int(raw.row_numbers[index]), column, rule_name, detail))
    reasons.sort(key=lambda reason: reason[1])
    return typed, reasons


def _quarantine_frame(
    extract_date: date, file: str, reasons: list[tuple[int, str | None, str, str]]
) -> pd.DataFrame:
    text = [
        f"{file} row {number}: "
        + (f"column {column}: " if column else "")
        + f"{detail} -> quarantined"
        for number, column, _, detail in reasons
    ]
    return pd.DataFrame(
        {
            "extract_date": _dates(extract_date, len(reasons)),
            "file": pd.Series([file] * len(reasons), dtype="string"),
            "row_number": pd.Series([r[0] for r in reasons], dtype="Int64"),
            "column": pd.Series([r[1] for r in reasons], dtype="string"),
            "rule": pd.Series([r[2] for r in reasons], dtype="string"),
            "reason": pd.Series(text, dtype="string"),
        }
    )


def _firewall_frame(
    drop: Drop, file: str, decision: FirewallDecision, rows_read: int
) -> pd.DataFrame:
    dropped = [(c, "dropped_prohibited") for c in decision.dropped_prohibited]
    dropped += [(c, "dropped_undeclared") for c in decision.dropped_undeclared]
    dropped += [(c, "dropped_duplicate") for c in decision.dropped_duplicate]
    return pd.DataFrame(
        {
            "extract_date": _dates(drop.extract_date, len(dropped)),
            "file": pd.Series([file] * len(dropped), dtype="string"),
            "column": pd.Series([c for c, _ in dropped], dtype="string"),
            "action": pd.Series([a for _, a in dropped], dtype="string"),
            "row_count": pd.Series([rows_read] * len(dropped), dtype="Int64"),
        }
    )


def _duplicate_keys(
    keys: object, eligible: np.ndarray, row_numbers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeating an earlier eligible row's key, and the row number that was kept.

    Only rows that pass every other rule compete, so a broken first copy does not push out
    a good second one. Missing keys are never duplicates (the required rule handles them).
    """
    codes = pd.factorize(pd.Series(keys).astype("string"))[0]
    positions = np.flatnonzero(eligible & (codes >= 0))
    candidates = pd.Series(codes[positions])
    duplicated = candidates.duplicated(keep="first").to_numpy()
    if not duplicated.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first_row = pd.Series(row_numbers[positions]).groupby(candidates.to_numpy()).first()
    kept = candidates[duplicated].map(first_row).to_numpy(dtype=np.int64)
    return positions[duplicated], kept


def row_accounting_frame(ingests: Iterable[FileIngest]) -> pd.DataFrame:
    """The ``row_accounting`` table for several files (one row per file)."""
    rows = [ingest.accounting for ingest in ingests]
    return pd.DataFrame(
        {
            "extract_date": pd.Series(
                [pd.Timestamp(r.extract_date) for r in rows], dtype="datetime64[ns]"
            ),
            "file": pd.Series([r.file for r in rows], dtype="string"),
            "rows_read": pd.Series([r.rows_read for r in rows], dtype="Int64"),
            "rows_accepted": pd.Series([r.rows_accepted for r in rows], dtype="Int64"),
            "rows_quarantined": pd.Series([r.rows_quarantined for r in rows], dtype="Int64"),
        }
    )
