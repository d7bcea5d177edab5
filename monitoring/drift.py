"""Drift between the training window and each scored month: features, score and recording.

* **Features and score**: the population stability index (PSI) of each model input, and of
  the calibrated probability, between the families of the training window and those scored
  in the month, on ten equal-count bins of the training values (missing values a bin of their
  own). Conventional reading: below 0.1 stable, 0.1-0.25 moderate, 0.25 or more severe.
* **Recording**: each agency's events in the month before the as-of date, relative to the
  same calendar month in the training window (school and benefit records are seasonal), and
  the share of families with children of whom the agency recorded nothing in the 12 months
  before the date. A partner that stops sending a record type shows here months before the
  outcomes can.

Why these are written here rather than taken from a drift library: see ``monitoring/__init__``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from safeguard.features.dictionary import FEATURE_DICTIONARY
from safeguard.features.point_in_time import as_of_frame, members_sql

MODERATE, SEVERE = 0.1, 0.25
DRIFT_COLUMNS = (
    "as_of_date", "kind", "name", "agency", "statistic", "reference", "value", "drift", "severity",
)  # fmt: skip
_AGENCY = {spec.name: spec.agency for spec in FEATURE_DICTIONARY}
_EPS = 1e-4


def bin_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner edges of ``bins`` equal-count bins of the finite reference values (ties merged)."""
    finite = reference[np.isfinite(reference)]
    if finite.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` per bin; the last bin holds missing values.

    Bins are closed on the right, ``(e[i-1], e[i]]``: most count features are zero for most
    families, so the quantile edges pile up on 0, and the zeros must fall in a bin of their own
    or a change in how many families have any record at all would go unseen.
    """
    finite = np.isfinite(values)
    counts = np.bincount(
        np.searchsorted(edges, values[finite], side="left"), minlength=len(edges) + 1
    )
    counts = np.r_[counts, (~finite).sum()].astype(float)
    return counts / max(len(values), 1)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``.

    ``sum((a - e) * ln(a / e))`` over equal-count bins of the reference (shares floored at
    1e-4 so an empty bin counts as a large, finite shift). Symmetric in spirit to the
    Kullback-Leibler divergence both ways; 0 for identical distributions.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if reference.size == 0 or current.size == 0:
        return float("nan")
    edges = bin_edges(reference, bins)
    e = np.maximum(_shares(reference, edges), _EPS)
    a = np.maximum(_shares(current, edges), _EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def severity(value: float, *, moderate: float = MODERATE, severe: float = SEVERE) -> str:
    """ "severe", "moderate", "none", or "not assessable" for a missing value."""
    if not np.isfinite(value):
        return "not assessable"
    return "severe" if value >= severe else "moderate" if value >= moderate else "none"


def feature_drift(
    reference: pd.DataFrame,
    monthly: pd.DataFrame,
    features: Sequence[str],
    *,
    bins: int = 10,
    severe: float = SEVERE,
) -> pd.DataFrame:
    """PSI of every feature in ``features`` for every month of ``monthly`` (``as_of_date``)."""
    rows = []
    ref = {
        f: reference[f].to_numpy(dtype=float, na_value=np.nan) for f in features if f in reference
    }
    for as_of, month in monthly.groupby("as_of_date"):
        for name, values in ref.items():
            current = month[name].to_numpy(dtype=float, na_value=np.nan)
            value = psi(values, current, bins)
            rows.append({
                "as_of_date": pd.Timestamp(as_of), "kind": "feature", "name": name,
                "agency": _AGENCY.get(name, ""), "statistic": "psi",
                "reference": float(np.nanmean(values)) if np.isfinite(values).any() else np.nan,
                "value": float(np.nanmean(current)) if np.isfinite(current).any() else np.nan,
                "drift": value, "severity": severity(value, severe=severe),
            })  # fmt: skip
    return _table(rows)


def score_drift(
    reference_probability: np.ndarray,
    frame: pd.DataFrame,
    *,
    bins: int = 10,
    severe: float = SEVERE,
) -> pd.DataFrame:
    """PSI of the calibrated probability in each month against the training window's."""
    rows = []
    for as_of, month in frame.groupby("as_of_date"):
        current = month["probability"].to_numpy(dtype=float)
        value = psi(reference_probability, current, bins)
        rows.append({
            "as_of_date": pd.Timestamp(as_of), "kind": "score", "name": "probability", "agency": "",
            "statistic": "psi", "reference": float(np.mean(reference_probability)),
            "value": float(np.mean(current)), "drift": value, "severity": severity(value, severe=severe),
        })  # fmt: skip
    return _table(rows)


def monthly_volumes(events: pd.DataFrame, months: Iterable[date]) -> pd.DataFrame:
    """Events per agency in the calendar month before each date: ``as_of_date, source, events``."""
    con = duckdb.connect()
    try:
        con.register("events", events[["source", "event_date"]])
        con.register("as_of_dates", as_of_frame(months))
        out = con.execute(
            """
            SELECT a.as_of AS as_of_date, s.source, count(e.event_date) AS events
            FROM (SELECT DISTINCT CAST(as_of AS TIMESTAMP) AS as_of FROM as_of_dates) a
            CROSS JOIN (SELECT DISTINCT source FROM events) s
            LEFT JOIN events e ON e.source = s.source
             AND e.event_date >= a.as_of - INTERVAL 1 MONTH AND e.event_date < a.as_of
            GROUP BY ALL ORDER BY ALL
            """
        ).df()
    finally:
        con.close()
    return out.astype({"as_of_date": "datetime64[ns]", "source": "string", "events": "float64"})


def calendar_reference(reference_months: Iterable[date]) -> list[pd.Timestamp]:
    """Every month start of the training window, and at least the twelve months ending at its
    last as-of date.

    The window's as-of dates may be spaced or span under a year (train and calibration dates:
    eight months, say), but recording is seasonal by calendar month (schools return attendance
    at the start of each term, benefits are reassessed each April): a volume reference must hold
    every calendar month, or a quiet month is compared with a term-start peak and read as a
    collapse in recording. The months before a short window are recording before the model was
    deployed, so they are a fair reference too.
    """
    months = sorted(pd.Timestamp(d) for d in reference_months)
    if not months:
        return []
    start = min(months[0], months[-1] - pd.DateOffset(months=11))
    return list(pd.date_range(start, months[-1], freq="MS"))


def volume_drift(
    volumes: pd.DataFrame,
    reference_months: Iterable[date],
    *,
    band: tuple[float, float] = (0.67, 1.5),
    min_reference_events: float = 30.0,
    z: float = 1.645,
    last_recorded: Mapping[str, pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Each month's volume per agency over the training window's in the same calendar month
    (or, without one, its mean month).

    Severe when the ratio lies outside ``band`` beyond counting noise: its one-sided interval
    at ``z`` (Poisson counts in the month and in the reference months) lies wholly outside
    too, so a small agency's quiet month is not read as a change in recording.

    ``last_recorded`` (each agency's latest event date in the extract): a month after it is
    "not yet delivered", not judged. Schools return attendance termly, so the newest extract
    holds none for the current term; that delivery lag is not a change in recording. (A
    partner that stops sending altogether is caught at the door, by the volume check against
    the previous extract.)
    """
    ref_months = {pd.Timestamp(d) for d in reference_months}
    vol = volumes.assign(calendar=volumes["as_of_date"].dt.month)
    ref = vol.loc[vol["as_of_date"].isin(ref_months)]
    by_calendar = ref.groupby(["source", "calendar"])["events"].agg(["mean", "sum"])
    overall = ref.groupby("source")["events"].agg(["mean", "sum"])
    rows = []
    last = {str(k): pd.Timestamp(v) for k, v in (last_recorded or {}).items()}
    for r in vol.loc[~vol["as_of_date"].isin(ref_months)].itertuples():
        month_start = pd.Timestamp(r.as_of_date) - pd.DateOffset(months=1)
        if str(r.source) in last and month_start > last[str(r.source)]:
            rows.append({
                "as_of_date": r.as_of_date, "kind": "source_volume", "name": str(r.source),
                "agency": str(r.source), "statistic": "ratio", "reference": np.nan,
                "value": r.events, "drift": np.nan, "severity": "not yet delivered",
            })  # fmt: skip
            continue
        key = (r.source, r.calendar)
        if key in by_calendar.index:
            expected, ref_sum = by_calendar.loc[key, "mean"], by_calendar.loc[key, "sum"]
        elif r.source in overall.index:
            expected, ref_sum = overall.loc[r.source, "mean"], overall.loc[r.source, "sum"]
        else:
            expected, ref_sum = np.nan, np.nan
        ok = bool(np.isfinite(expected) and expected >= min_reference_events)
        ratio = r.events / expected if ok else np.nan
        outside = False
        if ok:
            spread = z * np.sqrt(1.0 / max(r.events, 0.5) + 1.0 / max(ref_sum, 0.5))
            log_ratio = np.log(max(ratio, 1e-9))
            outside = bool(
                log_ratio + spread < np.log(band[0]) or log_ratio - spread > np.log(band[1])
            )
        rows.append({
            "as_of_date": r.as_of_date, "kind": "source_volume", "name": str(r.source),
            "agency": str(r.source), "statistic": "ratio", "reference": expected, "value": r.events,
            "drift": ratio,
            "severity": "not assessable" if not ok else "severe" if outside else "none",
        })  # fmt: skip
    return _table(rows)


def missing_sources(
    events: pd.DataFrame, families: pd.DataFrame, months: Iterable[date], *, window_months: int = 12
) -> pd.DataFrame:
    """Share of families with children of whom each agency recorded nothing in the window
    before each date: ``as_of_date, source, families, without_record, share``."""
    con = duckdb.connect()
    try:
        con.register("events", events[["person_key", "source", "event_date"]])
        con.register("families", families)
        con.register("as_of_dates", as_of_frame(months))
        out = con.execute(
            f"""
            WITH members AS ({members_sql(snapshot="as_of_date" in families.columns)}),
            with_children AS (SELECT DISTINCT as_of, family_key FROM members WHERE role = 'child'),
            seen AS (
              SELECT DISTINCT m.as_of, m.family_key, e.source
              FROM members m JOIN events e ON e.person_key::VARCHAR = m.person_key
               AND e.event_date < m.as_of
               AND e.event_date >= m.as_of - INTERVAL {int(window_months)} MONTH
            ),
            sources AS (SELECT DISTINCT source FROM events)
            SELECT c.as_of AS as_of_date, s.source, count(*) AS families,
                   count(*) FILTER (WHERE seen.family_key IS NULL) AS without_record
            FROM with_children c CROSS JOIN sources s
            LEFT JOIN seen ON seen.as_of = c.as_of AND seen.family_key = c.family_key
             AND seen.source = s.source
            GROUP BY ALL ORDER BY ALL
            """
        ).df()
    finally:
        con.close()
    out["share"] = out["without_record"] / out["families"].clip(lower=1)
    return out.astype({"as_of_date": "datetime64[ns]", "source": "string"})


def missing_source_drift(shares: pd.DataFrame, reference_months: Iterable[date]) -> pd.DataFrame:
    """Each month's share without a record per agency beside the training window's mean share
    (reported; the volume ratio is what the decommission rule reads)."""
    ref_months = {pd.Timestamp(d) for d in reference_months}
    ref = shares.loc[shares["as_of_date"].isin(ref_months)].groupby("source")["share"].mean()
    rows = []
    for r in shares.loc[~shares["as_of_date"].isin(ref_months)].itertuples():
        expected = float(ref.get(r.source, np.nan))
        rows.append({
            "as_of_date": r.as_of_date, "kind": "source_missing", "name": str(r.source),
            "agency": str(r.source), "statistic": "share_difference", "reference": expected,
            "value": float(r.share), "drift": float(r.share) - expected, "severity": "reported",
        })  # fmt: skip
    return _table(rows)


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
    return table.astype(
        {"as_of_date": "datetime64[ns]", "kind": "string", "name": "string", "agency": "string",
         "statistic": "string", "reference": "float64", "value": "float64", "drift": "float64",
         "severity": "string"}
    )  # fmt: skip
