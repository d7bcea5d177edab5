"""The project's copy of the landing contract stays equivalent to the shared one.

The copy adds ``format`` on text columns (the value firewall, ingest/formats.py) and, on each
source, its date columns (``event_date``, ``end_date``, ``open_ended``). They are compared
separately: with them taken out the copy must be the shared contract, and every format must be
one that a value of the shared contract's own examples passes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from safeguard.ingest.contract import LandingContract, load_contract
from safeguard.ingest.formats import matches_format

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT = REPO_ROOT / "contracts" / "landing_contract.yaml"
# The shared folder sits beside the main checkout (../shared) or above a worktree (../../shared).
SHARED = next(
    (
        candidate
        for candidate in (
            parent / "shared" / "contracts" / "landing.yaml" for parent in REPO_ROOT.parents
        )
        if candidate.is_file()
    ),
    REPO_ROOT.parent / "shared" / "contracts" / "landing.yaml",
)


def _meaning(contract: LandingContract) -> dict[str, object]:
    """Everything a producer must honour; notes and agency descriptions are left out."""
    return {
        "prohibited": sorted(contract.prohibited),
        "files": {
            name: {
                "file": spec.file,
                "kind": spec.kind,
                "columns": {
                    column: (c.type, c.role, c.required, tuple(c.values or ()))
                    for column, c in spec.columns.items()
                },
            }
            for name, spec in contract.files.items()
        },
    }


@pytest.mark.skipif(not SHARED.is_file(), reason=f"shared contract not found at {SHARED}")
def test_project_contract_matches_shared_contract():
    assert _meaning(load_contract()) == _meaning(load_contract(SHARED))


def test_equivalence_check_notices_a_difference(tmp_path):
    text = CONTRACT.read_text(encoding="utf-8")
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace("values: [M, F, U]", "values: [M, F]", 1), encoding="utf-8")
    assert _meaning(load_contract(changed)) != _meaning(load_contract())


def _without_additions(path: Path, out: Path) -> Path:
    text = re.sub(r" format: [a-z_]+,", "", path.read_text(encoding="utf-8"))
    text = re.sub(r", format: [a-z_]+}", "}", text)
    text = re.sub(r"(?m)^    (event_date|end_date|open_ended): \w+\n", "", text)
    out.write_text(text, encoding="utf-8")
    return out


def _dates(contract: LandingContract) -> dict[str, tuple[str | None, str | None, bool]]:
    return {
        name: (spec.event_date, spec.end_date, spec.open_ended)
        for name, spec in contract.files.items()
    }


def _formats(contract: LandingContract) -> dict[tuple[str, str], str | None]:
    return {
        (name, column): c.format
        for name, spec in contract.files.items()
        for column, c in spec.columns.items()
    }


@pytest.mark.skipif(not SHARED.is_file(), reason=f"shared contract not found at {SHARED}")
def test_project_copy_is_the_shared_contract_plus_formats_and_dates_only(tmp_path):
    stripped = load_contract(_without_additions(CONTRACT, tmp_path / "c.yaml"))
    shared = load_contract(SHARED)
    assert _meaning(stripped) == _meaning(shared)
    assert set(_formats(shared).values()) == {None}  # the shared contract has no formats
    assert set(_dates(shared).values()) == {(None, None, False)}  # nor date keys
    assert set(_formats(stripped).values()) == {None}  # the stripping took out every addition
    assert set(_dates(stripped).values()) == {(None, None, False)}


def test_every_source_names_a_date_column_and_reference_files_none():
    dates = _dates(load_contract())
    assert dates == {
        "social_care": ("start_date", "end_date", True),
        "education": ("period_start", "period_end", False),
        "housing": ("event_date", None, False),
        "police": ("incident_date", None, False),
        "revenues_benefits": ("event_date", None, False),
        "workers": (None, None, False),
        "objections": (None, None, False),
        "areas": (None, None, False),
    }


@pytest.mark.skipif(not SHARED.is_file(), reason=f"shared contract not found at {SHARED}")
def test_formats_accept_the_shared_contracts_own_examples():
    raw = yaml.safe_load(SHARED.read_text(encoding="utf-8"))
    formats = _formats(load_contract())
    examples = {("workers", "area_codes"): ["NB1;NB2"]}
    for name, spec in {**raw["sources"], **raw["reference"]}.items():
        for column, column_spec in spec["columns"].items():
            for quoted in re.findall(r"'([^']+)'", column_spec.get("note", "")):
                examples.setdefault((name, column), []).append(quoted)
    for (name, column), values in examples.items():
        assert matches_format(pa.array(values), formats[(name, column)]).all(), (name, column)


def test_formats_are_checked_by_the_loader(tmp_path):
    text = CONTRACT.read_text(encoding="utf-8")
    for broken, message in (
        (text.replace("format: urn,", "format: anything,", 1), "unknown format"),
        (text.replace("{type: date,   role: identity, required: true}",
                      "{type: date, format: urn, role: identity, required: true}", 1),
         "only applies to string"),
    ):  # fmt: skip
        path = tmp_path / "broken.yaml"
        path.write_text(broken, encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            load_contract(path)
