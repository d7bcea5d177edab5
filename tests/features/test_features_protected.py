"""Family-level protected attributes for the audit, returned apart from the features."""

from __future__ import annotations

import pandas as pd
from feature_tables import AS_OF, events_frame

from features.build import build_family_features
from features.protected import SENSITIVE_COLUMNS, build_sensitive_features, ethnicity_group


def _traits() -> pd.DataFrame:
    return pd.DataFrame(
        {"person_key": ["mum", "dad", "kid", "baby", "ada", "bo"],
         "sex": ["F", "M", "M", "F", "F", "M"],
         "ethnicity": ["WBRI", "BCRB", "MWBC", "MWBC", None, "APKN"],
         "disability": ["N", "Y", "N", "U", "U", "U"]}
    )  # fmt: skip


def test_family_attributes(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    families, people = household
    events = events_frame(
        [
            {"person_key": "mum", "event_type": "housing.arrears_notice", "event_date": "2023-01-01", "postcode_district": "NB2"},
            {"person_key": "kid", "event_type": "education.attendance", "event_date": "2024-03-01", "postcode_district": "NB1"},
            {"person_key": "kid", "event_type": "police.asb", "event_date": "2024-08-01", "postcode_district": "NB9"},  # after as_of
        ]
    )  # fmt: skip
    areas = pd.DataFrame({"postcode_district": ["NB1", "NB2", "NB9"], "imd_decile": [3, 10, 1]})
    out = build_sensitive_features(events, families, people, _traits(), areas, AS_OF)
    assert list(out.columns) == list(SENSITIVE_COLUMNS)
    f1, f2 = out.loc["F1"], out.loc["F2"]
    assert f1["ethnicity_group"] == "Mixed" and f1["ethnicity"] == "MWBC"
    assert f1["sex_children"] == "mixed" and f1["sex_lead_adult"] == "M"  # dad is the older adult
    assert f1["disability"] == "Y"
    assert f1["youngest_child_age_band"] == "0-4"
    assert f1["deprivation_quintile"] == "Q2"  # NB1 (decile 3): latest located event before as_of
    assert f2["ethnicity_group"] == "Asian" and f2["disability"] == "Unknown"
    assert f2["deprivation_quintile"] == "Unknown"  # no located event
    assert f2["youngest_child_age_band"] == "11-15"


def test_sensitive_columns_never_in_features(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    families, people = household
    features = build_family_features(events_frame([]), families, people, AS_OF)
    assert not set(SENSITIVE_COLUMNS) & set(features.columns)


def test_ethnicity_groups() -> None:
    assert [ethnicity_group(c) for c in ("WIRT", "BAFR", "CHNE", "REFU", None, "AOTH")] == [
        "White", "Black", "Other", "Unknown", "Unknown", "Asian",
    ]  # fmt: skip
