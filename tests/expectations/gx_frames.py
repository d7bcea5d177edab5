"""Valid typed warehouse frames for the suite tests, built from the suites' own table specs.

Every frame follows docs/DESIGN.md dtypes (pandas ``string``, ``datetime64[ns]``, ``Int64``,
``Float64``, ``boolean``) and is plausible on every rule, so a test can break one thing at a time.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from safeguard.expectations.contract import ColumnSpec, records_table_spec, reference_table_spec

EXTRACT = date(2026, 3, 31)
FEATURES = [
    {"name": "police_incidents_365d", "unit": "count"},
    {"name": "attendance_rate", "unit": "rate"},
    {"name": "days_since_last_referral", "unit": "days"},
    {"name": "council_tax_arrears_gbp", "unit": "gbp"},
    {"name": "child_protection_plan", "unit": "flag"},
    {"name": "youngest_child_age", "unit": "years"},
    {"name": "household_size", "unit": "people"},
]


def _hex(rng: np.random.Generator, n: int, *, unique: bool = False) -> pd.Series:
    if unique:
        values = rng.choice(2**62, size=n, replace=False) + 2**62
    else:
        values = rng.integers(2**62, 2**63, n)
    return pd.Series([f"{v:016x}" for v in values], dtype="string")


def _dates(rng: np.random.Generator, n: int, start: str, end: pd.Timestamp) -> pd.Series:
    first = pd.Timestamp(start)
    days = rng.integers(0, (end - first).days + 1, n)
    return pd.Series(first + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]")


def _with_nulls(values: pd.Series, rng: np.random.Generator, share: float) -> pd.Series:
    out = values.copy()
    out[rng.random(len(out)) < share] = pd.NA
    return out


def _column(col: ColumnSpec, n: int, rng: np.random.Generator, extract: pd.Timestamp) -> pd.Series:
    if col.pseudonym:
        return _hex(rng, n, unique=col.name == "record_pseudo")
    if col.kind == "enum":
        return pd.Series(rng.choice(list(col.values or ()), n), dtype="string")
    if col.kind == "date":
        return _dates(rng, n, "2022-01-01", extract)
    if col.kind == "int":
        return pd.Series(rng.integers(0, 50, n), dtype="Int64")
    if col.kind == "decimal":
        return pd.Series(np.round(rng.random(n) * 500, 2), dtype="Float64")
    if col.kind == "bool":
        return pd.Series(rng.random(n) < 0.3, dtype="boolean")
    return pd.Series(rng.choice(["100001", "100002", "100003"], n), dtype="string")


def records_frame(
    source: str, n: int = 300, *, seed: int = 0, extract: date = EXTRACT
) -> pd.DataFrame:
    """A valid ``<source>_records`` table with realistic gaps in optional columns."""
    rng = np.random.default_rng(seed)
    day = pd.Timestamp(extract)
    spec = records_table_spec(source)
    df = pd.DataFrame({c.name: _column(c, n, rng, day) for c in spec.columns})
    df["postcode_district"] = pd.Series(
        rng.choice(["NB1", "NB2", "NB10", "SW1A"], n), dtype="string"
    )
    df["extract_date"] = pd.Series([day] * n).astype("datetime64[ns]")
    youngest, oldest = (3, 17) if source == "education" else (0, 90)
    ages = rng.integers(youngest * 12, oldest * 12, n)
    index = day.year * 12 + day.month - 1 - ages
    months = pd.to_datetime({"year": index // 12, "month": index % 12 + 1, "day": 1})
    df["birth_month"] = months.astype("datetime64[ns]")
    for col in spec.columns:
        if not col.required and col.name not in ("postcode_district", "birth_month"):
            df[col.name] = _with_nulls(df[col.name], rng, 0.05)
    if source == "social_care":
        df["end_date"] = _with_nulls(
            (df["start_date"] + pd.Timedelta(days=30)).clip(upper=day), rng, 0.4
        )
    if source == "education":
        df["period_end"] = (df["period_start"] + pd.Timedelta(days=60)).clip(upper=day)
        df["sessions_possible"] = pd.Series(rng.integers(100, 190, n), dtype="Int64")
        for part in ("sessions_missed_authorised", "sessions_missed_unauthorised"):
            df[part] = pd.Series(rng.integers(0, 40, n), dtype="Int64")
    return df


def workers_frame(n: int = 20) -> pd.DataFrame:
    spec = reference_table_spec("workers")
    role = spec.column("role").values or ()
    return pd.DataFrame(
        {
            "worker_id": pd.Series([f"W{i:04d}" for i in range(n)], dtype="string"),
            "display_name": pd.Series([f"Practitioner {i}" for i in range(n)], dtype="string"),
            "team": pd.Series(["North", "South"] * (n // 2) + ["North"] * (n % 2), dtype="string"),
            "role": pd.Series([role[i % len(role)] for i in range(n)], dtype="string"),
            "area_codes": pd.Series(["NB1;NB2", "NB3", "nb4 ; NB5;"] * n, dtype="string")[:n],
            "capacity": pd.Series([5 + i % 10 for i in range(n)], dtype="Int64"),
        }
    )


def areas_frame(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "postcode_district": pd.Series([f"NB{i + 1}" for i in range(n)], dtype="string"),
            "area_code": pd.Series([f"E0{i % 5}" for i in range(n)], dtype="string"),
            "local_authority": pd.Series(["Northbury"] * n, dtype="string"),
            "imd_decile": pd.Series([1 + i % 10 for i in range(n)], dtype="Int64"),
        }
    )


def features_frame(n: int = 200, *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "family_key": pd.Series([f"F{i:06d}" for i in range(n)], dtype="string"),
            "as_of_date": pd.Series([pd.Timestamp(EXTRACT)] * n).astype("datetime64[ns]"),
            "police_incidents_365d": pd.Series(rng.integers(0, 5, n).astype(float)),
            "attendance_rate": pd.Series(rng.random(n)),
            "days_since_last_referral": pd.Series(rng.integers(0, 900, n), dtype="Int64"),
            "council_tax_arrears_gbp": pd.Series(np.round(rng.random(n) * 800, 2)),
            "child_protection_plan": pd.Series(rng.integers(0, 2, n), dtype="Int64"),
            "youngest_child_age": pd.Series(rng.integers(0, 18, n), dtype="Int64"),
            "household_size": pd.Series(rng.integers(1, 8, n), dtype="Int64"),
        }
    )
