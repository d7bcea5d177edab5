"""What was known on a date: family membership at a date and facts recorded before it.

One module for the two point-in-time questions every stage asks, so that features, labels,
exclusions, the fairness audit's group attributes and explanations cannot disagree:

* **Who is in this family on this date.** ``families`` comes in two shapes. Spells
  (``valid_from``, ``valid_to``: half-open, missing = open) are formed once, as of the run's
  date. Snapshots carry an ``as_of_date`` column: families formed separately as of each
  training date from the records known then (``linkage.families.form_families_at``), so a
  training row never sees a household that only later records revealed.
* **What was recorded by this date.** A fact dated on or after the as-of date does not exist
  at it: the same cut as the features (events strictly before the as-of date).
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


def recorded_before(frame: pd.DataFrame, as_of: date | pd.Timestamp, column: str) -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` date is strictly before ``as_of`` (missing dates out)."""
    dates = pd.to_datetime(frame[column])
    return frame.loc[(dates < pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)]
