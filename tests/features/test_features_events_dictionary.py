"""The events table mapping and the feature dictionary's protected-column guard."""

from __future__ import annotations

import pandas as pd
import pytest

from safeguard.features.dictionary import (
    FEATURE_DICTIONARY,
    FEATURE_NAMES,
    PROTECTED_COLUMNS,
    ProtectedFeatureError,
    assert_no_protected,
    feature_spec,
)
from safeguard.features.events import EVENT_COLUMNS, EventsSchemaError, build_events


def _records() -> dict[str, pd.DataFrame]:
    police = pd.DataFrame(
        {"record_pseudo": ["p1", "p2"], "agency_person_pseudo": ["a1", "a2"],
         "incident_ref": ["inc9", "inc9"], "role": ["victim", "suspect"],
         "incident_type": ["domestic_abuse", "domestic_abuse"],
         "incident_date": pd.to_datetime(["2024-01-02", "2024-01-02"]),
         "dash_risk": ["high", "high"], "sex": ["F", "M"], "postcode_district": ["NB1", "NB1"]}
    )  # fmt: skip
    housing = pd.DataFrame(
        {"record_pseudo": ["h1"], "tenancy_ref": ["ten1"], "tenancy_role": ["lead_tenant"],
         "event_type": ["arrears_notice"], "event_date": pd.to_datetime(["2024-02-01"]),
         "arrears_gbp": [812.5]}
    )  # fmt: skip
    social = pd.DataFrame(
        {"record_pseudo": ["s1"], "episode_type": ["cp_plan"], "ethnicity": ["WBRI"],
         "start_date": pd.to_datetime(["2023-05-01"]), "end_date": pd.to_datetime(["2023-11-01"])}
    )  # fmt: skip
    return {"police": police, "housing": housing, "social_care": social}


def test_events_map_every_source_and_drop_protected_columns() -> None:
    links = pd.DataFrame(
        {"source": ["police", "police", "housing", "social_care"],
         "record_pseudo": ["p1", "p2", "h1", "s1"], "person_key": ["mum", "dad", "mum", "kid"]}
    )  # fmt: skip
    events = build_events(_records(), links).set_index("record_pseudo")
    assert list(events.reset_index().columns) == list(EVENT_COLUMNS)
    assert not set(PROTECTED_COLUMNS) & set(events.columns)
    assert events.loc["p1", "event_type"] == "police.domestic_abuse"
    assert events.loc["p2", "group_pseudo"] == "inc9"
    assert events.loc["p1", "dash_risk"] == "high"
    assert events.loc["h1", "amount_gbp"] == 812.5
    assert events.loc["h1", "role"] == "lead_tenant"
    assert events.loc["s1", "end_date"] == pd.Timestamp("2023-11-01")
    assert str(events["event_date"].dtype) == "datetime64[ns]"


def test_unlinked_records_are_dropped_and_bad_schema_named() -> None:
    links = pd.DataFrame({"source": ["police"], "record_pseudo": ["p1"], "person_key": ["mum"]})
    assert list(build_events(_records(), links)["record_pseudo"]) == ["p1"]
    broken = {"police": _records()["police"].drop(columns="incident_date")}
    with pytest.raises(EventsSchemaError, match="police_records has no column 'incident_date'"):
        build_events(broken, links)
    with pytest.raises(EventsSchemaError, match="unknown source"):
        build_events({"gp": _records()["police"]}, links)


def test_dictionary_has_no_protected_feature_and_is_complete() -> None:
    assert_no_protected(FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    for spec in FEATURE_DICTIONARY:
        assert spec.unit in {"count", "rate", "days", "gbp", "flag", "years", "people"}
        assert spec.label and spec.description and "{value}" in spec.reason_template
    assert not any("ever" in name.split("_") for name in FEATURE_NAMES)  # no permanent flags


@pytest.mark.parametrize(
    "name",
    [
        "sex",
        "ethnicity",
        "disability",
        "lead_adult_sex",
        "Ethnicity-Group",
        "is_disabled",
        "nationality",
    ],
)
def test_protected_names_are_refused(name: str) -> None:
    with pytest.raises(ProtectedFeatureError, match="fairness audit only"):
        assert_no_protected(["police_da_incidents_12m", name])


def test_similar_but_innocent_names_pass() -> None:
    assert_no_protected(["edu_sessions_excluded_12m", "police_sexual_offences_12m", "sussex_flag"])


def test_reason_text_uses_the_unit() -> None:
    assert (
        feature_spec("housing_arrears_gbp_max_12m").reason(1234.0)
        == "rent arrears of up to £1,234 in the last 12 months"
    )
    assert "72%" in feature_spec("edu_attendance_rate_lowest_12m").reason(0.72)
    assert "over 730" in feature_spec("police_days_since_last_da").reason(730)
    with pytest.raises(KeyError, match="not in the feature dictionary"):
        feature_spec("ethnicity")
