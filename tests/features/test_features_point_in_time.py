"""One rule for "who is in the family on a date" and "where the family lives on a date"."""

from __future__ import annotations

from datetime import date

import pandas as pd
from feature_tables import AS_OF, events_frame, families_frame

from safeguard.features.point_in_time import districts_at, members_at, spell_valid_at, spells_at
from safeguard.flags.flagging import family_districts


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


def test_district_is_the_latest_located_event_with_ties_to_the_highest_district() -> None:
    spells = _spells()
    events = events_frame(
        [
            {"person_key": "a", "event_type": "housing.asb_complaint", "event_date": "2024-01-05",
             "postcode_district": "AB1"},
            {"person_key": "b", "event_type": "police.asb", "event_date": "2024-03-01",
             "postcode_district": "AB3"},
            {"person_key": "a", "event_type": "police.asb", "event_date": "2024-03-01",
             "postcode_district": "AB2"},
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
    # AB3 and AB2 tie on 2024-03-01: the higher district wins, whichever record_pseudo (a keyed
    # pseudonym) is higher, so another pseudonym key gives the same district
    assert out[["family_key", "postcode_district"]].values.tolist() == [["F1", "AB3"]]
    assert family_districts(events, spells, AS_OF).to_dict() == {"F1": "AB3"}
    snapshot = members_at(spells, [AS_OF])
    again = districts_at(events, snapshot, [AS_OF])
    assert again["postcode_district"].tolist() == ["AB3"]


def test_linkage_snapshots_follow_the_same_membership_rule() -> None:
    """``linkage`` imports nothing of ours, so ``form_families_at`` states the spell rule
    inline: each snapshot must equal :func:`members_at` of the spells formed on that date."""
    import numpy as np

    from safeguard.linkage import keyed
    from safeguard.linkage.families import form_families, form_families_at

    rng = np.random.default_rng(3)
    n, people = 900, [f"p{i:03d}" for i in range(80)]
    residence = pd.DataFrame({
        "person_key": rng.choice(people, n),
        "address_key": pd.Series(rng.choice([f"a{i}" for i in range(25)], n)).where(
            rng.random(n) < 0.95
        ),
        "event_date": pd.to_datetime("2018-01-01")
        + pd.to_timedelta(rng.integers(0, 6 * 365, n), unit="D"),
        "source": rng.choice(["social_care", "education", "housing", "police"], n),
        "group_key": pd.Series(rng.choice([f"t{i}" for i in range(8)], n)).where(
            rng.random(n) < 0.2
        ),
    })  # fmt: skip
    births = pd.DataFrame({
        "person_key": people,
        "birth_month": pd.to_datetime("2022-01-01")
        - pd.to_timedelta(rng.integers(0, 50 * 365, len(people)), unit="D"),
    })  # fmt: skip
    births["birth_month"] = births["birth_month"].dt.to_period("M").dt.to_timestamp()
    keys = keyed(b"point-in-time-tests-0123456789ab")
    # dates on which someone was seen (at a new address, often): spells end and start on them
    seen = residence["event_date"].sort_values().iloc[[200, 400, 600, 800]]
    dates = [d.date() for d in seen]
    snaps = form_families_at(residence, births, dates, keys=keys)
    assert snaps["as_of_date"].nunique() == len(dates) and len(snaps) > 40
    for d in dates:
        spells = form_families(residence, births, d, keys=keys)
        expected = members_at(spells, [d])[["person_key", "family_key", "role"]]
        got = snaps.loc[
            snaps["as_of_date"] == pd.Timestamp(d), ["person_key", "family_key", "role"]
        ]
        key = ["family_key", "person_key"]
        pd.testing.assert_frame_equal(
            got.sort_values(key).reset_index(drop=True).astype("string"),
            expected.sort_values(key).reset_index(drop=True).astype("string"),
        )
