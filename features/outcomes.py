"""Outcome labels, the stacked training frame and the time-ordered split.

The label is a recorded action (a child in the family starts a section 47 enquiry or a child
protection plan in the 12 months after the as-of date), not harm itself. Families already open
to children's social care at the as-of date are known to services and are excluded, as are
families containing a person who objected (Art 21) or whose processing is restricted (Art 18).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from features.build import (
    FAMILY_INPUT_COLUMNS,
    as_of_frame,
    build_family_features_many,
    require_columns,
)

OPEN_EPISODE_TYPES: tuple[str, ...] = (
    "social_care.assessment", "social_care.s47_enquiry", "social_care.cin_plan",
    "social_care.cp_plan", "social_care.looked_after",
)  # fmt: skip
OUTCOME_EVENT_TYPES: tuple[str, ...] = ("social_care.s47_enquiry", "social_care.cp_plan")
HORIZON_MONTHS = 12

_MEMBERS = """
members AS (
  SELECT a.as_of, f.family_key::VARCHAR AS family_key, f.person_key::VARCHAR AS person_key
  FROM families f JOIN (SELECT DISTINCT CAST(as_of AS TIMESTAMP) AS as_of FROM as_of_dates) a
    ON (f.valid_from IS NULL OR f.valid_from <= a.as_of)
   AND (f.valid_to IS NULL OR f.valid_to > a.as_of)
  WHERE f.role = 'child'
)"""


def _kinds(types: Iterable[str]) -> str:
    return ", ".join(f"'{t}'" for t in types)


def _child_social_care(
    events: pd.DataFrame, families: pd.DataFrame, as_of_dates: Iterable[date], horizon: int
) -> pd.DataFrame:
    """Per (as_of, family): is a child open to social care, and does one start s47/CP after."""
    require_columns(events, "events", ("person_key", "event_type", "event_date", "end_date"))
    require_columns(families, "families", FAMILY_INPUT_COLUMNS)
    sql = f"""
    WITH {_MEMBERS}
    SELECT m.as_of AS as_of_date, m.family_key,
      coalesce(bool_or(e.event_type IN ({_kinds(OPEN_EPISODE_TYPES)}) AND e.event_date < m.as_of
               AND (e.end_date IS NULL OR e.end_date > m.as_of)), FALSE) AS open_case,
      coalesce(bool_or(e.event_type IN ({_kinds(OUTCOME_EVENT_TYPES)}) AND e.event_date > m.as_of
               AND e.event_date <= m.as_of + INTERVAL {int(horizon)} MONTH), FALSE) AS label
    FROM members m
    LEFT JOIN (SELECT person_key, event_type, event_date, end_date FROM events
               WHERE event_type IN ({_kinds(OPEN_EPISODE_TYPES)})) e
      ON e.person_key = m.person_key
    GROUP BY m.as_of, m.family_key
    """
    con = duckdb.connect()
    try:
        con.register("events", events)
        con.register("families", families)
        con.register("as_of_dates", as_of_frame(as_of_dates))
        out = con.execute(sql).df()
    finally:
        con.close()
    return out.astype(
        {
            "as_of_date": "datetime64[ns]",
            "family_key": "string",
            "open_case": "boolean",
            "label": "boolean",
        }
    )


def open_to_social_care(events: pd.DataFrame, families: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Family keys with a child open to children's social care at ``as_of``.

    Open means an assessment, s47 enquiry, CIN plan, CP plan or looked-after episode started
    before ``as_of`` and not ended by it. Such families are known to services: they are not
    scored, flagged or used for training.
    """
    status = _child_social_care(events, families, [as_of], HORIZON_MONTHS)
    return status.loc[status["open_case"], ["family_key"]].reset_index(drop=True)


def build_training_frame(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    as_of_dates: Sequence[date],
    *,
    excluded_person_keys: Iterable[str] = (),
    extract_date: date | None = None,
    horizon_months: int = HORIZON_MONTHS,
) -> pd.DataFrame:
    """Features at each past as-of date with the outcome that followed.

    Parameters
    ----------
    events, families, people : pandas.DataFrame
        DESIGN tables.
    as_of_dates : sequence of date
        Snapshot dates, typically monthly over one to two years.
    excluded_person_keys : iterable of str
        People who objected or are restricted: every family they were ever a member of is
        dropped from the frame (their data must not train the model).
    extract_date : date, optional
        Date of the data extract; the label is complete only when the outcome window ends on
        or before it. Defaults to the latest event date in ``events``.
    horizon_months : int, default 12
        Length of the outcome window (as_of, as_of + horizon].

    Returns
    -------
    pandas.DataFrame
        ``family_key, as_of_date``, the dictionary features, ``label`` (boolean) and
        ``label_complete`` (boolean). Families open to social care at the as-of date are
        excluded.
    """
    features = build_family_features_many(events, families, people, as_of_dates)
    status = _child_social_care(events, families, as_of_dates, horizon_months)
    frame = features.merge(status, on=["as_of_date", "family_key"], how="left", validate="1:1")
    frame["open_case"] = frame["open_case"].fillna(False)
    frame["label"] = frame["label"].fillna(False)
    frame = frame.loc[~frame["open_case"]].drop(columns="open_case")

    excluded = set(excluded_person_keys)
    if excluded:
        member_keys = families["person_key"].astype("string")
        touched = families.loc[member_keys.isin(excluded), "family_key"].astype("string")
        frame = frame.loc[~frame["family_key"].isin(set(touched))]

    if extract_date is None:
        extract_ts = pd.Timestamp(events["event_date"].max())
    else:
        extract_ts = pd.Timestamp(extract_date)
    window_end = frame["as_of_date"] + pd.DateOffset(months=horizon_months)
    frame["label_complete"] = (window_end <= extract_ts).astype("boolean")
    return frame.reset_index(drop=True)


class SplitError(ValueError):
    """The training frame's as-of dates cannot support an honest time-ordered split."""


@dataclass(frozen=True)
class TimeSplit:
    """Which as-of dates train, calibrate and test the model.

    Training and calibration dates end at least ``embargo_months`` before the test date, so
    every label they use was already known at the test date (no look-ahead across the split).
    """

    train_dates: tuple[pd.Timestamp, ...]
    calibration_dates: tuple[pd.Timestamp, ...]
    test_date: pd.Timestamp
    embargo_months: int

    def frames(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Return the (train, calibration, test) rows of ``frame``."""
        dates = frame["as_of_date"]
        return (
            frame.loc[dates.isin(self.train_dates)],
            frame.loc[dates.isin(self.calibration_dates)],
            frame.loc[dates == self.test_date],
        )


def time_ordered_split(
    training_frame: pd.DataFrame,
    *,
    embargo_months: int = HORIZON_MONTHS,
    calibration_dates: int = 1,
) -> TimeSplit:
    """Train on earlier as-of dates, test on the latest one whose outcome window is complete.

    Parameters
    ----------
    training_frame : pandas.DataFrame
        Output of :func:`build_training_frame`.
    embargo_months : int, default 12
        Gap between the last training/calibration date and the test date. With the default
        (= the outcome window) the model never sees an outcome that happened after the test
        date, as in deployment. Lower it only for short synthetic histories, and say so.
    calibration_dates : int, default 1
        How many of the latest eligible dates are held out to fit the calibrator.
    """
    require_columns(training_frame, "training_frame", ("as_of_date", "label_complete"))
    complete = training_frame.groupby("as_of_date")["label_complete"].all()
    complete_dates = sorted(complete.index[complete.to_numpy(dtype=bool)])
    if not complete_dates:
        raise SplitError("no as-of date has a complete 12-month outcome window; extend the history")
    test_date = pd.Timestamp(complete_dates[-1])
    cutoff = test_date - pd.DateOffset(months=embargo_months)
    earlier = [pd.Timestamp(d) for d in complete_dates if pd.Timestamp(d) <= cutoff]
    if len(earlier) < calibration_dates + 1:
        raise SplitError(
            f"test date {test_date.date()} leaves {len(earlier)} as-of date(s) on or before "
            f"{cutoff.date()} (embargo {embargo_months} months); need at least "
            f"{calibration_dates + 1} for training and calibration: add earlier as-of dates"
        )
    return TimeSplit(
        train_dates=tuple(earlier[:-calibration_dates]),
        calibration_dates=tuple(earlier[-calibration_dates:]),
        test_date=test_date,
        embargo_months=embargo_months,
    )
