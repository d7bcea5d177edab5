"""The project's copy of the landing contract stays equivalent to the shared one.

The copy adds one key, ``format`` on text columns (the value firewall, ingest/formats.py). It
is compared separately: with the formats taken out the copy must be the shared contract, and
every format must be one that a value of the shared contract's own examples passes.
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
    text = (REPO_ROOT / "ingest" / "landing_contract.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace("values: [M, F, U]", "values: [M, F]", 1), encoding="utf-8")
    assert _meaning(load_contract(changed)) != _meaning(load_contract())


def _without_formats(path: Path, out: Path) -> Path:
    text = re.sub(r" format: [a-z_]+,", "", path.read_text(encoding="utf-8"))
    out.write_text(text, encoding="utf-8")
    return out


def _formats(contract: LandingContract) -> dict[tuple[str, str], str | None]:
    return {
        (name, column): c.format
        for name, spec in contract.files.items()
        for column, c in spec.columns.items()
    }


@pytest.mark.skipif(not SHARED.is_file(), reason=f"shared contract not found at {SHARED}")
def test_project_copy_is_the_shared_contract_plus_formats_only(tmp_path):
    stripped = load_contract(
        _without_formats(REPO_ROOT / "ingest" / "landing_contract.yaml", tmp_path / "c.yaml")
    )
    shared = load_contract(SHARED)
    assert _meaning(stripped) == _meaning(shared)
    assert set(_formats(shared).values()) == {None}  # the shared contract has no formats


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
    text = (REPO_ROOT / "ingest" / "landing_contract.yaml").read_text(encoding="utf-8")
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
