"""A small random estate (events, family spells and snapshots, people) for equality tests.

Not realistic: every event type, window edge, shared incident and missing value occurs often,
so a query that differs from another on any of them differs here too.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from safeguard.features.dictionary import USED_EVENT_TYPES
from safeguard.features.events import _PANDAS_DTYPES, EVENT_COLUMNS

DATES = [date(2024, 1, 1), date(2024, 4, 1), date(2024, 7, 1)]


def random_estate(seed: int = 7, people: int = 240) -> dict[str, pd.DataFrame]:
    """``events, families (spells), snapshots, people`` with ``people`` persons in ~80 families."""
    rng = np.random.default_rng(seed)
    keys = [f"p{i:04d}" for i in range(people)]
    family = rng.integers(0, people // 3, size=people)
    child = rng.random(people) < 0.5
    births = pd.to_datetime("2024-01-01") - pd.to_timedelta(
        np.where(
            child, rng.integers(0, 18 * 365, people), rng.integers(19 * 365, 60 * 365, people)
        ),
        unit="D",
    )
    start = pd.to_datetime("2019-01-01") + pd.to_timedelta(rng.integers(0, 2000, people), unit="D")
    end = start + pd.to_timedelta(rng.integers(100, 3000, people), unit="D")
    spells = pd.DataFrame({
        "person_key": keys, "family_key": [f"F{f:03d}" for f in family],
        "role": np.where(child, "child", "adult"),
        "valid_from": start.where(rng.random(people) < 0.8),
        "valid_to": end.where(rng.random(people) < 0.4),
    }).astype({"person_key": "string", "family_key": "string", "role": "string",
               "valid_from": "datetime64[ns]", "valid_to": "datetime64[ns]"})  # fmt: skip
    n = people * 25
    types = np.array(USED_EVENT_TYPES, dtype=object)
    event_date = pd.to_datetime("2020-06-01") + pd.to_timedelta(rng.integers(0, 1550, n), unit="D")
    # one event in ten falls exactly on a window edge of some as-of date (or on the date)
    edges = pd.to_datetime(
        [pd.Timestamp(d) - pd.DateOffset(months=m) for d in DATES for m in (0, 3, 6, 12, 24, 36)]
    )
    on_edge = rng.random(n) < 0.1
    event_date = pd.Series(event_date).where(~on_edge, pd.Series(rng.choice(edges, n)))
    event_date = pd.DatetimeIndex(event_date)
    ev = pd.DataFrame({c: pd.Series([None] * n, dtype="object") for c in EVENT_COLUMNS})
    ev["record_pseudo"] = [f"r{i:06d}" for i in range(n)]
    ev["person_key"] = rng.choice(keys, n)
    ev["event_type"] = rng.choice(types, n)
    ev["source"] = ev["event_type"].str.split(".").str[0]
    ev["event_date"] = event_date
    ev["end_date"] = (event_date + pd.to_timedelta(rng.integers(1, 400, n), unit="D")).where(
        rng.random(n) < 0.6
    )
    ev["dash_risk"] = pd.Series(rng.choice(["high", "medium", "standard", None], n), dtype="object")
    ev["amount_gbp"] = pd.Series(rng.integers(0, 3000, n).astype(float)).where(rng.random(n) < 0.8)
    ev["sessions_possible"] = pd.Series(rng.integers(0, 130, n).astype(float))
    ev["sessions_missed_authorised"] = pd.Series(rng.integers(0, 20, n).astype(float))
    ev["sessions_missed_unauthorised"] = pd.Series(rng.integers(0, 20, n).astype(float)).where(
        rng.random(n) < 0.9
    )
    ev["sessions_excluded"] = pd.Series(rng.integers(0, 10, n).astype(float)).where(
        rng.random(n) < 0.7
    )
    # about one police event in three shares an incident with another one
    ev["group_pseudo"] = pd.Series([f"g{i}" for i in rng.integers(0, n // 3, n)]).where(
        rng.random(n) < 0.5
    )
    ev["postcode_district"] = pd.Series(rng.choice(["AB1", "AB2", "CD3", None], n), dtype="object")
    ev["end_date"] = pd.to_datetime(ev["end_date"])
    ev = ev.astype(_PANDAS_DTYPES)
    people_table = pd.DataFrame(
        {"person_key": keys, "birth_month": births.to_period("M").to_timestamp()}
    )
    people_table = people_table.astype({"person_key": "string", "birth_month": "datetime64[ns]"})
    snapshots = []
    for d in DATES:  # a snapshot per date: the spells valid then, family keys shifted per date
        valid = (spells["valid_from"].isna() | (spells["valid_from"] <= pd.Timestamp(d))) & (
            spells["valid_to"].isna() | (spells["valid_to"] > pd.Timestamp(d))
        )
        part = spells.loc[valid, ["person_key", "family_key", "role"]].copy()
        part["as_of_date"] = pd.Timestamp(d)
        snapshots.append(part)
    snapshot = pd.concat(snapshots, ignore_index=True)[
        ["as_of_date", "person_key", "family_key", "role"]
    ]
    return {"events": ev, "families": spells, "snapshots": snapshot, "people": people_table}
