"""Table specifications the suites are built from, derived from the landing contract.

The suites validate the *warehouse* tables, not the CSV drops: ingest replaces identity columns
with pseudonyms and derived fields (docs/DESIGN.md, "Ingest"), so this module maps each
contract source onto the pseudonymised table the warehouse actually holds. The contract is
read by :mod:`safeguard.contracts.landing` (its one reader); this module only maps its typed sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from safeguard.contracts.landing import AGENCY_SOURCES, REFERENCE_FILES, Column, ContractError
from safeguard.contracts.landing import reference_files as _reference_files
from safeguard.contracts.landing import source as _source

__all__ = [
    "AGENCY_SOURCES",
    "PSEUDONYMISED_IN_PLACE",
    "REFERENCE_TABLES",
    "ColumnSpec",
    "ContractError",
    "TableSpec",
    "records_table_spec",
    "reference_table_spec",
]

Kind = Literal["string", "date", "int", "decimal", "enum", "bool"]

# The reference files that land in the warehouse as they are (objections go to the vault).
REFERENCE_TABLES: tuple[str, ...] = tuple(r for r in REFERENCE_FILES if r != "objections")

# Event ids that ingest pseudonymises in place (DESIGN.md): they must look like pseudonyms.
PSEUDONYMISED_IN_PLACE: frozenset[str] = frozenset({"tenancy_ref", "incident_ref"})


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a warehouse table as the suites expect it.

    Parameters
    ----------
    name : str
        Column name in the warehouse table.
    kind : str
        Contract type (string, date, int, decimal, enum, bool).
    required : bool
        True when every row must carry a value (the contract quarantines rows without it).
    values : tuple of str, optional
        Allowed values of an enum column.
    pseudonym : bool
        True for keyed pseudonyms (16 lower-case hex characters), so that a raw identifier
        that slipped past pseudonymisation fails the suite.
    """

    name: str
    kind: Kind
    required: bool = False
    values: tuple[str, ...] | None = None
    pseudonym: bool = False


@dataclass(frozen=True)
class TableSpec:
    """The columns of one warehouse table, in contract order."""

    dataset: str
    columns: tuple[ColumnSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def of_kind(self, *kinds: str) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.kind in kinds)

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.dataset}: no column {name!r} in the table specification")


def _column(column: Column, *, pseudonym: bool = False) -> ColumnSpec:
    return ColumnSpec(
        name=column.name,
        kind=column.type,
        required=column.required,
        values=column.values,
        pseudonym=pseudonym,
    )


def records_table_spec(source: str) -> TableSpec:
    """Specification of ``<source>_records``: pseudonyms, event and protected columns, derived fields.

    Identity columns are deliberately absent: the suite's exact column-set check then fails if
    a name, date of birth, address or agency id ever reaches the warehouse.
    """
    spec = _source(source)
    columns = [
        ColumnSpec("record_pseudo", "string", required=True, pseudonym=True),
        ColumnSpec("agency_person_pseudo", "string", required=True, pseudonym=True),
    ]
    columns += [
        _column(c, pseudonym=c.name in PSEUDONYMISED_IN_PLACE)
        for c in spec.role_columns("event", "protected")
    ]

    def required(name: str) -> bool:
        return name in spec.names and spec.column(name).required

    columns += [
        # Missing when the postcode is not UK-shaped, so never strictly required.
        ColumnSpec("postcode_district", "string"),
        ColumnSpec("address_key", "string", required=required("address_line"), pseudonym=True),
        ColumnSpec("birth_month", "date", required=required("dob")),
        ColumnSpec("extract_date", "date", required=True),
    ]
    return TableSpec(dataset=spec.table, columns=tuple(columns))


def reference_table_spec(name: str) -> TableSpec:
    """Specification of a reference table (``workers``, ``areas``), typed as in the contract."""
    for reference in _reference_files():
        if reference.name == name:
            return TableSpec(dataset=name, columns=tuple(_column(c) for c in reference.columns))
    raise ContractError(f"reference table {name!r} is not in the landing contract")
