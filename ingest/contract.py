"""The landing contract, typed: which files a drop holds and which columns each may carry.

The YAML (``ingest/landing_contract.yaml``) is the data specification behind the data-sharing
agreements. It is loaded strictly (unknown keys are errors: a typo such as ``requird: true``
must not silently make a column optional) and checked for internal consistency, including that
no declared column would itself be caught by the prohibited-column firewall.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safeguard.dpia.firewall import is_prohibited
from safeguard.ingest.formats import FORMATS

__all__ = [
    "ColumnSpec",
    "ContractError",
    "FileSpec",
    "LandingContract",
    "default_contract_path",
    "load_contract",
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
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(
                f"unknown format {self.format!r} (expected one of {', '.join(FORMATS)})"
            )
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


def default_contract_path() -> Path:
    """The project's copy of the contract, shipped inside the ``ingest`` package."""
    return Path(str(resources.files("safeguard.ingest") / "landing_contract.yaml"))


def load_contract(path: Path | None = None) -> LandingContract:
    """Load and validate a landing contract.

    Parameters
    ----------
    path : pathlib.Path, optional
        Defaults to the project's copy (``ingest/landing_contract.yaml``).

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
