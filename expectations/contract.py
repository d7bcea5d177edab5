"""Table specifications the suites are built from, derived from the landing contract.

The suites validate the *warehouse* tables, not the CSV drops: ingest replaces identity columns
with pseudonyms and derived fields (docs/DESIGN.md, "Ingest"), so this module maps each
contract source onto the pseudonymised table the warehouse actually holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

Kind = Literal["string", "date", "int", "decimal", "enum", "bool"]
KINDS: frozenset[str] = frozenset({"string", "date", "int", "decimal", "enum", "bool"})

AGENCY_SOURCES: tuple[str, ...] = (
    "social_care",
    "education",
    "housing",
    "police",
    "revenues_benefits",
)
REFERENCE_TABLES: tuple[str, ...] = ("workers", "areas")

# Event ids that ingest pseudonymises in place (DESIGN.md): they must look like pseudonyms.
PSEUDONYMISED_IN_PLACE: frozenset[str] = frozenset({"tenancy_ref", "incident_ref"})


class ContractError(ValueError):
    """The landing contract cannot be turned into a table specification."""


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


def default_contract_path() -> Path:
    """The project's copy of the landing contract, shipped inside the ``ingest`` package."""
    return Path(str(resources.files("safeguard.ingest").joinpath("landing_contract.yaml")))


@cache
def load_contract(path: Path | None = None) -> Mapping[str, Any]:
    """Parse the landing contract YAML (cached per path: it is read once per process)."""
    source = path or default_contract_path()
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContractError(f"{source}: cannot read the landing contract ({exc})") from exc
    if not isinstance(data, dict) or "sources" not in data or "reference" not in data:
        raise ContractError(f"{source}: expected top-level 'sources' and 'reference' sections")
    return data


def _column(
    table: str, name: str, raw: Mapping[str, Any], *, pseudonym: bool = False
) -> ColumnSpec:
    kind = raw.get("type")
    if kind not in KINDS:
        raise ContractError(
            f"{table}.{name}: unknown contract type {kind!r} (expected {sorted(KINDS)})"
        )
    values = raw.get("values")
    if kind == "enum" and not values:
        raise ContractError(f"{table}.{name}: enum column without 'values'")
    return ColumnSpec(
        name=name,
        kind=kind,
        required=bool(raw.get("required", False)),
        values=tuple(str(v) for v in values) if values else None,
        pseudonym=pseudonym,
    )


def records_table_spec(source: str, contract: Mapping[str, Any] | None = None) -> TableSpec:
    """Specification of ``<source>_records``: pseudonyms, event and protected columns, derived fields.

    Identity columns are deliberately absent: the suite's exact column-set check then fails if
    a name, date of birth, address or agency id ever reaches the warehouse.
    """
    contract = contract or load_contract()
    try:
        declared: Mapping[str, Mapping[str, Any]] = contract["sources"][source]["columns"]
    except KeyError as exc:
        raise ContractError(f"source {source!r} is not in the landing contract") from exc
    table = f"{source}_records"
    columns = [
        ColumnSpec("record_pseudo", "string", required=True, pseudonym=True),
        ColumnSpec("agency_person_pseudo", "string", required=True, pseudonym=True),
    ]
    for name, raw in declared.items():
        if raw.get("role") in ("event", "protected"):
            columns.append(_column(table, name, raw, pseudonym=name in PSEUDONYMISED_IN_PLACE))

    def required(name: str) -> bool:
        return bool(declared.get(name, {}).get("required", False))

    columns += [
        # Missing when the postcode is not UK-shaped, so never strictly required.
        ColumnSpec("postcode_district", "string"),
        ColumnSpec("address_key", "string", required=required("address_line"), pseudonym=True),
        ColumnSpec("birth_month", "date", required=required("dob")),
        ColumnSpec("extract_date", "date", required=True),
    ]
    return TableSpec(dataset=table, columns=tuple(columns))


def reference_table_spec(name: str, contract: Mapping[str, Any] | None = None) -> TableSpec:
    """Specification of a reference table (``workers``, ``areas``), typed as in the contract."""
    contract = contract or load_contract()
    try:
        declared: Mapping[str, Mapping[str, Any]] = contract["reference"][name]["columns"]
    except KeyError as exc:
        raise ContractError(f"reference table {name!r} is not in the landing contract") from exc
    return TableSpec(
        dataset=name, columns=tuple(_column(name, col, raw) for col, raw in declared.items())
    )
