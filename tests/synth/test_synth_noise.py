"""Identifier noise lands at the documented per-agency rates, and the population has the features
that make linkage and family formation hard (collisions, twins, differing surnames)."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from synth_testkit import Estate

from safeguard.synth.noise import PROFILES

PERSON_KEY = {"social_care": ("episode_id", "child_id"), "education": ("record_id", "upn"),
              "housing": ("event_id", "person_ref"), "police": ("involvement_id", "person_ref"),
              "revenues_benefits": ("event_id", "claimant_ref")}  # fmt: skip
UK_POSTCODE = re.compile(r"^[A-Z]{1,2}\d{1,2}[A-Z]? ?\d[A-Z]{2}$")


def _fold(name: str) -> str:
    name = name.replace("Ł", "L").replace("ł", "l")
    return "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    ).casefold()


@pytest.fixture(scope="module")
def people(estate_50k: Estate) -> pd.DataFrame:
    return pd.read_csv(estate_50k.truth / "people.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def rows(estate_50k: Estate) -> dict[str, pd.DataFrame]:
    rec = pd.read_csv(estate_50k.truth / "records.csv", dtype=str, keep_default_na=False)
    rec = rec[rec["extract_date"] == estate_50k.summary.newest.isoformat()]
    out = {}
    for source, (key, _) in PERSON_KEY.items():
        df = pd.read_csv(estate_50k.newest / f"{source}.csv", dtype=str, keep_default_na=False)
        out[source] = df.merge(rec[rec["source"] == source][["record_key", "true_person_id"]],
                               left_on=key, right_on="record_key")  # fmt: skip
    return out


def _registrations(df: pd.DataFrame, source: str, people: pd.DataFrame) -> pd.DataFrame:
    reg = df.drop_duplicates(PERSON_KEY[source][1])
    return reg.merge(people, on="true_person_id", suffixes=("", "_true"))


@pytest.mark.parametrize("source", sorted(PERSON_KEY))
def test_first_name_disagreement_matches_profile(rows: dict[str, pd.DataFrame], people: pd.DataFrame,
                                                 source: str) -> None:  # fmt: skip
    reg = _registrations(rows[source], source, people)
    differs = (reg["first_name"].map(_fold) != reg["first_name_true"].map(_fold)).mean()
    profile = PROFILES[source]
    assert 0.4 * profile.given_typo <= differs <= profile.nickname + profile.given_typo + 0.01, (
        differs
    )


@pytest.mark.parametrize("source", ["housing", "police", "revenues_benefits"])
def test_missing_dob_rate_matches_profile(
    rows: dict[str, pd.DataFrame], people: pd.DataFrame, source: str
) -> None:
    reg = _registrations(rows[source], source, people)
    missing = (reg["dob"] == "").mean()
    assert abs(missing - PROFILES[source].dob_missing) <= 0.02 + 0.2 * PROFILES[source].dob_missing


def test_dob_errors_include_day_month_swaps(
    rows: dict[str, pd.DataFrame], people: pd.DataFrame
) -> None:
    reg = _registrations(rows["police"], "police", people)
    given = reg[(reg["dob"] != "") & (reg["dob"] != reg["dob_true"])]
    swapped = given["dob"].str[:4] + given["dob"].str[7:] + given["dob"].str[4:7]
    assert (swapped == given["dob_true"]).sum() >= 5
    assert len(given) / len(reg) < 0.05


@pytest.mark.parametrize("source", sorted(PERSON_KEY))
def test_duplicate_registrations_match_profile(rows: dict[str, pd.DataFrame], source: str) -> None:
    df = rows[source]
    ids = df.groupby("true_person_id")[PERSON_KEY[source][1]].nunique()
    repeat = df.groupby("true_person_id").size() >= 2
    share = (ids[repeat] >= 2).mean()
    expected = PROFILES[source].duplicate
    assert 0.5 * expected - 0.002 <= share <= 1.5 * expected + 0.01, share


@pytest.mark.parametrize("source", ["police", "housing", "social_care"])
def test_postcode_formats_and_errors(rows: dict[str, pd.DataFrame], source: str) -> None:
    pc = rows[source]["postcode"]
    given = pc[pc != ""]
    normalised = given.str.replace(r"\s+", "", regex=True).str.upper()
    uk_shaped = normalised.str.match(r"^[A-Z]{1,2}\d{1,2}[A-Z]?\d[A-Z]{2}$")
    canonical = given.str.match(UK_POSTCODE) & given.str.contains(" ") & ~given.str.contains("  ")
    reformatted = (uk_shaped & ~canonical).mean()
    profile = PROFILES[source]
    assert abs(reformatted - profile.postcode_format) <= 0.05
    assert 0 < (~uk_shaped).mean() <= 3 * profile.postcode_garbled + 0.003


def test_addresses_are_written_in_several_ways(rows: dict[str, pd.DataFrame]) -> None:
    lines = rows["housing"]["address_line"]
    assert lines.str.contains(r" (?:Rd|St|Ave|Gdns)$").mean() > 0.05
    assert lines.str.contains(r"^\d+/\d+ ").mean() > 0.005
    assert lines.str.startswith("Flat ").mean() > 0.05


def test_upns_and_nhs_numbers_are_well_formed(rows: dict[str, pd.DataFrame]) -> None:
    from safeguard.synth.ids import nhs_valid, upn_valid

    upn = rows["education"]["upn"]
    upn = upn[upn != ""].unique()
    assert all(upn_valid(u) for u in upn)
    nhs = rows["social_care"]["nhs_number"]
    present = nhs[nhs != ""]
    assert 0.6 <= len(present) / len(nhs) <= 0.9
    assert nhs_valid(present.astype(np.int64).to_numpy()).all()
    assert not upn_valid("A123") and not nhs_valid(np.array([1234567890]))


def test_common_names_collide_within_an_area(estate_50k: Estate, people: pd.DataFrame) -> None:
    mem = pd.read_csv(estate_50k.truth / "memberships.csv", dtype=str, keep_default_na=False)
    addresses = pd.read_csv(estate_50k.truth / "addresses.csv", dtype=str, keep_default_na=False)
    now = (
        mem[mem["valid_to"] == ""]
        .merge(addresses, on="address_id")
        .merge(people, on="true_person_id")
    )
    same = now.groupby(["postcode_district", "first_name", "last_name"]).size()
    assert same.max() >= 4
    full = people["first_name"] + " " + people["last_name"]
    assert (full == "Mohammed Khan").sum() >= 5


def test_households_include_twins_and_children_with_another_surname(
    estate_50k: Estate, people: pd.DataFrame
) -> None:
    kids = people[people["role"] == "child"]
    twins = kids.groupby(["true_family_id", "dob"]).size()
    assert (twins >= 2).sum() >= 20
    adults = people[people["role"] == "adult"]
    fam = kids.merge(adults, on="true_family_id", suffixes=("", "_adult"))
    per_child = (
        fam.assign(same=fam["last_name"] == fam["last_name_adult"])
        .groupby("true_person_id")["same"]
        .min()
    )
    assert 0.05 <= (~per_child).mean() <= 0.6  # a child differs from at least one adult at home


def test_household_types_are_mixed(people: pd.DataFrame) -> None:
    adults = people[people["role"] == "adult"].groupby("true_family_id").size()
    kids = people[people["role"] == "child"].groupby("true_family_id").size()
    with_kids = adults.reindex(kids.index).fillna(0)
    assert 0.15 <= (with_kids == 1).mean() <= 0.4  # lone parents among families with children
    childless = adults.index.difference(kids.index)
    assert (adults[childless] == 2).sum() > 0.15 * len(adults)  # couples without children
    assert (adults[childless] == 1).sum() > 0.25 * len(adults)  # one-person households
