"""The column firewall: prohibited spellings, declared matching, duplicates, never values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safeguard.dpia.firewall import classify_columns, is_prohibited, normalise_column_name

PROHIBITED = ("immigration_status", "nationality", "visa_type", "nrpf_status", "religion")
DECLARED = ("person_ref", "first_name", "dob", "role", "incident_date")


@pytest.mark.parametrize(
    "header",
    [
        "immigration_status",
        "Immigration Status",
        " IMMIGRATION-STATUS ",
        "immigration_status_code",
        "ImmigrationStatus",
        "person.immigration/status",
        "nationality_desc",
        "Nationality",
        "Visa Type",
        "NRPF",
        "nrpf_flag",
        "No Recourse To Public Funds",
        "religion_id",
        "Religious Group",
        "citizenship",
        "Country of Birth",
        "\ufeffnationality",
    ],
)
def test_prohibited_spellings_are_recognised(header):
    assert is_prohibited(header, PROHIBITED)
    decision = classify_columns([header, "dob"], DECLARED, PROHIBITED)
    assert decision.dropped_prohibited == [header.replace("\ufeff", "").strip()]
    assert decision.kept == {1: "dob"}


@pytest.mark.parametrize("header", ["dob", "incident_date", "international_ref", "role", ""])
def test_ordinary_names_are_not_prohibited(header):
    assert not is_prohibited(header, PROHIBITED)


def test_declared_names_match_ignoring_case_whitespace_and_separators():
    header = [" Person_Ref ", "FIRST NAME", "D.O.B", "Role", "shoe_size", "", "incident-date"]
    decision = classify_columns(header, DECLARED, PROHIBITED)
    assert decision.kept == {
        0: "person_ref",
        1: "first_name",
        2: "dob",
        3: "role",
        6: "incident_date",
    }
    assert decision.dropped_undeclared == ["shoe_size", "(blank column 6)"]
    assert decision.missing == []


def test_prohibited_wins_over_declared():
    decision = classify_columns(["religion", "dob"], ("religion", "dob"), PROHIBITED)
    assert decision.kept == {1: "dob"}
    assert decision.dropped_prohibited == ["religion"]
    assert decision.missing == ["religion"]


def test_duplicates_keep_the_first_and_report_the_rest():
    decision = classify_columns(["dob", "DOB", " dob "], DECLARED, PROHIBITED)
    assert decision.kept == {0: "dob"}
    assert decision.dropped_duplicate == ["DOB", "dob"]
    assert decision.missing == ["person_ref", "first_name", "role", "incident_date"]


def test_ambiguous_declarations_are_refused():
    with pytest.raises(ValueError, match="cannot be told apart"):
        classify_columns(["x"], ["first_name", "First Name"], PROHIBITED)


def test_normalisation():
    assert normalise_column_name(" Immigration-Status ") == "immigrationstatus"
    assert normalise_column_name("ImmigrationStatus") == normalise_column_name("immigration_status")


_words = st.sampled_from(
    [["immigration", "status"], ["nationality"], ["visa", "type"], ["nrpf"], ["religion"]]
)
_separators = st.sampled_from(["_", " ", "-", "", ".", "__", " - "])
_affixes = st.sampled_from(["", "x_", "Person ", "code", "_ID", " desc", "2", "(free text)"])


@given(
    words=_words,
    separator=_separators,
    cases=st.lists(st.sampled_from([str.lower, str.upper, str.title]), min_size=3, max_size=3),
    prefix=_affixes,
    suffix=_affixes,
    position=st.integers(min_value=0, max_value=len(DECLARED)),
)
def test_any_spelling_of_a_prohibited_name_is_dropped(
    words, separator, cases, prefix, suffix, position
):
    spelled = separator.join(case(word) for case, word in zip(cases, words, strict=False))
    header = list(DECLARED)
    header.insert(position, f" {prefix}{spelled}{suffix} ")
    decision = classify_columns(header, DECLARED, PROHIBITED)
    assert position not in decision.kept
    assert len(decision.dropped_prohibited) == 1
    assert sorted(decision.kept.values()) == sorted(DECLARED)


# Finding 10: look-alikes of prohibited names were logged as "undeclared", not "prohibited".
@pytest.mark.parametrize(
    "header",
    [
        "n\u0430tionality",  # Cyrillic a
        "\u039d\u0391\u03a4\u0399\u039f\u039d\u0391L\u0399\u03a4\u03a5",  # Greek capitals
        "\u0406MMIGRATION_STATUS",  # Cyrillic capital I
        "\uff4e\uff41\uff54\uff49\uff4f\uff4e\uff41\uff4c\uff49\uff54\uff59",  # full-width
        "\U0001d427\U0001d41a\U0001d42d\U0001d422\U0001d428\U0001d427\U0001d41a\U0001d425\U0001d422\U0001d42d\U0001d432",
        "N\u00e4tionality",  # accent
        "\u0399mmigration_status",  # Greek capital iota
        "nati0nality",
        "v1sa_type",
        "country_of_origin",
        "Country Of Origin",
        "right_to_work",
        "leave_to_remain",
    ],
)
def test_look_alikes_and_synonyms_are_prohibited_not_undeclared(header):
    assert is_prohibited(header, PROHIBITED)
    decision = classify_columns([header, "dob"], DECLARED, PROHIBITED)
    assert len(decision.dropped_prohibited) == 1 and decision.dropped_undeclared == []


def test_folding_does_not_make_declared_names_prohibited():
    from safeguard.ingest.contract import load_contract

    contract = load_contract()
    for spec in contract.files.values():
        for column in spec.columns:
            assert not is_prohibited(column, contract.prohibited), column


def test_a_prohibited_header_shaped_like_a_sentence_is_dropped_with_its_name_withheld() -> None:
    """Seven words read as a value: still dropped as prohibited, the name not recorded."""
    header = ["Client no recourse to public funds Desc", "dob"]
    decision = classify_columns(header, DECLARED, PROHIBITED)
    assert decision.dropped_prohibited == ["(column 1: name withheld, looks like a value)"]
    assert decision.kept == {1: "dob"}
