"""Objections pending verification: who may be the person a quarantined objection names.

The match must err on the objector's side (any date of birth, either name order, spelling
folded the linkage's way, a record without a postcode kept) yet not take a whole surname's
worth of strangers (the first name and, when given, the district must agree).
"""

from __future__ import annotations

import pandas as pd

from safeguard.governance.pending_objections import (
    candidate_person_keys,
    families_of,
    usable_identity,
)


def _vault(*rows: tuple[str, str, str | None, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["first_name", "last_name", "postcode", "person_key"]).astype(
        "string"
    )


def _pending(*rows: tuple[str | None, str | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["first_name", "last_name", "postcode"]).astype("string")


VAULT = _vault(
    ("Ada", "Testperson", "NB1 2AB", "p-same"),
    ("ADA", "TEST-PERSON", "nb1 9zz", "p-folded"),  # case and punctuation differ, same district
    ("Testperson", "Ada", "NB1 3CD", "p-swapped"),
    ("Ada", "Testperson", None, "p-no-postcode"),
    ("Ada", "Testperson", "NB7 1AA", "p-other-district"),
    ("Adam", "Testperson", "NB1 2AB", "p-other-first-name"),
    ("Ada", "Fakeley", "NB1 2AB", "p-other-last-name"),
)


def test_same_name_in_the_same_district_any_order_or_spelling_is_a_candidate() -> None:
    found = candidate_person_keys(VAULT, _pending(("  ada ", "Testperson", "NB12AB")))
    assert found == {"p-same", "p-folded", "p-swapped", "p-no-postcode"}


def test_without_a_postcode_every_district_is_a_candidate() -> None:
    found = candidate_person_keys(VAULT, _pending(("Ada", "Testperson", None)))
    assert found == {"p-same", "p-folded", "p-swapped", "p-no-postcode", "p-other-district"}


def test_no_pending_objection_or_no_usable_name_names_nobody() -> None:
    assert candidate_person_keys(VAULT, _pending()) == set()
    assert candidate_person_keys(VAULT, _pending((None, "Testperson", "NB1 2AB"))) == set()


def test_a_name_is_usable_only_with_a_first_and_a_last_name_after_standardisation() -> None:
    pending = _pending(
        ("Ada", "Testperson", None), ("Unknown", "Testperson", None), ("Ada", "", None)
    )
    assert usable_identity(pending).tolist() == [True, False, False]


def test_every_spell_of_a_candidates_family_is_excluded() -> None:
    families = pd.DataFrame(
        {"family_key": ["f1", "f1", "f2", "f3"], "person_key": ["p-same", "x", "p-same", "y"]}
    )
    assert families_of({"p-same"}, families) == {"f1", "f2"}
    assert families_of(set(), families) == set()
