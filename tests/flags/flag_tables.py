"""Small synthetic estates and tiny fitted models for the flag tests (no generator needed)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from safeguard.dpia.pseudonymise import Pseudonymiser
from safeguard.features.build import USED_EVENT_TYPES
from safeguard.features.dictionary import FEATURE_NAMES
from safeguard.features.events import _PANDAS_DTYPES, EVENT_COLUMNS
from safeguard.models.estimator import RiskModel

AS_OF = date(2024, 7, 1)
#: Makes the keyed flag ids (a made-up test secret).
PSEUDONYMISER = Pseudonymiser(b"flag-tests-secret-0123456789abcd")
_TS = pd.Timestamp(AS_OF)
DISTRICTS = ("NB1", "NB2", "NB3", "NB4")
_POINT_TYPES = tuple(t for t in USED_EVENT_TYPES if t != "education.attendance")


def random_estate(
    n_families: int = 30, *, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(events, families, people)`` in DESIGN shape with varied histories around ``AS_OF``.

    Events fall from 30 months before to 2 months after the as-of date (so windows and the
    cut-off are exercised); police incidents may involve two members under one incident id;
    each family has one member who left before the as-of date, whose events must never count.
    """
    rng = np.random.default_rng(seed)
    fam_rows, births, events = [], {}, []

    def add(person: str, kind: str, when: pd.Timestamp, **extra: object) -> None:
        row = {"person_key": person, "event_type": kind, "event_date": when, **extra}
        events.append({"postcode_district": district, **row})

    for f in range(n_families):
        fam = f"F{f:03d}"
        district = DISTRICTS[f % len(DISTRICTS)]
        adults = [f"{fam}a{i}" for i in range(rng.integers(1, 3))]
        children = [f"{fam}c{i}" for i in range(rng.integers(1, 4))]
        leaver = f"{fam}x"
        for p in adults:
            fam_rows.append((p, fam, "adult", None, None))
            births[p] = f"{rng.integers(1975, 2000)}-{rng.integers(1, 13):02d}-01"
        for p in children:
            fam_rows.append((p, fam, "child", "2020-01-01", None))
            births[p] = f"{rng.integers(2007, 2023)}-{rng.integers(1, 13):02d}-01"
        fam_rows.append((leaver, fam, "adult", None, "2023-01-01"))
        births[leaver] = "1980-01-01"
        members = adults + children + [leaver]
        for _ in range(rng.poisson(18)):
            kind = str(rng.choice(_POINT_TYPES))
            when = _TS - pd.Timedelta(days=int(rng.integers(-60, 900)))
            who = str(rng.choice(children if kind.startswith("education.") else members))
            extra: dict[str, object] = {}
            if kind.startswith("police."):
                extra["group_pseudo"] = f"inc{len(events)}"
                extra["dash_risk"] = str(rng.choice(["standard", "medium", "high"]))
                other = str(rng.choice(members))
                if other != who and rng.random() < 0.4:
                    add(other, kind, when, **extra)
            if kind.startswith("social_care."):
                end = when + pd.Timedelta(days=int(rng.integers(10, 400)))
                extra["end_date"] = end if rng.random() < 0.8 else None
            if kind in ("housing.arrears_notice", "revenues_benefits.council_tax_arrears"):
                extra["amount_gbp"] = float(rng.integers(50, 3000))
            if kind in ("education.suspension", "education.permanent_exclusion"):
                extra["sessions_excluded"] = int(rng.integers(0, 12))
            add(who, kind, when, **extra)
        for child in children:
            for term in range(8):
                end = (
                    _TS
                    - pd.DateOffset(months=4 * term)
                    + pd.Timedelta(days=int(rng.integers(-20, 20)))
                )
                possible = int(rng.integers(100, 130))
                add(child, "education.attendance", end - pd.Timedelta(days=100), end_date=end,
                    sessions_possible=possible,
                    sessions_missed_authorised=int(rng.integers(0, 10)),
                    sessions_missed_unauthorised=int(rng.integers(0, 15) * rng.random()))  # fmt: skip
    return _events(events), _families(fam_rows), _people(births)


def _events(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows).reindex(columns=list(EVENT_COLUMNS))
    frame["record_pseudo"] = [f"rec{i:05d}" for i in range(len(frame))]
    frame["source"] = frame["event_type"].str.split(".").str[0]
    for col in ("event_date", "end_date"):
        frame[col] = pd.to_datetime(frame[col])
    return frame.astype(_PANDAS_DTYPES)


def _families(rows: list[tuple[str, str, str, str | None, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["person_key", "family_key", "role", "valid_from", "valid_to"]
    )
    for col in ("valid_from", "valid_to"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    return frame.astype({"person_key": "string", "family_key": "string", "role": "string"})


def _people(births: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"person_key": list(births), "birth_month": pd.to_datetime(list(births.values()))}
    ).astype({"person_key": "string", "birth_month": "datetime64[ns]"})


def fitted_model(n: int = 3000, *, seed: int = 0) -> RiskModel:
    """A tiny calibrated model on a synthetic frame where need drives several features."""
    rng = np.random.default_rng(seed)
    need = rng.normal(size=n)
    X = pd.DataFrame(0.0, index=range(n), columns=list(FEATURE_NAMES))
    X["police_da_incidents_12m"] = rng.poisson(np.exp(0.8 * need - 0.5))
    X["police_da_incidents_3m"] = rng.binomial(X["police_da_incidents_12m"].astype(int), 0.3)
    X["housing_arrears_notices_12m"] = rng.poisson(np.exp(0.6 * need - 0.8))
    X["sc_referrals_24m"] = rng.poisson(np.exp(0.7 * need - 1.0))
    X["police_incidents_12m"] = X["police_da_incidents_12m"] + rng.poisson(1.0, n)
    X["edu_attendance_rate_lowest_12m"] = np.clip(0.93 - 0.04 * need + rng.normal(0, 0.03, n), 0, 1)
    X["fam_children"] = rng.integers(1, 5, n)
    X["fam_adults"] = rng.integers(1, 3, n)
    X["police_days_since_last_da"] = np.where(
        X["police_da_incidents_12m"] > 0, rng.integers(5, 365, n), 730
    )
    y = rng.random(n) < 1 / (1 + np.exp(-(-2.6 + 1.5 * need)))
    return RiskModel(n_estimators=40, min_child_samples=20, calibration="sigmoid").fit(
        X, y.astype(int)
    )
