"""Standardisation of identity values: names, nicknames, dates, postcodes, identifiers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from safeguard.linkage.standardise import (
    name_variants,
    nhs_number_is_valid,
    standardise_address,
    standardise_dob,
    standardise_name,
    standardise_nhs_number,
    standardise_postcode,
    standardise_records,
    standardise_sex,
    standardise_upn,
    upn_is_valid,
)


def test_names_fold_case_diacritics_punctuation_and_titles() -> None:
    raw = pd.Series(["  O'Brien-Smith ", "JOSÉ", "Mr  John", "Zoë", "unknown", None, "N/A"])
    assert standardise_name(raw).tolist()[:4] == ["obrien smith", "jose", "john", "zoe"]
    assert standardise_name(raw).isna().tolist()[4:] == [True, True, True]


@pytest.mark.parametrize(
    ("a", "b"),
    [("bill", "william"), ("liz", "elizabeth"), ("bob", "robert"), ("mo", "mohammed"),
     ("muhammad", "mohammad"), ("mohamed", "mohammed"), ("sam", "samuel"), ("sam", "samantha"),
     ("mary jane", "mary")],
)  # fmt: skip
def test_nickname_and_transliteration_variants_overlap(a: str, b: str) -> None:
    assert set(name_variants(a)) & set(name_variants(b))


@pytest.mark.parametrize(
    ("a", "b"), [("samuel", "samantha"), ("william", "robert"), ("jack", "jake")]
)
def test_different_names_do_not_overlap(a: str, b: str) -> None:
    assert not set(name_variants(a)) & set(name_variants(b))


def test_surname_transliterations_overlap() -> None:
    assert set(name_variants("hussein", "surname_variants.csv")) & set(
        name_variants("hossain", "surname_variants.csv")
    )


@pytest.mark.parametrize(
    "value",
    ["2010-03-04", "04/03/2010", "4/3/2010", "04-03-2010", "04.03.2010", "20100304", 20100304.0,
     "4 Mar 2010", "4th March 2010", "March 4, 2010", "2010-03-04 00:00:00", "04/03/10",
     dt.date(2010, 3, 4), pd.Timestamp("2010-03-04")],
)  # fmt: skip
def test_dates_of_birth_in_common_formats_parse(value: object) -> None:
    parsed = standardise_dob(pd.Series([value], dtype="object"))
    assert parsed.loc[0, "dob"] == "2010-03-04"
    assert parsed.loc[0, "dob_swap"] == "2010-04-03"


@pytest.mark.parametrize(
    "value", ["31/02/2010", "2099-01-01", "1900-01-01", "not a date", "", None, np.nan]
)
def test_impossible_future_placeholder_or_missing_dates_are_missing(value: object) -> None:
    assert standardise_dob(pd.Series([value], dtype="object")).loc[0, "dob"] is pd.NA


def test_us_order_used_only_when_day_first_is_impossible() -> None:
    assert standardise_dob(pd.Series(["03/25/2010"])).loc[0, "dob"] == "2010-03-25"


def test_datetime_column_and_swap_of_same_day_and_month() -> None:
    parsed = standardise_dob(pd.Series(pd.to_datetime(["2011-05-05", "2011-05-20", None])))
    assert parsed["dob"].tolist()[:2] == ["2011-05-05", "2011-05-20"]
    assert parsed["dob_swap"].isna().all()  # 05/05 swaps to itself; 20 is not a month


def test_uk_postcodes_get_sector_and_district_foreign_ones_do_not() -> None:
    parsed = standardise_postcode(
        pd.Series(["nb1 2ab", "NB12AB", "sw1a1aa", "75001", "F-75001", "2000", None])
    )
    assert parsed["postcode"].tolist()[:6] == [
        "NB1 2AB",
        "NB1 2AB",
        "SW1A 1AA",
        "75001",
        "F75001",
        "2000",
    ]
    assert parsed["postcode_district"].tolist()[:3] == ["NB1", "NB1", "SW1A"]
    assert parsed["postcode_sector"].tolist()[:1] == ["NB1 2"]
    assert parsed.iloc[3:, 1:].isna().all().all()


def test_address_forms_of_one_flat_agree_and_abbreviations_expand() -> None:
    forms = [
        "Flat 3, 4 Church Rd",
        "3/4 Church Road",
        "4 Church Road, Flat 3",
        "FLAT 3 4 CHURCH RD",
    ]
    assert set(standardise_address(pd.Series(forms))) == {"3 4 church road"}
    assert standardise_address(pd.Series(["12 High St.", "Flat 4, 3 Church Rd"])).tolist() == [
        "12 high street",
        "3 4 church road",  # words are sorted, so flat 4 of no. 3 equals flat 3 of no. 4...
    ]  # ...a rare collision that the postcode and names still have to outvote


def test_nhs_numbers_need_a_valid_check_digit() -> None:
    assert nhs_number_is_valid("9434765919")
    assert not nhs_number_is_valid("9434765918")
    assert not nhs_number_is_valid("1111111111")
    parsed = standardise_nhs_number(pd.Series(["943 476 5919", "943-476-5918", 9434765919.0, None]))
    assert parsed.tolist()[0] == "9434765919" and parsed.tolist()[2] == "9434765919"
    assert parsed.isna().tolist() == [False, True, False, True]


def test_upns_need_a_valid_check_letter_and_sex_codes_map() -> None:
    assert upn_is_valid("N801200001234") and upn_is_valid("F950000002701")
    assert not upn_is_valid("H801200001234")  # wrong check letter
    parsed = standardise_upn(pd.Series(["n801200001234", "N8012", "H801200001234", None]))
    assert parsed.isna().tolist() == [False, True, True, True]
    assert standardise_sex(pd.Series(["m", "Female", "U", None])).tolist()[:2] == ["M", "F"]


def test_records_table_has_every_column_even_without_optional_ones() -> None:
    records = pd.DataFrame(
        {"source": ["a"], "record_key": [1], "first_name": ["Bill"], "last_name": ["Smith-Jones"],
         "dob": ["2001-02-03"], "address_line": ["1 High St"], "postcode": ["NB1 2AB"]}
    )  # fmt: skip
    table = standardise_records(records, ("sex", "upn", "nhs_number", "agency_id"))
    assert table.loc[0, "first_name_variants"] == ["bill", "william"]
    assert {"jones", "smith"} <= set(table.loc[0, "last_name_variants"])
    assert table[["sex", "upn", "nhs_number", "agency_id"]].isna().all().all()
    assert table.loc[0, "record_key"] == "1"


def test_address_line_keeps_the_written_order_and_the_key_ignores_it() -> None:
    from safeguard.linkage.standardise import standardise_address_line

    forms = pd.Series(["Flat 3, 4 Church Rd", "4 Church Road, Flat 3", "4 Chruch Road"])
    assert standardise_address_line(forms).tolist() == [
        "3 4 church road",
        "4 church road 3",
        "4 chruch road",
    ]
    assert standardise_address(forms).tolist()[:2] == ["3 4 church road"] * 2
