"""Every file of a drop follows the landing contract, except the planted malformed values, which
are exactly the ones recorded in the truth."""

from __future__ import annotations

import csv
import datetime
import re
from collections import Counter
from pathlib import Path

import pytest
from synth_testkit import AGENCY_FILES, ALL_FILES, Estate, read_rows

INT = re.compile(r"^-?\d+$")
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
POLICE_EXTRAS = {"nationality", "immigration_status", "officer_notes"}


def _spec(contract: dict, name: str) -> dict:
    section = contract["sources"] if name in contract["sources"] else contract["reference"]
    return section[name]["columns"]


def _valid(value: str, col: dict) -> bool:
    kind = col["type"]
    if value == "":
        return not col.get("required", False)
    if kind == "date":
        if not ISO.match(value):
            return False
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind == "int":
        return bool(INT.match(value))
    if kind == "decimal":
        return bool(DECIMAL.match(value))
    if kind == "bool":
        return value in ("Y", "N")
    if kind == "enum":
        return value in col["values"]
    return True


def violations(path: Path, columns: dict) -> set[tuple[int, str]]:
    """(1-based data row, column) of every value that breaks the contract."""
    header, rows = read_rows(path)
    index = {c: header.index(c) for c in columns}
    out = set()
    for number, row in enumerate(rows, start=1):
        assert len(row) == len(header), (
            f"{path.name} row {number}: {len(row)} fields, header has {len(header)}"
        )
        for name, col in columns.items():
            if not _valid(row[index[name]], col):
                out.add((number, name))
    return out


def _malformed(truth: Path, extract: str, file: str) -> set[tuple[int, str]]:
    with (truth / "malformed.csv").open(newline="", encoding="utf-8") as handle:
        return {(int(r["row"]), r["column"]) for r in csv.DictReader(handle)
                if r["extract_date"] == extract and r["file"] == file}  # fmt: skip


def test_drop_holds_exactly_the_contract_files(estate_50k: Estate) -> None:
    assert sorted(p.name for p in estate_50k.newest.iterdir()) == sorted(
        f"{f}.csv" for f in ALL_FILES
    )
    assert sorted(p.name for p in estate_50k.landing.iterdir()) == ["2026-10-01", "2026-11-01"]


@pytest.mark.parametrize("name", ALL_FILES)
def test_header_matches_contract(estate_50k: Estate, contract: dict, name: str) -> None:
    header, _ = read_rows(estate_50k.newest / f"{name}.csv")
    declared = list(_spec(contract, name))
    if name == "police":
        assert set(header) - set(declared) == POLICE_EXTRAS
        assert {"nationality", "immigration_status"} <= set(contract["prohibited"])
        assert "officer_notes" not in contract["prohibited"]
        assert [c for c in header if c in declared] == declared
    else:
        assert header == declared


@pytest.mark.parametrize("name", AGENCY_FILES)
def test_only_recorded_malformed_values_break_the_contract(
    estate_50k: Estate, contract: dict, name: str
) -> None:
    path = estate_50k.newest / f"{name}.csv"
    found = violations(path, _spec(contract, name))
    recorded = _malformed(estate_50k.truth, estate_50k.summary.newest.isoformat(), f"{name}.csv")
    assert found == recorded
    share = len(recorded) / estate_50k.summary.rows_of(name)
    assert 0.003 <= share <= 0.008, f"{name}: malformed share {share:.4f}"


def test_malformed_rows_cover_every_kind(estate_50k: Estate) -> None:
    with (estate_50k.truth / "malformed.csv").open(newline="", encoding="utf-8") as handle:
        kinds = Counter(r["kind"] for r in csv.DictReader(handle))
    assert set(kinds) == {"bad_date", "bad_date_format", "unknown_enum", "missing_required"}


@pytest.mark.parametrize("name", ["workers", "objections", "areas"])
def test_reference_files_follow_the_contract(estate_50k: Estate, contract: dict, name: str) -> None:
    assert violations(estate_50k.newest / f"{name}.csv", _spec(contract, name)) == set()


def test_every_drop_of_a_multi_council_estate_conforms(
    estate_small: Estate, contract: dict
) -> None:
    for drop in sorted(estate_small.landing.iterdir()):
        for name in AGENCY_FILES:
            found = violations(drop / f"{name}.csv", _spec(contract, name))
            assert found == _malformed(estate_small.truth, drop.name, f"{name}.csv"), (
                drop.name,
                name,
            )


def test_record_keys_are_unique(estate_50k: Estate, contract: dict) -> None:
    for name in AGENCY_FILES:
        header, rows = read_rows(estate_50k.newest / f"{name}.csv")
        key = next(
            c for c, spec in _spec(contract, name).items() if spec.get("role") == "record_key"
        )
        keys = [r[header.index(key)] for r in rows]
        assert len(keys) == len(set(keys)), name


def test_police_carries_prohibited_and_free_text_values(estate_50k: Estate) -> None:
    header, rows = read_rows(estate_50k.newest / "police.csv")
    for column in POLICE_EXTRAS:
        filled = sum(1 for r in rows if r[header.index(column)])
        assert filled > 0.05 * len(rows), column
    notes = [r[header.index("officer_notes")] for r in rows]
    assert any("\n" in n for n in notes) and any(
        '"' in n for n in notes
    )  # RFC 4180 quoting exercised


def test_a_violation_is_detected_when_planted_by_hand(tmp_path: Path, contract: dict) -> None:
    spec = _spec(contract, "areas")
    path = tmp_path / "areas.csv"
    path.write_text(
        "postcode_district,area_code,local_authority,imd_decile\nNB1,E1,X,ten\nNB2,,X,3\n"
    )
    assert violations(path, spec) == {(1, "imd_decile"), (2, "area_code")}
