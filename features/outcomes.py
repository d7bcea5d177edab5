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

import pandas as pd

from safeguard.features.build import build_family_features_many, require_columns, require_families
from safeguard.features.engines import DuckDBEngine, FeatureEngine
from safeguard.features.point_in_time import as_of_frame, is_snapshot, members_sql

OPEN_EPISODE_TYPES: tuple[str, ...] = (
    "social_care.assessment", "social_care.s47_enquiry", "social_care.cin_plan",
    "social_care.cp_plan", "social_care.looked_after",
)  # fmt: skip
OUTCOME_EVENT_TYPES: tuple[str, ...] = ("social_care.s47_enquiry", "social_care.cp_plan")
HORIZON_MONTHS = 12

#: Babies born this long before an as-of date may not yet appear in any record by then; they
#: and babies born in the outcome window count as the family's children for its label.
NEWBORN_LOOKBACK_MONTHS = 3
#: A pre-birth enquiry or plan can start up to a pregnancy before the birth: babies born this
#: long after the window still count when their (pre-birth) episode started inside it.
PREGNANCY_MONTHS = 9


def _kinds(types: Iterable[str]) -> str:
    return ", ".join(f"'{t}'" for t in types)


def _child_social_care(
    events: pd.DataFrame,
    families: pd.DataFrame,
    as_of_dates: Iterable[date],
    horizon: int,
    *,
    people: pd.DataFrame | None = None,
    outcome_families: pd.DataFrame | None = None,
    engine: FeatureEngine | None = None,
) -> pd.DataFrame:
    """Per (as_of, family): is a child open to social care, and does one start s47/CP after.

    The children are those in the family at the as-of date and, when ``people`` and
    ``outcome_families`` (spells formed later, e.g. at the extract) are given, babies who join
    the same family around or after the as-of date (born at most ``NEWBORN_LOOKBACK_MONTHS``
    before it, and up to ``PREGNANCY_MONTHS`` after the window). Their episodes count when they
    start in the window, including pre-birth enquiries and plans dated before the birth.
    """
    require_columns(events, "events", ("person_key", "event_type", "event_date", "end_date"))
    require_families(families)
    newborns = people is not None and outcome_families is not None
    later = (
        f"""
    , newborns AS (
      SELECT DISTINCT a.as_of, o.family_key::VARCHAR AS family_key, o.person_key::VARCHAR AS person_key
      FROM outcome_families o
      JOIN (SELECT DISTINCT CAST(as_of AS TIMESTAMP) AS as_of FROM as_of_dates) a
        ON o.role = 'child'
       AND o.valid_from > a.as_of - INTERVAL {NEWBORN_LOOKBACK_MONTHS} MONTH
       AND o.valid_from <= a.as_of + INTERVAL {int(horizon) + PREGNANCY_MONTHS} MONTH
      JOIN people p ON p.person_key::VARCHAR = o.person_key::VARCHAR
       AND p.birth_month >= a.as_of - INTERVAL {NEWBORN_LOOKBACK_MONTHS} MONTH
       AND p.birth_month <= a.as_of + INTERVAL {int(horizon) + PREGNANCY_MONTHS} MONTH
      WHERE (a.as_of, o.family_key::VARCHAR) IN (SELECT as_of, family_key FROM members)
    )"""
        if newborns
        else ""
    )
    children = "SELECT as_of, family_key, person_key FROM members WHERE role = 'child'" + (
        " UNION SELECT as_of, family_key, person_key FROM newborns" if newborns else ""
    )
    sql = f"""
    WITH members AS ({members_sql(snapshot=is_snapshot(families))}
    ){later},
    children AS ({children})
    SELECT m.as_of AS as_of_date, m.family_key,
      coalesce(bool_or(e.event_type IN ({_kinds(OPEN_EPISODE_TYPES)}) AND e.event_date < m.as_of
               AND (e.end_date IS NULL OR e.end_date > m.as_of)), FALSE) AS open_case,
      coalesce(bool_or(e.event_type IN ({_kinds(OUTCOME_EVENT_TYPES)}) AND e.event_date > m.as_of
               AND e.event_date <= m.as_of + INTERVAL {int(horizon)} MONTH), FALSE) AS label
    FROM children m
    LEFT JOIN (SELECT person_key::VARCHAR AS person_key, event_type, event_date, end_date FROM events
               WHERE event_type IN ({_kinds(OPEN_EPISODE_TYPES)})) e
      ON e.person_key = m.person_key
    GROUP BY m.as_of, m.family_key
    """
    tables = {
        "events": events[["person_key", "event_type", "event_date", "end_date"]],
        "families": families,
        "as_of_dates": as_of_frame(as_of_dates),
    }
    if newborns:
        tables["people"] = people[["person_key", "birth_month"]]  # type: ignore[index]
        tables["outcome_families"] = outcome_families[  # type: ignore[index]
            ["person_key", "family_key", "role", "valid_from", "valid_to"]
        ]
    out = (engine or DuckDBEngine()).run(sql, tables)
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


def outcome_labels(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    as_of_dates: Sequence[date],
    *,
    extract_date: date,
    horizon_months: int = HORIZON_MONTHS,
) -> pd.DataFrame:
    """The label of every family with children at each date, as the training frame defines it.

    For monitoring: what happened after each past scoring date (the same label the model
    was trained and judged on, babies born in the window included), and whether the whole
    window lies before ``extract_date`` (``label_complete``; an incomplete window can only
    gain outcomes later).

    Returns
    -------
    pandas.DataFrame
        ``as_of_date, family_key, open_case, label, label_complete``.
    """
    status = _child_social_care(
        events, families, as_of_dates, horizon_months, people=people, outcome_families=families
    )
    window_end = status["as_of_date"] + pd.DateOffset(months=horizon_months)
    status["label_complete"] = (window_end <= pd.Timestamp(extract_date)).astype("boolean")
    return status


def build_training_frame(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    as_of_dates: Sequence[date],
    *,
    excluded_person_keys: Iterable[str] = (),
    extract_date: date | None = None,
    horizon_months: int = HORIZON_MONTHS,
    outcome_families: pd.DataFrame | None = None,
    engine: FeatureEngine | None = None,
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
    outcome_families : pandas.DataFrame, optional
        Family spells formed later (at the extract). With them the label also counts babies
        who join the family around or after the as-of date (pre-birth and newborn enquiries
        and plans); the features still use ``families`` only.
    engine : FeatureEngine, optional
        Where the feature and label queries run (``safeguard.features.engines``); DuckDB by default.

    Returns
    -------
    pandas.DataFrame
        ``family_key, as_of_date``, the dictionary features, ``label`` (boolean) and
        ``label_complete`` (boolean). Families open to social care at the as-of date are
        excluded.
    """
    features = build_family_features_many(events, families, people, as_of_dates, engine=engine)
    status = _child_social_care(
        events, families, as_of_dates, horizon_months,
        people=people if outcome_families is not None else None, outcome_families=outcome_families,
        engine=engine,
    )  # fmt: skip
    frame = features.merge(status, on=["as_of_date", "family_key"], how="left", validate="1:1")
    frame["open_case"] = frame["open_case"].fillna(False)
    frame["label"] = frame["label"].fillna(False)
    frame = frame.loc[~frame["open_case"]].drop(columns="open_case")

    excluded = set(excluded_person_keys)
    if excluded:
        touched: set[str] = set()
        for table in (families, outcome_families):
            if table is not None:
                member_keys = table["person_key"].astype("string")
                touched |= set(table.loc[member_keys.isin(excluded), "family_key"].astype(str))
        frame = frame.loc[~frame["family_key"].isin(touched)]

    if extract_date is None:
        extract_ts = pd.Timestamp(events["event_date"].max())
    else:
        extract_ts = pd.Timestamp(extract_date)
    window_end = frame["as_of_date"] + pd.DateOffset(months=horizon_months)
    frame["label_complete"] = (window_end <= extract_ts).astype("boolean")
    return frame.reset_index(drop=True)


def monthly_as_of_dates(
    reference: date, first_months_back: int, last_months_back: int
) -> list[date]:
    """First-of-month dates from ``first_months_back`` to ``last_months_back`` before ``reference``."""
    start = pd.Timestamp(reference).replace(day=1)
    return [
        (start - pd.DateOffset(months=m)).date()
        for m in range(first_months_back, last_months_back - 1, -1)
    ]


class SplitError(ValueError):
    """The training frame's as-of dates cannot support an honest time-ordered split."""


@dataclass(frozen=True)
class TimeSplit:
    """Which as-of dates train, calibrate and test the model.

    Training and calibration dates end at least ``embargo_months`` before the first test date,
    so every label they use was already known at every test date (no look-ahead across the
    split). Several monthly test dates are pooled: one month holds too few outcomes to
    judge a group, and the evaluation resamples families, not rows, to keep the intervals
    honest about the overlap of their outcome windows.
    """

    train_dates: tuple[pd.Timestamp, ...]
    calibration_dates: tuple[pd.Timestamp, ...]
    test_dates: tuple[pd.Timestamp, ...]
    embargo_months: int

    @property
    def test_date(self) -> pd.Timestamp:
        """The latest test date (the one closest to deployment)."""
        return self.test_dates[-1]

    def frames(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Return the (train, calibration, test) rows of ``frame``."""
        dates = frame["as_of_date"]
        return (
            frame.loc[dates.isin(self.train_dates)],
            frame.loc[dates.isin(self.calibration_dates)],
            frame.loc[dates.isin(self.test_dates)],
        )


def time_ordered_split(
    training_frame: pd.DataFrame,
    *,
    embargo_months: int = HORIZON_MONTHS,
    calibration_dates: int = 3,
    test_dates: int = 6,
    min_train_dates: int = 4,
) -> TimeSplit:
    """Train on earlier as-of dates, test on the latest ones whose outcome window is complete.

    Parameters
    ----------
    training_frame : pandas.DataFrame
        Output of :func:`build_training_frame`.
    embargo_months : int, default 12
        Gap between the last training/calibration date and the first test date. With the
        default (= the outcome window) the model never sees an outcome that happened after a
        test date, as in deployment. Lower it only for short synthetic histories, and say so.
    calibration_dates : int, default 3
        How many of the latest eligible dates are held out to fit the calibrator (three
        months give the isotonic calibrator a few hundred outcomes at one council's size).
    test_dates : int, default 6
        How many of the latest complete dates are pooled for testing. Fewer are used when the
        history is short, but never so many that fewer than ``min_train_dates`` remain.
    min_train_dates : int, default 4
    """
    require_columns(training_frame, "training_frame", ("as_of_date", "label_complete"))
    complete = training_frame.groupby("as_of_date")["label_complete"].all()
    complete_dates = [
        pd.Timestamp(d) for d in sorted(complete.index[complete.to_numpy(dtype=bool)])
    ]
    if not complete_dates:
        raise SplitError("no as-of date has a complete 12-month outcome window; extend the history")
    need = calibration_dates + min_train_dates
    for n_test in range(min(test_dates, len(complete_dates)), 0, -1):
        tests = complete_dates[-n_test:]
        cutoff = tests[0] - pd.DateOffset(months=embargo_months)
        earlier = [d for d in complete_dates if d <= cutoff]
        if len(earlier) >= need:
            return TimeSplit(
                train_dates=tuple(earlier[:-calibration_dates]),
                calibration_dates=tuple(earlier[-calibration_dates:]),
                test_dates=tuple(tests),
                embargo_months=embargo_months,
            )
    last = complete_dates[-1]
    raise SplitError(
        f"the latest test date {last.date()} leaves fewer than {need} as-of date(s) "
        f"{embargo_months} months or more before it ({min_train_dates} to train, "
        f"{calibration_dates} to calibrate): add earlier as-of dates"
    )
