"""The typed landing contract: sources, columns and each source's event-date column."""

from __future__ import annotations

import pytest
import yaml

from safeguard.contracts.landing import (
    AGENCY_SOURCES,
    REFERENCE_FILES,
    ContractError,
    default_contract_path,
    event_date_column,
    load_contract,
    source,
    sources,
    sources_of,
)


def test_sources_are_typed_in_contract_order() -> None:
    assert AGENCY_SOURCES == ("social_care", "education", "housing", "police", "revenues_benefits")
    assert REFERENCE_FILES == ("workers", "objections", "areas")
    police = source("police")
    assert police.table == "police_records" and police.file == "police.csv"
    assert police.column("incident_date").type == "date"
    assert [c.name for c in police.role_columns("record_key", "person_key")] == [
        "involvement_id",
        "person_ref",
    ]
    assert {s.name: s.event_date for s in sources()} == {
        "social_care": "start_date", "education": "period_start", "housing": "event_date",
        "police": "incident_date", "revenues_benefits": "event_date",
    }  # fmt: skip
    assert event_date_column("education") == "period_start"
    with pytest.raises(ContractError, match="not an agency source"):
        source("workers")


def _contract(tmp_path, mutate):
    raw = yaml.safe_load(default_contract_path().read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["sources"]["police"].update(event_date="incident_ref"), "not a declared date"),
        (lambda c: c["sources"]["police"].update(event_date="no_such"), "not a declared date"),
        (lambda c: c["sources"]["housing"].update(open_ended=True), "needs an end_date"),
        (lambda c: c["reference"]["workers"].update(event_date="x"), "only a source has"),
    ],
)
def test_date_keys_must_name_declared_date_columns(tmp_path, mutate, message) -> None:
    with pytest.raises(ContractError, match=message):
        load_contract(_contract(tmp_path, mutate))


def test_a_source_without_an_event_date_cannot_be_typed(tmp_path) -> None:
    contract = load_contract(
        _contract(tmp_path, lambda c: c["sources"]["police"].pop("event_date"))
    )
    with pytest.raises(ContractError, match="police: the landing contract names no event_date"):
        sources_of(contract)
