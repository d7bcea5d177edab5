"""What was known on a date: family membership at a date and facts recorded before it.

One module for the two point-in-time questions every stage asks, so that features, labels,
exclusions, the fairness audit's group attributes and explanations cannot disagree:

* **Who is in this family on this date.** ``families`` comes in two shapes. Spells
  (``valid_from``, ``valid_to``: half-open, missing = open) are formed once, as of the run's
  date. Snapshots carry an ``as_of_date`` column: families formed separately as of each
  training date from the records known then (``safeguard.linkage.families.form_families_at``), so a
  training row never sees a household that only later records revealed.
* **What was recorded by this date.** A fact dated on or after the as-of date does not exist
  at it: the same cut as the features (events strictly before the as-of date).
* **Where a family lives on this date.** The postcode district of the family's latest located
  event before the date; ties on the date go to the highest district (one rule, so routing
  and the fairness audit's deprivation quintile cannot disagree, and reruns agree). Never to a
  pseudonym: those are keyed, and another key would then move a family to another district.

``linkage/`` imports nothing of ours, so ``safeguard.linkage.families.form_families_at`` and
``safeguard.linkage.quality`` state the same half-open spell rule inline; a test checks they agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import duckdb
import pandas as pd

MEMBER_COLUMNS = ("as_of_date", "family_key", "person_key", "role")
SPELL_COLUMNS = ("person_key", "family_key", "role", "valid_from", "valid_to")


def is_snapshot(families: pd.DataFrame) -> bool:
    """True when ``families`` holds one membership snapshot per as-of date."""
    return "as_of_date" in families.columns


def members_sql(families: str = "families", as_of_dates: str = "as_of_dates", *,
                snapshot: bool = False) -> str:  # fmt: skip
    """SQL selecting ``as_of, family_key, person_key, role`` for every registered as-of date.

    ``families`` and ``as_of_dates`` (one column ``as_of``) are table names registered on the
    connection; with ``snapshot`` the families table carries ``as_of_date`` and membership is
    the snapshot taken on that date, otherwise the spell valid on it.
    """
    if snapshot:
        return f"""
  SELECT a.as_of, f.family_key::VARCHAR AS family_key, f.person_key::VARCHAR AS person_key,
         f.role::VARCHAR AS role
  FROM {families} f JOIN (SELECT DISTINCT CAST(as_of AS TIMESTAMP) AS as_of FROM {as_of_dates}) a
    ON CAST(f.as_of_date AS TIMESTAMP) = a.as_of"""
    return f"""
  SELECT a.as_of, f.family_key::VARCHAR AS family_key, f.person_key::VARCHAR AS person_key,
         f.role::VARCHAR AS role
  FROM {families} f JOIN (SELECT DISTINCT CAST(as_of AS TIMESTAMP) AS as_of FROM {as_of_dates}) a
    ON (f.valid_from IS NULL OR f.valid_from <= a.as_of)
   AND (f.valid_to IS NULL OR f.valid_to > a.as_of)"""


def as_of_frame(as_of_dates: Iterable[date]) -> pd.DataFrame:
    """One-column frame ``as_of`` (midnight timestamps) to register as a DuckDB table."""
    stamps = pd.to_datetime(pd.Series(list(as_of_dates), dtype="object")).dt.normalize()
    if stamps.empty:
        raise ValueError("no as-of dates given")
    return pd.DataFrame({"as_of": stamps.astype("datetime64[ns]")})


def members_at(families: pd.DataFrame, as_of_dates: Iterable[date]) -> pd.DataFrame:
    """Membership on each date: ``as_of_date, family_key, person_key, role`` (strings).

    Works on both shapes of ``families`` (see the module docstring).
    """
    snapshot = is_snapshot(families)
    needed = ("as_of_date", "person_key", "family_key", "role") if snapshot else SPELL_COLUMNS
    missing = [c for c in needed if c not in families.columns]
    if missing:
        raise KeyError(f"table families lacks column(s) {missing} (docs/DESIGN.md)")
    con = duckdb.connect()
    try:
        con.register("families", families[list(needed)])
        con.register("as_of_dates", as_of_frame(as_of_dates))
        out = con.execute(
            f"SELECT as_of AS as_of_date, family_key, person_key, role FROM ({members_sql(snapshot=snapshot)})"
            " ORDER BY as_of_date, family_key, person_key"
        ).df()
    finally:
        con.close()
    return out.astype(
        {"as_of_date": "datetime64[ns]", "family_key": "string", "person_key": "string",
         "role": "string"}
    )  # fmt: skip


def spell_valid_at(spells: pd.DataFrame, as_of: date | pd.Timestamp) -> pd.Series:
    """Boolean mask of ``spells`` rows valid at ``as_of``: ``valid_from <= as_of < valid_to``.

    Missing ``valid_from`` is "since always", missing ``valid_to`` "still current" (the same
    rule as :func:`members_sql`).
    """
    ts = pd.Timestamp(as_of)
    start, end = pd.to_datetime(spells["valid_from"]), pd.to_datetime(spells["valid_to"])
    valid = (start.isna() | (start <= ts)) & (end.isna() | (end > ts))
    return valid.fillna(False).astype(bool)


def spells_at(families: pd.DataFrame, as_of: date | pd.Timestamp) -> pd.DataFrame:
    """The membership spells (all columns) valid at ``as_of`` (see :func:`spell_valid_at`)."""
    missing = [c for c in SPELL_COLUMNS if c not in families.columns]
    if missing:
        raise KeyError(f"table families lacks column(s) {missing} (docs/DESIGN.md)")
    return families.loc[spell_valid_at(families, as_of).to_numpy(dtype=bool)]


def districts_sql(members: str = "members", events: str = "events") -> str:
    """SQL giving ``as_of, family_key, postcode_district`` for each membership row's family.

    ``members`` has ``as_of, family_key, person_key`` (as from :func:`members_sql`) and
    ``events`` has ``record_pseudo, person_key, event_date, postcode_district``. The district is
    that of the family's latest located event strictly before ``as_of``; ties on the date go to
    the highest district (content, not the keyed ``record_pseudo``: the pseudonym key must not
    decide). Families with no located event are absent.
    """
    return f"""
  SELECT m.as_of, m.family_key,
         first(e.postcode_district::VARCHAR ORDER BY e.event_date DESC, e.postcode_district DESC)
           AS postcode_district
  FROM {members} m JOIN {events} e ON e.person_key::VARCHAR = m.person_key
  WHERE e.event_date < m.as_of AND e.postcode_district IS NOT NULL
  GROUP BY m.as_of, m.family_key"""


DISTRICT_EVENT_COLUMNS = ("record_pseudo", "person_key", "event_date", "postcode_district")


def districts_at(
    events: pd.DataFrame, families: pd.DataFrame, as_of_dates: Iterable[date]
) -> pd.DataFrame:
    """Each family's postcode district on each date: ``as_of_date, family_key, postcode_district``.

    ``families`` may be spells or snapshots; see :func:`districts_sql` for the rule.
    """
    missing = [c for c in DISTRICT_EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise KeyError(f"table events lacks column(s) {missing} (docs/DESIGN.md)")
    snapshot = is_snapshot(families)
    needed = (
        ("as_of_date", "person_key", "family_key")
        if snapshot
        else SPELL_COLUMNS[:2] + SPELL_COLUMNS[3:]
    )
    missing = [c for c in needed if c not in families.columns]
    if missing:
        raise KeyError(f"table families lacks column(s) {missing} (docs/DESIGN.md)")
    con = duckdb.connect()
    try:
        con.register("families", families[list(needed)].assign(role=None))
        con.register("as_of_dates", as_of_frame(as_of_dates))
        con.register("events", events[list(DISTRICT_EVENT_COLUMNS)])
        out = con.execute(
            f"WITH members AS ({members_sql(snapshot=snapshot)}),"
            f" d AS ({districts_sql()})"
            " SELECT as_of AS as_of_date, family_key, postcode_district FROM d"
            " ORDER BY as_of_date, family_key"
        ).df()
    finally:
        con.close()
    return out.astype(
        {"as_of_date": "datetime64[ns]", "family_key": "string", "postcode_district": "string"}
    )


def recorded_before(frame: pd.DataFrame, as_of: date | pd.Timestamp, column: str) -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` date is strictly before ``as_of`` (missing dates out)."""
    dates = pd.to_datetime(frame[column])
    return frame.loc[(dates < pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)]


def known_at(dates: pd.Series, as_of: date, extract: date) -> pd.Series:
    """Whether each record existed on ``as_of``: dated on or before it (boolean, same index).

    The identity counterpart of the events' cut (``events_known_at``: facts dated on or before
    the as-of date), used by the linkage. At the extract date every record of the drop is
    known, an undated one included (the drop is what was known then), so a run at its extract
    date links exactly what it always did; at an earlier date an undated record cannot be
    shown to have existed, so it is not known (never a leak; the contract makes each
    source's date required, so accepted records are dated).
    """
    if as_of >= extract:
        return pd.Series(True, index=dates.index, dtype=bool)
    stamps = pd.to_datetime(dates, errors="coerce")
    return (stamps <= pd.Timestamp(as_of)).fillna(False).astype(bool)
