"""Outcome labels, open-case and objector exclusion, completeness and the time-ordered split."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from feature_tables import AS_OF, events_frame

from features.outcomes import (
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


def test_time_ordered_split_respects_embargo() -> None:
    dates = [f"2022-{m:02d}-01" for m in range(1, 13)] + [f"2023-{m:02d}-01" for m in range(1, 13)]
    split = time_ordered_split(_stack(dates, "2024-09-15"), calibration_dates=2)
    assert split.test_date == pd.Timestamp("2023-09-01")  # latest with a complete window
    assert split.calibration_dates == (pd.Timestamp("2022-08-01"), pd.Timestamp("2022-09-01"))
    assert max(split.train_dates) == pd.Timestamp("2022-07-01")
    assert min(split.train_dates) == pd.Timestamp("2022-01-01")
    train, calib, test = split.frames(_stack(dates, "2024-09-15"))
    assert (len(train), len(calib), len(test)) == (7, 2, 1)


def test_time_ordered_split_refuses_short_history() -> None:
    with pytest.raises(SplitError, match="add earlier as-of dates"):
        time_ordered_split(_stack(["2023-01-01", "2023-06-01"], "2024-06-01"))
    with pytest.raises(SplitError, match="no as-of date has a complete"):
        time_ordered_split(_stack(["2023-01-01"], "2023-06-01"))
