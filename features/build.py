"""Point-in-time family features: what the agencies knew about a family before an as-of date.

Every feature is a look-back window (3/6/12/24 months), a trend or a capped recency computed
from events dated strictly before the as-of date, so a family's past can fade: there is no
permanent "ever involved" flag (the ACLU's finding on the Allegheny tool). Computed in one
DuckDB query (FILTER clauses) for any number of as-of dates at once, generated from each
feature's :class:`safeguard.features.dictionary.Aggregate`: adding an event feature is one dictionary
entry (the SQL here and the evidence rule in ``safeguard.flags.reasons`` follow from it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from safeguard.features.dictionary import (
    FEATURE_DICTIONARY,
    MAX_WINDOW_MONTHS,
    RECENCY_CAP_DAYS,
    USED_EVENT_TYPES,
    Aggregate,
    FeatureSpec,
)
from safeguard.features.engines import DuckDBEngine, FeatureEngine
from safeguard.features.point_in_time import as_of_frame, is_snapshot, members_sql

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


def _aggregate(spec: FeatureSpec) -> Aggregate:
    if spec.aggregate is None:
        raise ValueError(f"feature {spec.name} has no aggregate (features/dictionary.py)")
    return spec.aggregate


def _filter(agg: Aggregate, window: str) -> str:
    kinds = ", ".join(f"'{t}'" for t in agg.event_types)
    parts = [f"event_type IN ({kinds})", window]
    if agg.children_only:
        parts.append("member_role = 'child'")
    if agg.condition == "high_risk":
        parts.append("high" if agg.police else "coalesce(dash_risk = 'high', FALSE)")
    elif agg.condition == "closed":
        parts.append("end_date < as_of")
    return " AND ".join(parts)


def _window(spec: FeatureSpec) -> str:
    agg = _aggregate(spec)
    months = spec.window_months or MAX_WINDOW_MONTHS
    return _between(months, agg.older_than_months) if agg.older_than_months else _w(months)


def aggregate_sql(spec: FeatureSpec) -> str:
    """The SQL aggregate of an event feature over ``ev`` (or ``incidents`` for police ones).

    NULL when nothing was counted; :func:`final_sql` maps it to 0 (or the recency cap).
    """
    agg = _aggregate(spec)
    if agg.kind == "count":
        return f"count(*) FILTER (WHERE {_filter(agg, _window(spec))})"
    if agg.kind in ("sum", "max"):
        return f"{agg.kind}({agg.column}) FILTER (WHERE {_filter(agg, _window(spec))})"
    if agg.kind == "change":
        months = spec.window_months or MAX_WINDOW_MONTHS
        half = months // 2
        recent = f"count(*) FILTER (WHERE {_filter(agg, _w(half))})"
        before = f"count(*) FILTER (WHERE {_filter(agg, _between(months, half))})"
        return f"{recent} - {before}"
    if agg.kind == "recency":  # capped later; events older than the cap make no difference
        kinds = ", ".join(f"'{t}'" for t in agg.event_types)
        return f"min(age_days) FILTER (WHERE event_type IN ({kinds}))"
    raise ValueError(f"feature {spec.name}: aggregate {agg.kind!r} is not an event aggregate")


_EVENT_KINDS = ("count", "sum", "max", "change", "recency")
# Columns of the fixed attendance (att) and composition (comp) CTEs, by aggregate kind.
_FIXED_COLUMNS = {
    "attendance_lowest": "att.att_lowest",
    "attendance_persistent": "coalesce(att.att_persistent, 0)",
    "attendance_change": "att.att_change",
    "children": "comp.children",
    "adults": "comp.adults",
    "youngest_child_age": "comp.youngest_child_age",
    "children_under_17": "comp.children_under_17",
}


def final_sql(spec: FeatureSpec) -> str:
    """The feature's column in the final SELECT (defaults applied)."""
    agg = _aggregate(spec)
    if agg.kind in _FIXED_COLUMNS:
        return f"{_FIXED_COLUMNS[agg.kind]} AS {spec.name}"
    table = "pol" if agg.police else "agg"
    if agg.kind == "recency":
        cap = RECENCY_CAP_DAYS
        return f"least(coalesce({table}.{spec.name}, {cap}), {cap}) AS {spec.name}"
    return f"coalesce({table}.{spec.name}, 0) AS {spec.name}"


_TEMPLATE = """
WITH used_events AS (SELECT * FROM events_in WHERE event_type IN ({kinds})),
members AS ({members}
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
    min(1 - m12 / p12) FILTER (WHERE p12 > 0) AS att_lowest,
    count(*) FILTER (WHERE p12 > 0 AND 1 - m12 / p12 < 0.9) AS att_persistent,
    (1 - sum(m6) / nullif(sum(p6), 0)) - (1 - sum(mp6) / nullif(sum(pp6), 0)) AS att_change
  FROM att_child GROUP BY as_of, family_key
),
comp AS (
  SELECT m.as_of, m.family_key,
    count(*) FILTER (WHERE m.role = 'child') AS children,
    count(*) FILTER (WHERE m.role = 'adult') AS adults,
    min(floor(datediff('day', p.birth_month::DATE, m.as_of::DATE) / 365.25))
      FILTER (WHERE m.role = 'child' AND p.birth_month < m.as_of) AS youngest_child_age,
    count(*) FILTER (WHERE m.role = 'child'
                     AND p.birth_month > m.as_of - INTERVAL 17 YEAR) AS children_under_17
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


def feature_sql(*, children_only: bool = True, snapshot: bool = False) -> str:
    """The whole feature query, generated from the dictionary's aggregates.

    Reads the tables ``events_in`` (events; only :data:`USED_EVENT_TYPES` are used), ``families``,
    ``people`` and ``as_of_dates`` (one column ``as_of``); ``snapshot`` when ``families`` holds
    per-date snapshots. DuckDB dialect.
    """
    event = [s for s in FEATURE_DICTIONARY if _aggregate(s).kind in _EVENT_KINDS]
    aggregates = ", ".join(
        f"{aggregate_sql(s)} AS {s.name}" for s in event if not _aggregate(s).police
    )
    police = ", ".join(f"{aggregate_sql(s)} AS {s.name}" for s in event if _aggregate(s).police)
    return _TEMPLATE.format(
        aggregates=aggregates,
        police=police,
        select=", ".join(final_sql(s) for s in FEATURE_DICTIONARY),
        where="comp.children >= 1" if children_only else "TRUE",
        members=members_sql(snapshot=snapshot),
        lookback=MAX_WINDOW_MONTHS,
        kinds=", ".join(f"'{t}'" for t in USED_EVENT_TYPES),
    )


def build_family_features_many(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    as_of_dates: Iterable[date],
    *,
    children_only: bool = True,
    engine: FeatureEngine | None = None,
) -> pd.DataFrame:
    """Features for every family current at each of ``as_of_dates``, in one pass.

    Parameters
    ----------
    events, families, people : pandas.DataFrame
        Tables ``events``, ``families`` and ``people`` of docs/DESIGN.md. ``families`` may be
        spells or per-date snapshots (see ``safeguard.features.point_in_time``).
    as_of_dates : iterable of date
        Dates at which to take the snapshot; only events dated strictly before each are used.
    children_only : bool, default True
        Keep only families with at least one child at the as-of date: the tool is about
        children's safeguarding, so scoring childless households would be processing beyond need.
    engine : FeatureEngine, optional
        Where the query runs (``safeguard.features.engines``); in-process DuckDB by default.

    Returns
    -------
    pandas.DataFrame
        ``family_key, as_of_date`` then one column per :data:`FEATURE_NAMES` (counts Int64,
        rates and amounts Float64), one row per (as-of date, family).
    """
    require_columns(events, "events", EVENT_INPUT_COLUMNS)
    require_families(families)
    require_columns(people, "people", PEOPLE_INPUT_COLUMNS)
    sql = feature_sql(children_only=children_only, snapshot=is_snapshot(families))
    tables = {
        "events_in": events[list(EVENT_INPUT_COLUMNS)],
        "families": families,
        "people": people[list(PEOPLE_INPUT_COLUMNS)],
        "as_of_dates": as_of_frame(as_of_dates),
    }
    frame = (engine or DuckDBEngine()).run(sql, tables)
    return _typed(frame)


def build_family_features(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    as_of: date,
    *,
    children_only: bool = True,
    engine: FeatureEngine | None = None,
) -> pd.DataFrame:
    """Features for every family current at ``as_of`` (see :func:`build_family_features_many`)."""
    return build_family_features_many(
        events, families, people, [as_of], children_only=children_only, engine=engine
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    dtypes: dict[str, str] = {"family_key": "string", "as_of_date": "datetime64[ns]"}
    for spec in FEATURE_DICTIONARY:
        dtypes[spec.name] = "Float64" if spec.unit in ("rate", "gbp") else "Int64"
    return frame.astype(dtypes)[list(dtypes)].reset_index(drop=True)
