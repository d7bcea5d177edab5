"""Hand-written drops for ingest tests (independent of the synthetic estate generator)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from safeguard.ingest.contract import ColumnSpec, LandingContract, load_contract
from safeguard.ingest.drops import Drop

Rows = Sequence[Mapping[str, str] | Sequence[str]]

_FIXED = {
    "postcode": "NB1 2AB",
    "area_codes": "NB1;NB2",
    "address_line": "10 High Road",
    "first_name": "Alex",
    "last_name": "Smith",
    "upn": "A123456789012",
    "nhs_number": "9434765919",
    "school_urn": "123456",
}


def _value(column: str, spec: ColumnSpec, i: int) -> str:
    if column == "upn":  # the education person key: unique per row, UPN-shaped
        return f"A{i:012d}"
    if spec.role in ("record_key", "person_key") or column.endswith("_id"):
        return f"{column[:3].upper()}{i:06d}"
    if column == "postcode_district":
        return f"NB{1 + i}"
    if column in _FIXED:
        return _FIXED[column]
    if spec.type == "date":
        return f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}"
    if spec.type == "int":
        return str(1 + i % 9)
    if spec.type == "decimal":
        return f"{10 + i % 90}.50"
    if spec.type == "bool":
        return "YN"[i % 2]
    if spec.type == "enum":
        values = spec.values or ()
        return values[i % len(values)]
    return f"{column}-{i}"


def valid_row(contract: LandingContract, name: str, i: int, **overrides: str) -> dict[str, str]:
    """A row that passes every rule of file ``name`` (row ``i`` has unique keys)."""
    spec = contract.file_spec(name)
    row = {column: _value(column, column_spec, i) for column, column_spec in spec.columns.items()}
    row.update(overrides)
    return row


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Rows,
    *,
    bom: bool = False,
    line_ending: str = "\n",
) -> Path:
    """Write a CSV; dict rows are laid out by ``header`` (missing keys left empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=line_ending)
        writer.writerow(header)
        for row in rows:
            if isinstance(row, Mapping):
                writer.writerow([row.get(column.strip(), "") for column in header])
            else:
                writer.writerow(row)
    return path


def make_drop(
    landing: Path,
    extract_date: str = "2026-10-01",
    files: Mapping[str, tuple[Sequence[str], Rows]] | None = None,
    *,
    rows_per_file: int = 3,
    contract: LandingContract | None = None,
) -> Drop:
    """Write a complete drop: valid rows for every file, except those given in ``files``."""
    contract = contract or load_contract()
    folder = landing / extract_date
    for name, spec in contract.files.items():
        if files and name in files:
            header, rows = files[name]
        else:
            header = list(spec.columns)
            rows = [valid_row(contract, name, i) for i in range(rows_per_file)]
        write_csv(folder / spec.file, header, rows)
    return Drop(extract_date=date.fromisoformat(extract_date), path=folder)


@pytest.fixture(scope="session")
def contract() -> LandingContract:
    return load_contract()


@pytest.fixture(scope="session")
def drop_tools() -> SimpleNamespace:
    """The helpers above (session-scoped, so hypothesis tests may use them too)."""
    return SimpleNamespace(make_drop=make_drop, valid_row=valid_row, write_csv=write_csv)
