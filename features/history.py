"""History consistency: no feature may trend with calendar date only because history runs out.

An extract holds each agency's records for a look-back window (six years in the contract's
examples, less for a newly joined agency). A feature with a 24-month window computed at an
as-of date less than 24 months after the agency's first record is *truncated*: its counts are
lower only because the records before the extract's history are missing, so its mean rises
with the calendar date across the training frame and the model learns the extract, not the
family. This check names every such feature and the dates it is truncated on (blocking), and
reports each feature's trend with the calendar date beside it (for review, not blocking).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from safeguard.features.dictionary import FEATURE_DICTIONARY

HISTORY_COLUMNS = (
    "feature", "agency", "window_months", "history_start", "first_complete_as_of",
    "truncated_dates", "slope_per_year", "slope_lower", "slope_upper", "status",
)  # fmt: skip


def history_starts(events: pd.DataFrame) -> dict[str, pd.Timestamp]:
    """First month of each source's history in the extract (its earliest event, month start)."""
    first = events.groupby("source", observed=True)["event_date"].min()
    return {str(s): pd.Timestamp(d).to_period("M").to_timestamp() for s, d in first.items()}


def _trend(dates: pd.Series, values: pd.Series) -> tuple[float, float, float]:
    """Slope of the monthly mean per year, relative to the overall mean, with a 95% interval."""
    means = values.astype(float).groupby(dates).mean().dropna()
    if len(means) < 3 or not np.isfinite(means.mean()) or means.mean() == 0:
        return (np.nan, np.nan, np.nan)
    years = (pd.to_datetime(means.index) - pd.to_datetime(means.index).min()).days / 365.25
    x, y = np.asarray(years, float), means.to_numpy() / abs(means.mean())
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    se = np.sqrt(resid.var(ddof=2) / ((x - x.mean()) ** 2).sum()) if len(x) > 2 else np.nan
    return (float(slope), float(slope - 1.96 * se), float(slope + 1.96 * se))


def history_consistency(
    training_frame: pd.DataFrame, starts: Mapping[str, pd.Timestamp]
) -> pd.DataFrame:
    """One row per windowed feature: is any training date truncated, and how it trends.

    ``status`` is ``truncated`` (blocking) when an as-of date's look-back window reaches before
    the agency's first month of history, else ``ok`` (with the trend reported).
    """
    dates = pd.to_datetime(training_frame["as_of_date"])
    unique = sorted(dates.unique())
    rows = []
    for spec in FEATURE_DICTIONARY:
        if spec.window_months is None or spec.name not in training_frame.columns:
            continue
        start = starts.get(spec.agency)
        complete_from = (
            start + pd.DateOffset(months=spec.window_months) if start is not None else None
        )
        truncated = [d for d in unique if complete_from is not None and d < complete_from]
        slope, lo, hi = _trend(dates, training_frame[spec.name])
        rows.append({
            "feature": spec.name, "agency": spec.agency, "window_months": spec.window_months,
            "history_start": start, "first_complete_as_of": complete_from,
            "truncated_dates": len(truncated), "slope_per_year": slope, "slope_lower": lo,
            "slope_upper": hi, "status": "truncated" if truncated else "ok",
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def describe_truncation(table: pd.DataFrame) -> list[str]:
    """Plain-English lines for every truncated feature (empty when none)."""
    lines = []
    for r in table.loc[table["status"] == "truncated"].itertuples():
        lines.append(
            f"{r.feature}: its {r.window_months}-month window reaches before the {r.agency} history "
            f"(which starts {pd.Timestamp(r.history_start).date()}) on {r.truncated_dates} training "
            f"date(s); the first complete as-of date is {pd.Timestamp(r.first_complete_as_of).date()}. "
            "Move training.first_as_of_months_back later in the council configuration."
        )
    return lines
