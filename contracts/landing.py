"""The landing contract, typed: which files a drop holds and which columns each may carry.

The YAML (``contracts/landing_contract.yaml``) is the data specification behind the
data-sharing agreements. This module is its only reader: ingest, expectations, features,
governance, retention, the portal and the pipelines take the agency sources, their columns
and each source's event-date column from here (docs/DESIGN.md, "Packages"). It imports only
``dpia`` (the firewall), so every package may import it.

It is loaded strictly (unknown keys are errors: a typo such as ``requird: true`` must not
silently make a column optional) and checked for internal consistency, including that no
declared column would itself be caught by the prohibited-column firewall. The value formats
of text columns are checked by ``safeguard.ingest.contract.load_contract`` (ingest owns the formats).

Two views:

- :class:`LandingContract` (pydantic, with :class:`FileSpec` and :class:`ColumnSpec`): the
  whole document as validated, for ingest.
- :class:`Source` and :class:`Column` (frozen dataclasses): the agency sources of the
  project's contract, read once per process (:func:`sources`, :data:`AGENCY_SOURCES`,
  :func:`event_date_column`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safeguard.dpia.firewall import is_prohibited

__all__ = [
    "AGENCY_SOURCES",
    "REFERENCE_FILES",
    "Column",
    "ColumnSpec",
    "ContractError",
    "FileSpec",
    "LandingContract",
    "ReferenceFile",
    "Source",
    "default_contract_path",
    "event_date_column",
    "load_contract",
    "project_contract",
    "reference_files",
    "source",
    "sources",
    "sources_of",
]

ColumnType = Literal["string", "date", "int", "decimal", "enum", "bool"]
Role = Literal["record_key", "person_key", "identity", "protected", "event"]


class ContractError(ValueError):
    """The landing contract cannot be read or is inconsistent (the message says where)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Model):
    """One declared column."""

    type: ColumnType
    role: Role | None = None
    required: bool = False
    values: tuple[str, ...] | None = None
    format: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _enum_has_values(self) -> ColumnSpec:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum column needs `values`")
        if self.type != "enum" and self.values is not None:
            raise ValueError(f"`values` only applies to enum columns, not {self.type}")
        if self.format is not None and self.type != "string":
            raise ValueError(f"`format` only applies to string columns, not {self.type}")
        return self

    @property
    def echo_allowed(self) -> bool:
        """Whether a bad value may be quoted in a quarantine reason.

        Only event columns of a parsed type (dates, numbers, Y/N flags) qualify, and then only
        when the bad value is made of digits and separators (``31/02/2011``, ``12.0``; see
        :func:`safeguard.ingest.rules.describe_failure`). Text, enum, identity, protected, key and
        reference-file columns are never quoted: a bad enum value can be any word.
        """
        return self.role == "event" and self.type in ("date", "int", "decimal", "bool")


class FileSpec(_Model):
    """One file of a drop: an agency source or a reference file."""

    file: str = Field(min_length=1)
    agency: str | None = None
    note: str | None = None
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    kind: Literal["source", "reference"] = "source"
    event_date: str | None = None
    end_date: str | None = None
    open_ended: bool = False

    def role_columns(self, *roles: str) -> list[str]:
        """Declared columns with any of the given roles, in contract order."""
        return [name for name, spec in self.columns.items() if spec.role in roles]

    @property
    def key_column(self) -> str:
        """The column that must be unique per row.

        Sources declare it with role ``record_key``; reference files have no roles, so their
        first declared column (``worker_id``, ``objection_id``, ``postcode_district``) is used.
        """
        keys = self.role_columns("record_key")
        return keys[0] if keys else next(iter(self.columns))

    @property
    def person_key_column(self) -> str | None:
        """The agency's own person identifier (sources only)."""
        keys = self.role_columns("person_key")
        return keys[0] if keys else None


class LandingContract(_Model):
    """The whole contract: prohibited names, agency sources and reference files."""

    version: int
    prohibited: tuple[str, ...] = Field(min_length=1)
    sources: dict[str, FileSpec] = Field(min_length=1)
    reference: dict[str, FileSpec] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _mark_reference_files(cls, data: object) -> object:
        if isinstance(data, Mapping) and isinstance(data.get("reference"), Mapping):
            marked = {
                name: {**spec, "kind": "reference"} if isinstance(spec, Mapping) else spec
                for name, spec in data["reference"].items()
            }
            data = {**data, "reference": marked}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> LandingContract:
        problems = []
        overlap = set(self.sources) & set(self.reference)
        if overlap:
            problems.append(f"names used for both a source and a reference file: {sorted(overlap)}")
        seen_files: dict[str, str] = {}
        for name, spec in self.files.items():
            if spec.file in seen_files:
                problems.append(f"{name} and {seen_files[spec.file]} both use file {spec.file}")
            seen_files[spec.file] = name
            if spec.kind == "source":
                for role in ("record_key", "person_key"):
                    if len(spec.role_columns(role)) != 1:
                        problems.append(f"sources.{name}: needs exactly one {role} column")
            problems += _date_problems(name, spec)
            for column in spec.columns:
                if is_prohibited(column, self.prohibited):
                    problems.append(
                        f"{name}.{column}: declared column would be dropped by the firewall "
                        "as prohibited; rename it"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def files(self) -> dict[str, FileSpec]:
        """Every file of a drop by name: the sources first, then the reference files."""
        return {**self.sources, **self.reference}

    def file_spec(self, name: str) -> FileSpec:
        """A file's spec by name (``police``) or file name (``police.csv``)."""
        files = self.files
        if name in files:
            return files[name]
        for spec in files.values():
            if spec.file == name:
                return spec
        raise ContractError(
            f"{name!r} is not a file of the landing contract (expected one of {', '.join(files)})"
        )

    def file_name(self, name: str) -> str:
        """The dataset name (``police``) for a name or file name."""
        spec = self.file_spec(name)
        return next(key for key, value in self.files.items() if value is spec)


def _date_problems(name: str, spec: FileSpec) -> list[str]:
    """The source-level date keys name declared date columns (reference files have none)."""
    section = "sources" if spec.kind == "source" else "reference"
    if spec.kind == "reference" and (spec.event_date or spec.end_date or spec.open_ended):
        return [f"reference.{name}: only a source has event_date, end_date or open_ended"]
    problems = []
    for key in ("event_date", "end_date"):
        column = getattr(spec, key)
        if column is not None and (
            column not in spec.columns or spec.columns[column].type != "date"
        ):
            problems.append(f"{section}.{name}.{key}: {column!r} is not a declared date column")
    if spec.open_ended and spec.end_date is None:
        problems.append(f"{section}.{name}.open_ended: needs an end_date column")
    return problems


def default_contract_path() -> Path:
    """The project's copy of the contract, shipped beside this module."""
    return Path(__file__).with_name("landing_contract.yaml")


def load_contract(path: Path | None = None) -> LandingContract:
    """Load and validate a landing contract.

    Parameters
    ----------
    path : pathlib.Path, optional
        Defaults to the project's copy (``contracts/landing_contract.yaml``).

    Raises
    ------
    ContractError
        When the file cannot be read or parsed, or a field is invalid (named by its YAML path).
    """
    source = Path(path) if path is not None else default_contract_path()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ContractError(f"cannot read landing contract {source}: {error}") from error
    if not isinstance(raw, Mapping):
        raise ContractError(f"landing contract {source} must be a YAML mapping")
    try:
        return LandingContract.model_validate(raw)
    except ValidationError as error:
        problems = [
            ".".join(str(p) for p in item["loc"]) + ": " + item["msg"].removeprefix("Value error, ")
            for item in error.errors()
        ]
        raise ContractError(
            f"landing contract {source} is invalid:\n  " + "\n  ".join(problems)
        ) from None


# ---- typed view of the project's contract -----------------------------------------------


@dataclass(frozen=True)
class Column:
    """One declared column of a landing file."""

    name: str
    type: ColumnType
    role: Role | None = None
    required: bool = False
    values: tuple[str, ...] | None = None
    format: str | None = None


@dataclass(frozen=True)
class Source:
    """One agency source: its file, its columns in contract order and its date columns.

    ``event_date`` dates every record (when the fact happened); ``end_date`` closes a record
    that spans a period; ``open_ended`` says a record without an end date is still running.
    """

    name: str
    file: str
    agency: str | None
    columns: tuple[Column, ...]
    event_date: str
    end_date: str | None = None
    open_ended: bool = False

    @property
    def table(self) -> str:
        """The warehouse table of the source's pseudonymised records."""
        return f"{self.name}_records"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise ContractError(f"sources.{self.name}: no column {name!r} in the landing contract")

    def role_columns(self, *roles: str) -> tuple[Column, ...]:
        """Declared columns with any of the given roles, in contract order."""
        return tuple(c for c in self.columns if c.role in roles)


@dataclass(frozen=True)
class ReferenceFile:
    """One reference file of a drop (workers, objections, areas)."""

    name: str
    file: str
    columns: tuple[Column, ...]


def _columns(spec: FileSpec) -> tuple[Column, ...]:
    return tuple(
        Column(name, c.type, c.role, c.required, c.values, c.format)
        for name, c in spec.columns.items()
    )


@cache
def project_contract() -> LandingContract:
    """The project's contract (``contracts/landing_contract.yaml``), read once per process."""
    return load_contract()


def sources_of(contract: LandingContract) -> tuple[Source, ...]:
    """The agency sources of ``contract``, typed; each must name its event-date column."""
    found = []
    for name, spec in contract.sources.items():
        if spec.event_date is None:
            raise ContractError(f"sources.{name}: the landing contract names no event_date column")
        found.append(
            Source(
                name=name,
                file=spec.file,
                agency=spec.agency,
                columns=_columns(spec),
                event_date=spec.event_date,
                end_date=spec.end_date,
                open_ended=spec.open_ended,
            )
        )
    return tuple(found)


@cache
def sources() -> tuple[Source, ...]:
    """The agency sources of the project's contract, in contract order."""
    return sources_of(project_contract())


@cache
def reference_files() -> tuple[ReferenceFile, ...]:
    """The reference files of the project's contract, in contract order."""
    return tuple(
        ReferenceFile(name, spec.file, _columns(spec))
        for name, spec in project_contract().reference.items()
    )


def source(name: str) -> Source:
    """One agency source of the project's contract by name (``police``)."""
    for found in sources():
        if found.name == name:
            return found
    raise ContractError(
        f"{name!r} is not an agency source of the landing contract "
        f"(expected one of {', '.join(AGENCY_SOURCES)})"
    )


def event_date_column(name: str) -> str:
    """The column that dates a record of source ``name`` (``police`` -> ``incident_date``)."""
    return source(name).event_date


#: The agency sources, in contract order.
AGENCY_SOURCES: tuple[str, ...] = tuple(s.name for s in sources())
#: The reference files of a drop, in contract order (``workers``, ``objections``, ``areas``).
REFERENCE_FILES: tuple[str, ...] = tuple(r.name for r in reference_files())
