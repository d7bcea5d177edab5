"""Family-level protected attributes for the audit: point-in-time, apart from the features."""

from __future__ import annotations

import pandas as pd
import pytest
from feature_tables import AS_OF, events_frame

from safeguard.features.build import build_family_features
from safeguard.features.protected import (
    SENSITIVE_COLUMNS,
    attribute_leakage,
    build_sensitive_features,
    build_sensitive_features_many,
    characteristic_observations,
    ethnicity_group,
)

BEFORE, AFTER = "2024-01-15", "2024-09-01"  # AS_OF is 2024-07-01


def _observations(rows: list[tuple[str, str, str | None, str | None, str | None]]) -> pd.DataFrame:
    """``(person_key, recorded_on, sex, ethnicity, disability)`` statements."""
    frame = pd.DataFrame(
        rows, columns=["person_key", "recorded_on", "sex", "ethnicity", "disability"]
    )
    frame.insert(1, "source", "social_care")
    frame["recorded_on"] = pd.to_datetime(frame["recorded_on"]).astype("datetime64[ns]")
    return frame.astype(
        {c: "string" for c in ("person_key", "source", "sex", "ethnicity", "disability")}
    )


def _traits() -> pd.DataFrame:
    return _observations([
        ("mum", BEFORE, "F", "WBRI", "N"), ("dad", BEFORE, "M", "BCRB", "Y"),
        ("kid", BEFORE, "M", "MWBC", "N"), ("baby", BEFORE, "F", "MWBC", None),
        ("ada", BEFORE, "F", None, None), ("bo", BEFORE, "M", "APKN", None),
    ])  # fmt: skip


AREAS = pd.DataFrame({"postcode_district": ["NB1", "NB2", "NB9"], "imd_decile": [3, 10, 1]})


def test_family_attributes(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    families, people = household
    events = events_frame(
        [
            {"person_key": "mum", "event_type": "housing.arrears_notice", "event_date": "2023-01-01", "postcode_district": "NB2"},
            {"person_key": "kid", "event_type": "education.attendance", "event_date": "2024-03-01", "postcode_district": "NB1"},
            {"person_key": "kid", "event_type": "police.asb", "event_date": "2024-08-01", "postcode_district": "NB9"},  # after as_of
        ]
    )  # fmt: skip
    out = build_sensitive_features(events, families, people, _traits(), AREAS, AS_OF)
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


def test_a_characteristic_first_recorded_after_the_as_of_date_is_unknown_then(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """The outcome's own record (an s47 enquiry stating a disability) cannot define the group."""
    families, people = household
    obs = _observations([
        ("bo", BEFORE, "M", "APKN", None),
        ("bo", AFTER, "M", "APKN", "Y"),  # the enquiry after the as-of date records a disability
        ("kid", AFTER, "M", "WBRI", "N"),  # F1's only statements come after the as-of date
    ])  # fmt: skip
    at = build_sensitive_features(events_frame([]), families, people, obs, AREAS, AS_OF)
    assert at.loc["F2", "disability"] == "Unknown"
    assert (
        at.loc["F1", "ethnicity_group"] == "Unknown" and at.loc["F1", "sex_children"] == "Unknown"
    )
    later = build_sensitive_features(
        events_frame([]), families, people, obs, AREAS, pd.Timestamp("2024-10-01").date()
    )
    assert later.loc["F2", "disability"] == "Y" and later.loc["F1", "ethnicity_group"] == "White"


def test_the_latest_statement_breaks_a_tie_and_the_modal_one_wins() -> None:
    from safeguard.features.protected import person_characteristics_at

    obs = _observations([
        ("p", "2023-01-01", None, "WBRI", None), ("p", "2023-02-01", None, "WIRI", None),
        ("q", "2023-01-01", None, "BAFR", None), ("q", "2023-02-01", None, "BAFR", None),
        ("q", "2023-03-01", None, "BCRB", None),
    ])  # fmt: skip
    traits = person_characteristics_at(obs, pd.Timestamp("2024-01-01")).set_index("person_key")
    assert traits.loc["p", "ethnicity"] == "WIRI"  # 1 each: the latest
    assert traits.loc["q", "ethnicity"] == "BAFR"  # 2 against 1


def test_leakage_detector_fires_on_attributes_taken_from_the_whole_extract(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    families, people = household
    obs = _observations([
        ("bo", BEFORE, "M", "APKN", None), ("bo", AFTER, "M", "APKN", "Y"),
        ("kid", BEFORE, "M", "WBRI", "N"),
    ])  # fmt: skip
    outcomes = pd.DataFrame({"as_of_date": pd.to_datetime([AS_OF, AS_OF]), "family_key": ["F1", "F2"],
                             "label": [True, True]})  # fmt: skip
    # the old code path: attributes from every record in the extract, no date filter
    late = pd.Timestamp("2030-01-01").date()
    leaky = build_sensitive_features_many(events_frame([]), families, people, obs, AREAS, [late])
    leaky["as_of_date"] = pd.Timestamp(AS_OF)
    fired = attribute_leakage(leaky, outcomes, families, obs).set_index(["dimension", "group"])
    assert fired.loc[("disability", "Y"), "share"] == 1.0  # F2's disability came after the date
    # the point-in-time path: nothing leaks
    honest = build_sensitive_features_many(events_frame([]), families, people, obs, AREAS, [AS_OF])
    silent = attribute_leakage(honest, outcomes, families, obs)
    assert (silent["share"] == 0).all() and len(silent) > 0


def test_observations_come_from_dated_records_and_drop_not_known_codes() -> None:
    records = {
        "social_care": pd.DataFrame({"record_pseudo": ["r1", "r2"], "start_date": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                                     "sex": ["F", "U"], "ethnicity": ["REFU", "WBRI"], "disability": ["U", "Y"]}),
        "police": pd.DataFrame({"record_pseudo": ["r3"], "incident_date": pd.to_datetime(["2024-03-01"]), "sex": ["U"]}),
    }  # fmt: skip
    links = pd.DataFrame({"record_pseudo": ["r1", "r2", "r3"], "person_key": ["a", "a", "b"]})
    obs = characteristic_observations(
        records, links, {"social_care": "start_date", "police": "incident_date"}
    )
    assert len(obs) == 2  # r3 states nothing known
    first = obs.loc[obs["recorded_on"] == pd.Timestamp("2024-01-01")].iloc[0]
    assert first["sex"] == "F" and pd.isna(first["ethnicity"]) and pd.isna(first["disability"])


def test_sensitive_columns_never_in_features(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    families, people = household
    features = build_family_features(events_frame([]), families, people, AS_OF)
    assert not set(SENSITIVE_COLUMNS) & set(features.columns)


@pytest.mark.parametrize(
    ("code", "group"),
    [("WIRT", "White"), ("BAFR", "Black"), ("CHNE", "Other"), ("REFU", "Unknown"), (None, "Unknown"),
     ("AOTH", "Asian")],
)  # fmt: skip
def test_ethnicity_groups(code: str | None, group: str) -> None:
    assert ethnicity_group(code) == group
