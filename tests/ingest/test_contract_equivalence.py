"""The project's copy of the landing contract stays equivalent to the shared one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.contract import LandingContract, load_contract

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared" / "contracts" / "landing.yaml"


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
