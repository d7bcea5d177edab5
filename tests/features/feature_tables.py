"""Small hand-made tables in the docs/DESIGN.md schemas for the feature tests (helpers + fixture)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from safeguard.features.events import _PANDAS_DTYPES, EVENT_COLUMNS

AS_OF = date(2024, 7, 1)


def events_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Events with DESIGN dtypes; unspecified columns are missing."""
    filled = []
    for i, row in enumerate(rows):
        base = {c: None for c in EVENT_COLUMNS}
        base["record_pseudo"] = f"r{i}"
        base["source"] = row["event_type"].split(".")[0]
        base.update(row)
        filled.append(base)
    frame = pd.DataFrame(filled, columns=list(EVENT_COLUMNS))
    for col in ("event_date", "end_date"):
        frame[col] = pd.to_datetime(frame[col])
    return frame.astype(_PANDAS_DTYPES)


def families_frame(
    rows: list[tuple[str, str, str]], **spells: tuple[str | None, str | None]
) -> pd.DataFrame:
    """``(person_key, family_key, role)`` rows; ``spells[person] = (valid_from, valid_to)``."""
    frame = pd.DataFrame(rows, columns=["person_key", "family_key", "role"]).astype("string")
    frame["valid_from"] = pd.to_datetime(
        [spells.get(p, (None, None))[0] for p in frame["person_key"]]
    )
    frame["valid_to"] = pd.to_datetime(
        [spells.get(p, (None, None))[1] for p in frame["person_key"]]
    )
    return frame.astype({"valid_from": "datetime64[ns]", "valid_to": "datetime64[ns]"})


def people_frame(births: dict[str, str]) -> pd.DataFrame:
    """``people`` with birth months."""
    return pd.DataFrame(
        {"person_key": list(births), "birth_month": pd.to_datetime(list(births.values()))}
    ).astype({"person_key": "string", "birth_month": "datetime64[ns]"})


@pytest.fixture
def household() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Family F1 (mum, dad, kid, baby) and family F2 (adult, child), plus people."""
    families = families_frame(
        [
            ("mum", "F1", "adult"),
            ("dad", "F1", "adult"),
            ("kid", "F1", "child"),
            ("baby", "F1", "child"),
            ("ada", "F2", "adult"),
            ("bo", "F2", "child"),
        ]
    )
    people = people_frame(
        {
            "mum": "1990-01-01",
            "dad": "1988-05-01",
            "kid": "2014-03-01",
            "baby": "2023-02-01",
            "ada": "1985-01-01",
            "bo": "2010-09-01",
        }
    )
    return families, people
