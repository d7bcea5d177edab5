"""Synthetic training frames with a known signal, for the model tests (no generator needed)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from safeguard.features.dictionary import FEATURE_NAMES

# Three dates to train and calibrate, a 12-month gap, then three pooled monthly test dates.
DATES = pd.to_datetime(
    ["2021-01-01", "2021-04-01", "2021-07-01", "2022-07-01", "2022-08-01", "2022-09-01"]
)


def training_frame(
    n_per_date: int = 2500,
    *,
    seed: int = 0,
    signal: float = 1.0,
    base_logit: float = -3.2,
    drift: float = 0.0,
    drift_from: int = 2,
    interaction: float = 0.0,
    dates: pd.DatetimeIndex = DATES,
) -> pd.DataFrame:
    """A stacked frame shaped like ``build_training_frame``'s output.

    A latent need drives a few count features (police, housing, attendance) and the label;
    ``drift`` shifts the label's intercept from the ``drift_from``-th date on (outcomes become
    more common), which makes trees trained on earlier dates miscalibrated on later ones.
    ``interaction`` adds risk when domestic abuse and arrears co-occur, a non-additive signal
    that trees find and a linear baseline cannot.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for i, as_of in enumerate(dates):
        need = rng.normal(size=n_per_date)
        frame = pd.DataFrame(0, index=range(n_per_date), columns=list(FEATURE_NAMES), dtype="Int64")
        frame["police_da_incidents_12m"] = rng.poisson(np.exp(0.8 * signal * need - 1.0))
        frame["housing_arrears_notices_12m"] = rng.poisson(np.exp(0.6 * signal * need - 1.2))
        frame["sc_referrals_24m"] = rng.poisson(np.exp(0.7 * signal * need - 1.5))
        frame["edu_attendance_rate_lowest_12m"] = pd.array(
            np.clip(0.95 - 0.04 * signal * need + rng.normal(0, 0.03, n_per_date), 0, 1),
            dtype="Float64",
        )
        frame["fam_children"] = rng.integers(1, 5, n_per_date)
        frame["fam_adults"] = rng.integers(1, 3, n_per_date)
        frame["police_days_since_last_da"] = 730
        both = (frame["police_da_incidents_12m"] >= 1) & (frame["housing_arrears_notices_12m"] >= 1)
        logit = (
            base_logit
            + drift * (i >= drift_from)
            + 1.4 * need
            + interaction * both.to_numpy(dtype=float)
        )
        p = 1 / (1 + np.exp(-logit))
        frame.insert(0, "family_key", [f"fam{j:05d}" for j in range(n_per_date)])
        frame.insert(1, "as_of_date", as_of)
        frame["label"] = pd.array(rng.random(n_per_date) < p, dtype="boolean")
        frame["label_complete"] = pd.array([True] * n_per_date, dtype="boolean")
        frame["_need"] = need
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    out["family_key"] = out["family_key"].astype("string")
    return out


def truth_of(frame: pd.DataFrame, dates: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Latent need by (as_of_date, family_key) at the given dates (the oracle's view)."""
    rows = frame.loc[frame["as_of_date"].isin(list(dates))]
    return pd.DataFrame(
        {
            "as_of_date": rows["as_of_date"].to_numpy(),
            "family_key": rows["family_key"].to_numpy(),
            "latent_need": rows["_need"].to_numpy(),
        }
    )
