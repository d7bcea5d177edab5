"""The typed landing contract and its consistency checks."""

from __future__ import annotations

import pytest
import yaml

from safeguard.ingest.contract import ContractError, default_contract_path, load_contract


def _write(tmp_path, mutate):
    raw = yaml.safe_load(default_contract_path().read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_project_contract_loads(contract):
    assert list(contract.files) == [
        "social_care", "education", "housing", "police", "revenues_benefits",
        "workers", "objections", "areas",
    ]  # fmt: skip
    police = contract.file_spec("police.csv")
    assert police.key_column == "involvement_id" and police.person_key_column == "person_ref"
    assert contract.file_spec("areas").key_column == "postcode_district"
    assert police.columns["incident_date"].echo_allowed and not police.columns["dob"].echo_allowed
    assert not police.columns["role"].echo_allowed  # a bad code can be any word
    assert not police.columns["incident_ref"].echo_allowed  # free-text ids are never quoted
    assert "nationality" in contract.prohibited


def test_unknown_file_name(contract):
    with pytest.raises(ContractError, match="expected one of social_care"):
        contract.file_spec("prison.csv")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: c["sources"]["police"]["columns"]["dob"].update(requird=True),
            r"sources\.police\.columns\.dob\.requird",
        ),
        (lambda c: c["sources"]["police"]["columns"]["role"].pop("values"), "enum column needs"),
        (
            lambda c: c["sources"]["police"]["columns"].update(
                nationality_code={"type": "string", "role": "event"}
            ),
            "nationality_code: declared column would be dropped",
        ),
        (lambda c: c["sources"]["police"]["columns"]["dob"].update(type="datetime"), r"dob\.type"),
        (
            lambda c: c["sources"]["police"]["columns"]["person_ref"].update(role="identity"),
            "exactly one person_key",
        ),
    ],
)
def test_invalid_contracts_are_refused_with_the_path(tmp_path, mutate, message):
    with pytest.raises(ContractError, match=message):
        load_contract(_write(tmp_path, mutate))
