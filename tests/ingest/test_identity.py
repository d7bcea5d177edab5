"""split_identities: pseudonymised records vs identity vault, and the normalisation helpers."""

from __future__ import annotations

import pandas as pd
import pytest

from safeguard.dpia.pseudonymise import Pseudonymiser
from safeguard.ingest.identity import (
    VAULT_COLUMNS,
    normalise_address,
    normalise_postcode,
    postcode_district,
    split_identities,
)
from safeguard.ingest.reader import read_file

KEY = b"0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("raw", "postcode", "district"),
    [
        ("nb12ab", "NB1 2AB", "NB1"),
        ("  NB1   2AB ", "NB1 2AB", "NB1"),
        ("sw1a 1aa", "SW1A 1AA", "SW1A"),
        ("M1 1AE", "M1 1AE", "M1"),
        ("NB1", None, "NB1"),  # outward code only: a district, not a postcode
        ("12345", None, None),
        ("75008 Paris", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_postcode_normalisation(raw, postcode, district):
    values = pd.Series([raw], dtype="string")
    assert normalise_postcode(values).tolist() == [postcode if postcode else pd.NA]
    assert postcode_district(values).tolist() == [district if district else pd.NA]


def test_address_normalisation_makes_spellings_agree():
    same = ["Flat 2, 10 High Rd", "2/10 High Road", "FLAT 2 10 HIGH ROAD.", "Apt 2, 10 High Rd"]
    assert set(normalise_address(pd.Series(same)).tolist()) == {"2 10 high road"}
    out = normalise_address(pd.Series(["12 St Mary's St", "3 Oak Ave", "", None]))
    assert out.tolist() == ["12 saint marys street", "3 oak avenue", pd.NA, pd.NA]
    assert normalise_address(pd.Series(["10 High Road"])).tolist() != ["2 10 high road"]


def _read(tmp_path, drop_tools, contract, source, rows):
    drop = drop_tools.make_drop(tmp_path)
    spec = contract.file_spec(source)
    drop_tools.write_csv(drop.path / spec.file, list(spec.columns), rows)
    return read_file(drop, source, contract).accepted


def test_police_split_matches_design(tmp_path, drop_tools, contract):
    rows = [
        drop_tools.valid_row(
            contract, "police", 1, first_name="Zoltan", dob="2011-02-17", postcode="nb12ab"
        ),
        drop_tools.valid_row(contract, "police", 2, address_line="", postcode="", dob=""),
    ]
    accepted = _read(tmp_path, drop_tools, contract, "police", rows)
    pseudonymiser = Pseudonymiser(KEY)
    records, vault = split_identities("police", accepted, contract, pseudonymiser)
    assert list(records.columns) == [
        "record_pseudo", "agency_person_pseudo", "incident_ref", "sex", "role", "incident_type",
        "incident_date", "dash_risk", "postcode_district", "address_key", "birth_month",
        "extract_date",
    ]  # fmt: skip
    assert list(vault.columns) == list(VAULT_COLUMNS)
    first = records.iloc[0]
    assert first.record_pseudo == pseudonymiser.pseudonym(
        "record", f"police:{rows[0]['involvement_id']}"
    )
    assert first.agency_person_pseudo == pseudonymiser.pseudonym(
        "agency_person", f"police:{rows[0]['person_ref']}"
    )
    assert first.incident_ref == pseudonymiser.pseudonym("incident", rows[0]["incident_ref"])
    assert first.postcode_district == "NB1"
    assert first.birth_month == pd.Timestamp("2011-02-01")
    assert pd.isna(records.iloc[1].address_key) and pd.isna(records.iloc[1].birth_month)
    assert records.birth_month.dtype == "datetime64[ns]"
    # No identifier reaches the analytic records, in any column.
    text = records.astype("string").to_csv()
    for value in ("Zoltan", "Smith", "High Road", "NB1 2AB", "2011-02-17", rows[0]["person_ref"]):
        assert value not in text
    assert rows[0]["involvement_id"] not in text and rows[0]["incident_ref"] not in text
    # The vault keeps them, tied to the record pseudonym.
    assert vault.iloc[0][["source", "record_key", "agency_id", "first_name"]].tolist() == [
        "police",
        rows[0]["involvement_id"],
        rows[0]["person_ref"],
        "Zoltan",
    ]
    assert vault.record_pseudo.tolist() == records.record_pseudo.tolist()
    assert vault.upn.isna().all() and vault.dob.dtype == "datetime64[ns]"


def test_address_key_is_stable_across_spellings_and_sources(tmp_path, drop_tools, contract):
    rows = [
        drop_tools.valid_row(
            contract, "housing", 1, address_line="Flat 2, 10 High Rd", postcode="NB1 2AB"
        ),
        drop_tools.valid_row(
            contract, "housing", 2, address_line="2/10 HIGH ROAD", postcode="nb12ab"
        ),
        drop_tools.valid_row(
            contract, "housing", 3, address_line="2/10 HIGH ROAD", postcode="NB9 9ZZ"
        ),
    ]
    accepted = _read(tmp_path, drop_tools, contract, "housing", rows)
    records, _ = split_identities("housing", accepted, contract, Pseudonymiser(KEY))
    keys = records.address_key.tolist()
    assert keys[0] == keys[1] != keys[2]
    assert records.tenancy_ref.iloc[0] != rows[0]["tenancy_ref"]


def test_education_upn_is_both_agency_id_and_upn(tmp_path, drop_tools, contract):
    rows = [drop_tools.valid_row(contract, "education", 1)]
    accepted = _read(tmp_path, drop_tools, contract, "education", rows)
    records, vault = split_identities("education", accepted, contract, Pseudonymiser(KEY))
    assert vault.agency_id.tolist() == vault.upn.tolist() == [rows[0]["upn"]]
    assert "upn" not in records.columns and "ethnicity" in records.columns


def test_pseudonyms_differ_between_sources_for_the_same_key(tmp_path, drop_tools, contract):
    housing_row = drop_tools.valid_row(contract, "housing", 1, event_id="E1", person_ref="P1")
    benefits_row = drop_tools.valid_row(
        contract, "revenues_benefits", 1, event_id="E1", claimant_ref="P1"
    )
    housing = _read(tmp_path / "h", drop_tools, contract, "housing", [housing_row])
    benefits = _read(tmp_path / "b", drop_tools, contract, "revenues_benefits", [benefits_row])
    housing_records, _ = split_identities("housing", housing, contract, Pseudonymiser(KEY))
    benefit_records, _ = split_identities(
        "revenues_benefits", benefits, contract, Pseudonymiser(KEY)
    )
    assert housing_records.record_pseudo.iloc[0] != benefit_records.record_pseudo.iloc[0]
    assert (
        housing_records.agency_person_pseudo.iloc[0] != benefit_records.agency_person_pseudo.iloc[0]
    )


def test_objections_split(tmp_path, drop_tools, contract):
    rows = [drop_tools.valid_row(contract, "objections", 1, first_name="Quentin")]
    accepted = _read(tmp_path, drop_tools, contract, "objections", rows)
    objections, vault = split_identities("objections", accepted, contract, Pseudonymiser(KEY))
    assert list(objections.columns) == ["objection_pseudo", "received_date"]
    assert list(vault.columns) == [
        "objection_id", "objection_pseudo", "first_name", "last_name", "dob", "postcode"
    ]  # fmt: skip
    assert "Quentin" not in objections.astype("string").to_csv()
    assert vault.first_name.tolist() == ["Quentin"]


def test_unknown_source_is_rejected(contract):
    with pytest.raises(KeyError, match="workers"):
        split_identities("workers", pd.DataFrame(), contract, Pseudonymiser(KEY))
