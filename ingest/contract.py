"""The landing contract as ingest reads it: the typed contract plus the value formats.

The contract itself (models, loader, consistency checks) lives in :mod:`safeguard.contracts.landing`,
the one reader of ``contracts/landing_contract.yaml``. Ingest owns the value formats of text
columns (``ingest/formats.py``), so :func:`load_contract` here also refuses a column whose
``format`` is not one of them.
"""

from __future__ import annotations

from pathlib import Path

from safeguard.contracts.landing import (
    ColumnSpec,
    ContractError,
    FileSpec,
    LandingContract,
    default_contract_path,
)
from safeguard.contracts.landing import load_contract as _load_structure
from safeguard.ingest.formats import FORMATS

__all__ = [
    "ColumnSpec",
    "ContractError",
    "FileSpec",
    "LandingContract",
    "default_contract_path",
    "load_contract",
]


def load_contract(path: Path | None = None) -> LandingContract:
    """Load and validate a landing contract, its value formats included.

    Parameters
    ----------
    path : pathlib.Path, optional
        Defaults to the project's copy (``contracts/landing_contract.yaml``).

    Raises
    ------
    ContractError
        When the file cannot be read or parsed, or a field is invalid (named by its YAML path).
    """
    contract = _load_structure(path)
    problems = [
        f"{'sources' if spec.kind == 'source' else 'reference'}.{name}.columns.{column}.format: "
        f"unknown format {c.format!r} (expected one of {', '.join(FORMATS)})"
        for name, spec in contract.files.items()
        for column, c in spec.columns.items()
        if c.format is not None and c.format not in FORMATS
    ]
    if problems:
        source = Path(path) if path is not None else default_contract_path()
        raise ContractError(f"landing contract {source} is invalid:\n  " + "\n  ".join(problems))
    return contract
