"""Point-in-time family features: what the agencies knew about a family before an as-of date.

Every feature is a look-back window (3/6/12/24 months), a trend or a capped recency computed
from events dated strictly before the as-of date, so a family's past can fade: there is no
permanent "ever involved" flag (the ACLU's finding on the Allegheny tool). Computed in one
DuckDB query (FILTER clauses) for any number of as-of dates at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import duckdb
import pandas as pd

from features.dictionary import (
    FEATURE_DICTIONARY,
    FEATURE_NAMES,
    MAX_WINDOW_MONTHS,
    RECENCY_CAP_DAYS,
)
from features.point_in_time import as_of_frame, is_snapshot, members_sql

# Event types that feed some feature; others (e.g. benefit receipt) are dropped before the join.
USED_EVENT_TYPES: tuple[str, ...] = (
    "education.attendance", "education.suspension", "education.permanent_exclusion",
    "education.missing_education", "housing.arrears_notice", "housing.notice_seeking_possession",
    "housing.eviction", "housing.homeless_application", "housing.temporary_accommodation",
    "housing.asb_complaint", "police.domestic_abuse", "police.asb", "police.missing_episode",
    "police.absent_episode", "police.exploitation_concern", "police.violence",
    "police.sexual_offence", "police.drugs", "police.theft", "police.criminal_damage",
    "social_care.referral", "social_care.assessment", "social_care.s47_enquiry",
    "social_care.cin_plan", "social_care.cp_plan", "social_care.looked_after",
    "revenues_benefits.council_tax_arrears", "revenues_benefits.discretionary_housing_payment",
)  # fmt: skip

EVENT_INPUT_COLUMNS = (
    "record_pseudo", "person_key", "event_type", "event_date", "end_date", "dash_risk",
    "amount_gbp", "sessions_possible", "sessions_missed_authorised",
    "sessions_missed_unauthorised", "sessions_excluded", "group_pseudo",
)  # fmt: skip
FAMILY_INPUT_COLUMNS = ("person_key", "family_key", "role", "valid_from", "valid_to")
PEOPLE_INPUT_COLUMNS = ("person_key", "birth_month")


class FeatureInputError(ValueError):
    """An input table lacks a column that the feature build needs."""


def require_columns(frame: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    """Raise :class:`FeatureInputError` naming the table and every missing column."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FeatureInputError(f"table {table} lacks column(s) {missing} (see docs/DESIGN.md)")


def require_families(families: pd.DataFrame) -> None:
    """Check ``families`` has the columns of either shape (spells or per-date snapshots)."""
    if is_snapshot(families):
        require_columns(families, "families", ("as_of_date", "person_key", "family_key", "role"))
    else:
        require_columns(families, "families", FAMILY_INPUT_COLUMNS)


def _w(months: int) -> str:
    return f"event_date >= as_of - INTERVAL {months} MONTH"


def _between(older: int, newer: int) -> str:
    return f"{_w(older)} AND event_date < as_of - INTERVAL {newer} MONTH"


def _n(types: Sequence[str], cond: str) -> str:
    kinds = ", ".join(f"'{t}'" for t in types)
    return f"count(*) FILTER (WHERE event_type IN ({kinds}) AND {cond})"


def _recency(types: Sequence[str]) -> str:
    kinds = ", ".join(f"'{t}'" for t in types)
    return f"min(age_days) FILTER (WHERE event_type IN ({kinds}))"


_DA = ("police.domestic_abuse",)
_NOTICES = ("housing.arrears_notice", "housing.notice_seeking_possession")
_POLICE = tuple(t for t in USED_EVENT_TYPES if t.startswith("police."))
_SC_ALL = tuple(t for t in USED_EVENT_TYPES if t.startswith("social_care."))
_CHILD = "member_role = 'child'"

# Aggregates over ``ev`` (events of members before as_of, within the longest window); each states
# its own window; NULL -> 0 later, except recency (-> cap).
_EVENT_AGGREGATES: dict[str, str] = {
    "edu_suspensions_12m": _n(("education.suspension",), f"{_w(12)} AND {_CHILD}"),
    "edu_sessions_excluded_12m": "coalesce(sum(sessions_excluded) FILTER (WHERE event_type IN "
    f"('education.suspension', 'education.permanent_exclusion') AND {_w(12)} AND {_CHILD}), 0)",
    "edu_permanent_exclusions_24m": _n(
        ("education.permanent_exclusion",), f"{_w(24)} AND {_CHILD}"
    ),
    "edu_missing_education_12m": _n(("education.missing_education",), f"{_w(12)} AND {_CHILD}"),
    "housing_arrears_notices_12m": _n(("housing.arrears_notice",), _w(12)),
    "housing_arrears_gbp_max_12m": "coalesce(max(amount_gbp) FILTER (WHERE event_type = "
    f"'housing.arrears_notice' AND {_w(12)}), 0)",
    "housing_possession_notices_12m": _n(("housing.notice_seeking_possession",), _w(12)),
    "housing_evictions_24m": _n(("housing.eviction",), _w(24)),
    "housing_homeless_applications_12m": _n(("housing.homeless_application",), _w(12)),
    "housing_temporary_accommodation_12m": _n(("housing.temporary_accommodation",), _w(12)),
    "housing_asb_complaints_12m": _n(("housing.asb_complaint",), _w(12)),
    "housing_notices_change_6m": f"{_n(_NOTICES, _w(6))} - {_n(_NOTICES, _between(12, 6))}",
    "housing_days_since_last_notice": _recency((*_NOTICES, "housing.eviction")),
    "sc_referrals_12m": _n(("social_care.referral",), _w(12)),
    "sc_referrals_24m": _n(("social_care.referral",), _w(24)),
    "sc_assessments_24m": _n(("social_care.assessment",), _w(24)),
    "sc_closed_episodes_24m": _n(_SC_ALL, f"{_w(24)} AND end_date < as_of"),
    "sc_days_since_last_contact": _recency(_SC_ALL),
    "sc_children_episodes_24_36m": _n(_SC_ALL, f"{_between(36, 24)} AND {_CHILD}"),
    "rb_council_tax_arrears_12m": _n(("revenues_benefits.council_tax_arrears",), _w(12)),
    "rb_council_tax_arrears_gbp_12m": "coalesce(sum(amount_gbp) FILTER (WHERE event_type = "
    f"'revenues_benefits.council_tax_arrears' AND {_w(12)}), 0)",
    "rb_discretionary_housing_payments_12m": _n(
        ("revenues_benefits.discretionary_housing_payment",), _w(12)
    ),
}
# Police aggregates run over ``incidents``: one row per (as-of, family, incident, type), so an
# incident involving two family members counts once (a DISTINCT aggregate per feature was
# 5x slower in DuckDB).
_POLICE_AGGREGATES: dict[str, str] = {
    "police_da_incidents_3m": _n(_DA, _w(3)),
    "police_da_incidents_12m": _n(_DA, _w(12)),
    "police_da_high_risk_12m": _n(_DA, f"{_w(12)} AND high"),
    "police_da_change_6m": f"{_n(_DA, _w(6))} - {_n(_DA, _between(12, 6))}",
    "police_days_since_last_da": _recency(_DA),
    "police_asb_incidents_12m": _n(("police.asb",), _w(12)),
    "police_missing_episodes_12m": _n(("police.missing_episode", "police.absent_episode"), _w(12)),
    "police_exploitation_concerns_12m": _n(("police.exploitation_concern",), _w(12)),
    "police_violence_incidents_12m": _n(("police.violence", "police.sexual_offence"), _w(12)),
    "police_drugs_incidents_12m": _n(("police.drugs",), _w(12)),
    "police_incidents_12m": _n(_POLICE, _w(12)),
}
_RECENCY = (
    "housing_days_since_last_notice",
    "police_days_since_last_da",
    "sc_days_since_last_contact",
)
_ATTENDANCE = (
    "edu_attendance_rate_lowest_12m",
    "edu_persistent_absence_children_12m",
    "edu_attendance_change_6m",
)
_COMPOSITION = ("fam_children", "fam_adults", "fam_youngest_child_age", "fam_children_under_17")

_TEMPLATE = """
WITH members AS ({members}
),
ev AS (
  SELECT m.as_of, m.family_key, m.person_key, m.role AS member_role, e.event_type, e.event_date,
         e.end_date, e.dash_risk, e.amount_gbp, e.sessions_excluded,
         e.sessions_possible,
         coalesce(e.sessions_missed_authorised, 0) + coalesce(e.sessions_missed_unauthorised, 0)
           AS sessions_missed,
         coalesce(e.group_pseudo, e.record_pseudo) AS incident,
         datediff('day', e.event_date::DATE, m.as_of::DATE) AS age_days,
         coalesce(e.end_date, e.event_date) AS term_end
  FROM members m JOIN used_events e ON e.person_key = m.person_key
  WHERE e.event_date < m.as_of AND e.event_date >= m.as_of - INTERVAL {lookback} MONTH
),
agg AS (SELECT as_of, family_key, {aggregates} FROM ev
        WHERE NOT starts_with(event_type, 'police.') GROUP BY as_of, family_key),
incidents AS (
  SELECT as_of, family_key, incident, event_type, max(event_date) AS event_date,
         min(age_days) AS age_days, bool_or(coalesce(dash_risk = 'high', FALSE)) AS high
  FROM ev WHERE starts_with(event_type, 'police.')
  GROUP BY as_of, family_key, incident, event_type
),
pol AS (SELECT as_of, family_key, {police} FROM incidents GROUP BY as_of, family_key),
att_child AS (
  SELECT as_of, family_key, person_key,
    sum(sessions_possible) FILTER (WHERE term_end >= as_of - INTERVAL 12 MONTH) AS p12,
    sum(sessions_missed) FILTER (WHERE term_end >= as_of - INTERVAL 12 MONTH) AS m12,
    sum(sessions_possible) FILTER (WHERE term_end >= as_of - INTERVAL 6 MONTH) AS p6,
    sum(sessions_missed) FILTER (WHERE term_end >= as_of - INTERVAL 6 MONTH) AS m6,
    sum(sessions_possible) FILTER (WHERE term_end >= as_of - INTERVAL 12 MONTH
                                     AND term_end < as_of - INTERVAL 6 MONTH) AS pp6,
    sum(sessions_missed) FILTER (WHERE term_end >= as_of - INTERVAL 12 MONTH
                                   AND term_end < as_of - INTERVAL 6 MONTH) AS mp6
  FROM ev
  WHERE event_type = 'education.attendance' AND member_role = 'child' AND term_end < as_of
    AND sessions_possible > 0
  GROUP BY as_of, family_key, person_key
),
att AS (
  SELECT as_of, family_key,
    min(1 - m12 / p12) FILTER (WHERE p12 > 0) AS edu_attendance_rate_lowest_12m,
    count(*) FILTER (WHERE p12 > 0 AND 1 - m12 / p12 < 0.9) AS edu_persistent_absence_children_12m,
    (1 - sum(m6) / nullif(sum(p6), 0)) - (1 - sum(mp6) / nullif(sum(pp6), 0))
      AS edu_attendance_change_6m
  FROM att_child GROUP BY as_of, family_key
),
comp AS (
  SELECT m.as_of, m.family_key,
    count(*) FILTER (WHERE m.role = 'child') AS fam_children,
    count(*) FILTER (WHERE m.role = 'adult') AS fam_adults,
    min(floor(datediff('day', p.birth_month::DATE, m.as_of::DATE) / 365.25))
      FILTER (WHERE m.role = 'child' AND p.birth_month < m.as_of) AS fam_youngest_child_age,
    count(*) FILTER (WHERE m.role = 'child'
                     AND p.birth_month > m.as_of - INTERVAL 17 YEAR) AS fam_children_under_17
  FROM members m LEFT JOIN people p ON p.person_key = m.person_key
  GROUP BY m.as_of, m.family_key
)
SELECT comp.family_key, comp.as_of AS as_of_date, {select}
FROM comp
LEFT JOIN agg ON agg.as_of = comp.as_of AND agg.family_key = comp.family_key
LEFT JOIN pol ON pol.as_of = comp.as_of AND pol.family_key = comp.family_key
LEFT JOIN att ON att.as_of = comp.as_of AND att.family_key = comp.family_key
WHERE {where}
ORDER BY as_of_date, family_key
"""


def _final_select() -> str:
    cols = []
    for name in FEATURE_NAMES:
        table = "pol" if name in _POLICE_AGGREGATES else "agg"
        if name in _RECENCY:
            cols.append(
                f"least(coalesce({table}.{name}, {RECENCY_CAP_DAYS}), {RECENCY_CAP_DAYS}) AS {name}"
            )
        elif name in _EVENT_AGGREGATES or name in _POLICE_AGGREGATES:
            cols.append(f"coalesce({table}.{name}, 0) AS {name}")
        elif name == "edu_persistent_absence_children_12m":
            cols.append(f"coalesce(att.{name}, 0) AS {name}")
        elif name in _ATTENDANCE:
            cols.append(f"att.{name}")
        elif name in _COMPOSITION:
            cols.append(f"comp.{name}")
        else:  # pragma: no cover - guarded by the test that dictionary == built columns
            raise AssertionError(f"feature {name} has no SQL definition in features/build.py")
    return ", ".join(cols)


def build_family_features_many(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    as_of_dates: Iterable[date],
    *,
    children_only: bool = True,
) -> pd.DataFrame:
    """Features for every family current at each of ``as_of_dates``, in one pass.

    Parameters
    ----------
    events, families, people : pandas.DataFrame
        Tables ``events``, ``families`` and ``people`` of docs/DESIGN.md. ``families`` may be
        spells or per-date snapshots (see ``features.point_in_time``).
    as_of_dates : iterable of date
        Dates at which to take the snapshot; only events dated strictly before each are used.
    children_only : bool, default True
        Keep only families with at least one child at the as-of date: the tool is about
        children's safeguarding, so scoring childless households would be processing beyond need.

    Returns
    -------
    pandas.DataFrame
        ``family_key, as_of_date`` then one column per :data:`FEATURE_NAMES` (counts Int64,
        rates and amounts Float64), one row per (as-of date, family).
    """
    require_columns(events, "events", EVENT_INPUT_COLUMNS)
    require_families(families)
    require_columns(people, "people", PEOPLE_INPUT_COLUMNS)
    aggregates = ", ".join(f"{sql} AS {name}" for name, sql in _EVENT_AGGREGATES.items())
    police = ", ".join(f"{sql} AS {name}" for name, sql in _POLICE_AGGREGATES.items())
    sql = _TEMPLATE.format(
        aggregates=aggregates,
        police=police,
        select=_final_select(),
        where="comp.fam_children >= 1" if children_only else "TRUE",
        members=members_sql(snapshot=is_snapshot(families)),
        lookback=MAX_WINDOW_MONTHS,
    )
    kinds = ", ".join(f"'{t}'" for t in USED_EVENT_TYPES)
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        con.register("events_in", events)
        con.register("families", families)
        con.register("people", people)
        con.register("as_of_dates", as_of_frame(as_of_dates))
        con.execute(
            f"CREATE TEMP VIEW used_events AS SELECT * FROM events_in WHERE event_type IN ({kinds})"
        )
        frame = con.execute(sql).df()
    finally:
        con.close()
    return _typed(frame)


def build_family_features(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    as_of: date,
    *,
    children_only: bool = True,
) -> pd.DataFrame:
    """Features for every family current at ``as_of`` (see :func:`build_family_features_many`)."""
    return build_family_features_many(
        events, families, people, [as_of], children_only=children_only
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    dtypes: dict[str, str] = {"family_key": "string", "as_of_date": "datetime64[ns]"}
    for spec in FEATURE_DICTIONARY:
        dtypes[spec.name] = "Float64" if spec.unit in ("rate", "gbp") else "Int64"
    return frame.astype(dtypes)[list(dtypes)].reset_index(drop=True)
