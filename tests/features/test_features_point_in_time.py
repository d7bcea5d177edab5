"""One rule for "who is in the family on a date" and "where the family lives on a date"."""

from __future__ import annotations

from datetime import date

import pandas as pd
from feature_tables import AS_OF, events_frame, families_frame

from features.point_in_time import districts_at, members_at, spell_valid_at, spells_at
from models.flagging import family_districts


def _spells() -> pd.DataFrame:
    return families_frame(
        [("a", "F1", "adult"), ("b", "F1", "child"), ("c", "F1", "child"), ("d", "F2", "child")],
        a=(None, None),
        b=("2024-07-01", None),  # starts on the date: a member
        c=("2023-01-01", "2024-07-01"),  # ends on the date: no longer a member
        d=("2024-07-02", None),  # starts after: not yet
    )


def test_spells_are_half_open_and_sql_agrees_with_pandas() -> None:
    spells = _spells()
    assert spell_valid_at(spells, AS_OF).tolist() == [True, True, False, False]
    assert spells_at(spells, AS_OF)["person_key"].tolist() == ["a", "b"]
    members = members_at(spells, [AS_OF, date(2024, 7, 2)])
    on_date = members.loc[members["as_of_date"] == pd.Timestamp(AS_OF), "person_key"]
    assert sorted(on_date) == ["a", "b"]
    day_after = members.loc[members["as_of_date"] == pd.Timestamp("2024-07-02"), "person_key"]
    assert sorted(day_after) == ["a", "b", "d"]


def test_district_is_the_latest_located_event_with_ties_to_the_highest_record() -> None:
    spells = _spells()
    events = events_frame(
        [
            {"person_key": "a", "event_type": "housing.asb_complaint", "event_date": "2024-01-05",
             "postcode_district": "AB1"},
            {"person_key": "b", "event_type": "police.asb", "event_date": "2024-03-01",
             "postcode_district": "AB2"},
            {"person_key": "a", "event_type": "police.asb", "event_date": "2024-03-01",
             "postcode_district": "AB3"},
            # on the as-of date: not yet known
            {"person_key": "a", "event_type": "police.asb", "event_date": "2024-07-01",
             "postcode_district": "ZZ9"},
            # not located
            {"person_key": "b", "event_type": "police.asb", "event_date": "2024-06-01"},
            # c has left the family by the date
            {"person_key": "c", "event_type": "police.asb", "event_date": "2024-06-20",
             "postcode_district": "CC1"},
        ]
    )  # fmt: skip
    out = districts_at(events, spells, [AS_OF])
    # r1 (AB2) and r2 (AB3) tie on 2024-03-01: the higher record_pseudo r2 wins, every time
    assert out[["family_key", "postcode_district"]].values.tolist() == [["F1", "AB3"]]
    assert family_districts(events, spells, AS_OF).to_dict() == {"F1": "AB3"}
    snapshot = members_at(spells, [AS_OF])
    again = districts_at(events, snapshot, [AS_OF])
    assert again["postcode_district"].tolist() == ["AB3"]
