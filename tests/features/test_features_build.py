"""Point-in-time family features: windows, boundaries, leakage, membership."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from feature_tables import AS_OF, events_frame

from safeguard.features.build import (
    FeatureInputError,
    build_family_features,
    build_family_features_many,
)
from safeguard.features.dictionary import FEATURE_NAMES, RECENCY_CAP_DAYS


def _f1(
    events: pd.DataFrame, household: tuple[pd.DataFrame, pd.DataFrame], as_of: date = AS_OF
) -> pd.Series:
    families, people = household
    out = build_family_features(events, families, people, as_of)
    return out.set_index("family_key").loc["F1"]


def test_columns_are_exactly_the_dictionary(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    families, people = household
    out = build_family_features(events_frame([]), families, people, AS_OF)
    assert list(out.columns) == ["family_key", "as_of_date", *FEATURE_NAMES]
    assert sorted(out["family_key"]) == ["F1", "F2"]
    assert (out["as_of_date"] == pd.Timestamp(AS_OF)).all()


def test_event_on_the_as_of_date_is_excluded(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ev = events_frame(
        [{"person_key": "mum", "event_type": "police.domestic_abuse", "event_date": "2024-07-01"}]
    )
    row = _f1(ev, household)
    assert row["police_da_incidents_3m"] == 0
    assert row["police_days_since_last_da"] == RECENCY_CAP_DAYS
    day_before = events_frame(
        [{"person_key": "mum", "event_type": "police.domestic_abuse", "event_date": "2024-06-30"}]
    )
    row = _f1(day_before, household)
    assert row["police_da_incidents_3m"] == 1
    assert row["police_days_since_last_da"] == 1


def test_three_and_six_and_twelve_month_windows(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    dates = ["2024-04-01", "2024-03-31", "2024-01-15", "2023-07-01", "2023-06-30"]
    ev = events_frame(
        [
            {
                "person_key": "dad",
                "event_type": "police.domestic_abuse",
                "event_date": d,
                "group_pseudo": f"inc{i}",
            }
            for i, d in enumerate(dates)
        ]
    )
    row = _f1(ev, household)
    assert row["police_da_incidents_3m"] == 1  # 2024-04-01 is exactly 3 months back: included
    assert row["police_da_incidents_12m"] == 4  # 2023-07-01 included, 2023-06-30 not
    # last 6 months (from 2024-01-01): 3 incidents; the 6 before: 2023-07-01 only
    assert row["police_da_change_6m"] == 3 - 1
    assert row["police_days_since_last_da"] == 91


def test_incident_involving_two_members_counts_once(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ev = events_frame(
        [
            {"person_key": "mum", "event_type": "police.domestic_abuse", "event_date": "2024-05-01",
             "group_pseudo": "incA", "dash_risk": "high"},
            {"person_key": "dad", "event_type": "police.domestic_abuse", "event_date": "2024-05-01",
             "group_pseudo": "incA", "dash_risk": "high"},
            {"person_key": "dad", "event_type": "police.domestic_abuse", "event_date": "2024-06-01",
             "group_pseudo": "incB", "dash_risk": "standard"},
        ]
    )  # fmt: skip
    row = _f1(ev, household)
    assert row["police_da_incidents_12m"] == 2
    assert row["police_da_high_risk_12m"] == 1
    assert row["police_incidents_12m"] == 2


def test_attendance_uses_only_terms_ended_before_as_of(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ev = events_frame(
        [
            {"person_key": "kid", "event_type": "education.attendance", "event_date": "2024-01-08",
             "end_date": "2024-03-27", "sessions_possible": 100, "sessions_missed_authorised": 4,
             "sessions_missed_unauthorised": 8},
            # summer term straddles the as-of date: its sessions were not all known yet
            {"person_key": "kid", "event_type": "education.attendance", "event_date": "2024-04-15",
             "end_date": "2024-07-22", "sessions_possible": 100, "sessions_missed_authorised": 50,
             "sessions_missed_unauthorised": 0},
        ]
    )  # fmt: skip
    row = _f1(ev, household)
    assert row["edu_attendance_rate_lowest_12m"] == pytest.approx(0.88)
    assert row["edu_persistent_absence_children_12m"] == 1
    later = _f1(ev, household, date(2024, 8, 1))
    assert later["edu_attendance_rate_lowest_12m"] == pytest.approx(1 - 62 / 200)


def test_planted_future_events_leave_features_unchanged(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    families, people = household
    past = events_frame(
        [
            {"person_key": "mum", "event_type": "police.domestic_abuse", "event_date": "2024-02-01"},
            {"person_key": "kid", "event_type": "social_care.referral", "event_date": "2023-11-01",
             "end_date": "2023-12-01"},
            {"person_key": "dad", "event_type": "housing.arrears_notice", "event_date": "2024-06-01",
             "amount_gbp": 900.0},
        ]
    )  # fmt: skip
    future_rows = [
        {"person_key": p, "event_type": t, "event_date": d, "end_date": "2025-01-01",
         "amount_gbp": 5000.0, "dash_risk": "high", "sessions_possible": 100,
         "sessions_missed_unauthorised": 90, "sessions_excluded": 10}
        for p in ("mum", "kid", "baby")
        for t in ("police.domestic_abuse", "social_care.referral", "social_care.cp_plan",
                  "housing.eviction", "education.attendance", "education.suspension",
                  "revenues_benefits.council_tax_arrears", "police.missing_episode")
        for d in ("2024-07-01", "2024-09-30")
    ]  # fmt: skip
    planted = pd.concat([past, events_frame(future_rows)], ignore_index=True)
    before = build_family_features(past, families, people, AS_OF)
    after = build_family_features(planted, families, people, AS_OF)
    pd.testing.assert_frame_equal(before, after)
    # and the planted events do count once the as-of date has passed them
    assert not build_family_features(planted, families, people, date(2024, 10, 1)).equals(
        build_family_features(past, families, people, date(2024, 10, 1))
    )


def test_spell_ended_before_as_of_is_not_a_member(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    families, people = household
    families = families.copy()
    families.loc[families["person_key"] == "dad", "valid_to"] = pd.Timestamp("2024-01-01")
    ev = events_frame(
        [{"person_key": "dad", "event_type": "police.drugs", "event_date": "2023-10-01"}]
    )
    row = build_family_features(ev, families, people, AS_OF).set_index("family_key").loc["F1"]
    assert row["fam_adults"] == 1
    assert row["police_drugs_incidents_12m"] == 0


def test_composition_and_closed_episodes(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ev = events_frame(
        [
            {"person_key": "kid", "event_type": "social_care.assessment", "event_date": "2023-09-01",
             "end_date": "2023-10-15"},
            {"person_key": "kid", "event_type": "social_care.referral", "event_date": "2024-03-01",
             "end_date": None},
        ]
    )  # fmt: skip
    row = _f1(ev, household)
    assert (row["fam_children"], row["fam_adults"], row["fam_youngest_child_age"]) == (2, 2, 1)
    assert row["sc_closed_episodes_24m"] == 1  # the open referral is not a closed episode
    assert row["sc_referrals_12m"] == 1
    assert (
        row["sc_days_since_last_contact"] == (pd.Timestamp(AS_OF) - pd.Timestamp("2024-03-01")).days
    )


def test_many_as_of_dates_match_single_builds(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    families, people = household
    ev = events_frame(
        [
            {
                "person_key": "bo",
                "event_type": "education.suspension",
                "event_date": d,
                "sessions_excluded": 2,
            }
            for d in ("2023-05-01", "2024-02-01", "2024-06-15")
        ]
    )
    dates = [date(2024, 1, 1), date(2024, 4, 1), AS_OF]
    many = build_family_features_many(ev, families, people, dates)
    singles = pd.concat(
        [build_family_features(ev, families, people, d) for d in dates], ignore_index=True
    )
    pd.testing.assert_frame_equal(many, singles)
    f2 = many.set_index(["family_key", "as_of_date"]).loc["F2"]
    assert list(f2["edu_suspensions_12m"]) == [1, 2, 2]


def test_childless_family_is_not_scored_and_missing_columns_fail(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    families, people = household
    adults_only = families.loc[families["family_key"] == "F1"].assign(role="adult")
    out = build_family_features(events_frame([]), adults_only, people, AS_OF)
    assert out.empty
    with pytest.raises(FeatureInputError, match="families lacks column"):
        build_family_features(events_frame([]), families.drop(columns="valid_to"), people, AS_OF)
