"""Outcome labels, open-case and objector exclusion, completeness and the time-ordered split."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from feature_tables import AS_OF, events_frame

from safeguard.features.outcomes import (
    SplitError,
    build_training_frame,
    open_to_social_care,
    time_ordered_split,
)


def _frame(
    rows: list[dict], household: tuple[pd.DataFrame, pd.DataFrame], **kw: object
) -> pd.DataFrame:
    families, people = household
    return build_training_frame(events_frame(rows), families, people, [AS_OF], **kw).set_index(
        "family_key"
    )


@pytest.mark.parametrize(
    ("event_type", "when", "expected"),
    [
        ("social_care.s47_enquiry", "2024-07-01", False),  # on the as-of date: not after it
        ("social_care.s47_enquiry", "2024-07-02", True),
        ("social_care.cp_plan", "2025-07-01", True),  # last day of the window (as_of + 12 months]
        ("social_care.cp_plan", "2025-07-02", False),
        ("social_care.referral", "2024-09-01", False),  # a referral is not the outcome
    ],
)
def test_label_window(
    household: tuple[pd.DataFrame, pd.DataFrame], event_type: str, when: str, expected: bool
) -> None:
    frame = _frame([{"person_key": "kid", "event_type": event_type, "event_date": when}], household)
    assert bool(frame.loc["F1", "label"]) is expected
    assert not frame.loc["F2", "label"]


def test_adult_outcome_does_not_label_the_family(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    frame = _frame(
        [
            {
                "person_key": "mum",
                "event_type": "social_care.s47_enquiry",
                "event_date": "2024-08-01",
            }
        ],
        household,
    )
    assert not frame.loc["F1", "label"]


@pytest.mark.parametrize(
    ("episode", "start", "end", "excluded"),
    [
        ("social_care.cp_plan", "2024-01-01", None, True),  # open at the as-of date
        ("social_care.cin_plan", "2024-01-01", "2024-09-01", True),  # ends after the as-of date
        ("social_care.looked_after", "2023-01-01", "2024-07-01", False),  # ended on the as-of date
        ("social_care.assessment", "2024-07-01", None, False),  # starts on it: not before it
        ("social_care.referral", "2024-06-01", None, False),  # an open referral is not a case
    ],
)
def test_open_case_exclusion(
    household: tuple[pd.DataFrame, pd.DataFrame],
    episode: str,
    start: str,
    end: str | None,
    excluded: bool,
) -> None:
    rows = [{"person_key": "baby", "event_type": episode, "event_date": start, "end_date": end}]
    frame = _frame(rows, household)
    assert ("F1" not in frame.index) is excluded
    assert "F2" in frame.index
    families, _ = household
    open_now = open_to_social_care(events_frame(rows), families, AS_OF)
    assert (list(open_now["family_key"]) == ["F1"]) is excluded


def test_objector_family_dropped(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame = _frame([], household, excluded_person_keys=["dad"])
    assert list(frame.index) == ["F2"]


def test_label_complete_against_extract_date(household: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    assert _frame([], household, extract_date=date(2025, 7, 1))["label_complete"].all()
    assert not _frame([], household, extract_date=date(2025, 6, 30))["label_complete"].any()


def _stack(dates: list[str], complete_until: str) -> pd.DataFrame:
    as_of = pd.to_datetime(dates)
    frame = pd.DataFrame({"family_key": "F", "as_of_date": as_of, "label": False})
    frame["label_complete"] = as_of + pd.DateOffset(months=12) <= pd.Timestamp(complete_until)
    return frame


def test_time_ordered_split_pools_test_dates_after_the_embargo() -> None:
    dates = [f"{y}-{m:02d}-01" for y in (2021, 2022, 2023) for m in range(1, 13)]
    frame = _stack(dates, "2024-09-15")
    split = time_ordered_split(frame, calibration_dates=2, test_dates=6, min_train_dates=3)
    # latest complete date 2023-09-01; six monthly test dates back to 2023-04-01
    assert split.test_dates[0] == pd.Timestamp("2023-04-01")
    assert split.test_date == pd.Timestamp("2023-09-01")
    # everything used for training ends a full outcome window before the first test date
    assert max(split.calibration_dates) == pd.Timestamp("2022-04-01")
    assert max(split.train_dates) < min(split.calibration_dates)
    train, calib, test = split.frames(frame)
    assert (len(calib), len(test)) == (2, 6)
    assert len(train) == len([d for d in dates if d < "2022-03-01"])


def test_time_ordered_split_uses_fewer_test_dates_on_a_short_history() -> None:
    dates = [f"2022-{m:02d}-01" for m in range(1, 13)] + [f"2023-{m:02d}-01" for m in range(1, 13)]
    split = time_ordered_split(_stack(dates, "2024-09-15"), calibration_dates=2, test_dates=12,
                               min_train_dates=3)  # fmt: skip
    assert split.test_date == pd.Timestamp("2023-09-01")
    assert len(split.test_dates) == 5  # the most that still leaves 3 + 2 dates a year earlier
    assert len(split.train_dates) == 3


def test_time_ordered_split_refuses_short_history() -> None:
    with pytest.raises(SplitError, match="add earlier as-of dates"):
        time_ordered_split(_stack(["2023-01-01", "2023-06-01"], "2024-06-01"), calibration_dates=1)
    with pytest.raises(SplitError, match="no as-of date has a complete"):
        time_ordered_split(_stack(["2023-01-01"], "2023-06-01"))


def test_babies_born_in_the_window_count_in_the_label(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """A pre-birth plan and a newborn's enquiry belong to the family they are born into."""
    families, people = household
    newborn = pd.DataFrame({"person_key": ["nb"], "family_key": ["F2"], "role": ["child"],
                            "valid_from": [pd.Timestamp("2024-10-01")], "valid_to": [pd.NaT]})  # fmt: skip
    later = pd.concat([families, newborn.astype(families.dtypes.to_dict())], ignore_index=True)
    people = pd.concat([people, pd.DataFrame({"person_key": ["nb"], "birth_month": [pd.Timestamp("2024-10-01")]})],
                       ignore_index=True).astype({"person_key": "string", "birth_month": "datetime64[ns]"})  # fmt: skip
    # pre-birth: the plan starts in August, before the October birth
    rows = [{"person_key": "nb", "event_type": "social_care.cp_plan", "event_date": "2024-08-15"}]
    at_as_of = families  # the baby is not yet in any record at the as-of date
    without = build_training_frame(events_frame(rows), at_as_of, people, [AS_OF]).set_index(
        "family_key"
    )
    with_babies = build_training_frame(events_frame(rows), at_as_of, people, [AS_OF],
                                       outcome_families=later).set_index("family_key")  # fmt: skip
    assert not without.loc["F2", "label"]
    assert with_babies.loc["F2", "label"] and not with_babies.loc["F1", "label"]
    # a baby born after the window does not count
    late = newborn.assign(valid_from=pd.Timestamp("2025-09-01"))
    people_late = people.assign(birth_month=people["birth_month"].where(people["person_key"] != "nb",
                                                                        pd.Timestamp("2025-09-01")))  # fmt: skip
    rows_late = [
        {"person_key": "nb", "event_type": "social_care.cp_plan", "event_date": "2025-06-15"}
    ]
    later_late = pd.concat([families, late.astype(families.dtypes.to_dict())], ignore_index=True)
    frame = build_training_frame(events_frame(rows_late), at_as_of, people_late, [AS_OF],
                                 outcome_families=later_late).set_index("family_key")  # fmt: skip
    assert frame.loc["F2", "label"]  # pre-birth plan in the window for a baby born just after it
    rows_after = [
        {"person_key": "nb", "event_type": "social_care.cp_plan", "event_date": "2025-08-15"}
    ]
    frame = build_training_frame(events_frame(rows_after), at_as_of, people_late, [AS_OF],
                                 outcome_families=later_late).set_index("family_key")  # fmt: skip
    assert not frame.loc["F2", "label"]  # outside (as_of, as_of + 12 months]


def test_training_uses_the_family_snapshot_of_each_date(
    household: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Snapshot families: each date's features see only that date's members."""
    _, people = household
    snapshots = pd.DataFrame({
        "as_of_date": pd.to_datetime(["2024-07-01"] * 3 + ["2024-08-01"] * 4),
        "person_key": ["mum", "kid", "baby", "mum", "kid", "baby", "dad"],
        "family_key": ["F1"] * 7,
        "role": ["adult", "child", "child", "adult", "child", "child", "adult"],
    }).astype({"person_key": "string", "family_key": "string", "role": "string"})  # fmt: skip
    rows = [
        {"person_key": "dad", "event_type": "police.domestic_abuse", "event_date": "2024-06-01"}
    ]
    frame = build_training_frame(events_frame(rows), snapshots, people,
                                 [date(2024, 7, 1), date(2024, 8, 1)]).set_index("as_of_date")  # fmt: skip
    # dad only joins the family in the August snapshot: July cannot see his incident
    assert frame.loc[pd.Timestamp("2024-07-01"), "police_da_incidents_12m"] == 0
    assert frame.loc[pd.Timestamp("2024-08-01"), "police_da_incidents_12m"] == 1
    assert frame.loc[pd.Timestamp("2024-08-01"), "fam_adults"] == 2
