"""A 50k-person estate lands within the stated tolerance of England's published base rates, and
its latent need predicts next-year child-protection outcomes about as well as real tools do."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from synth_testkit import Estate

from safeguard.synth.measure import TARGETS, base_rates, compare


@pytest.fixture(scope="module")
def measured(estate_50k: Estate) -> dict[str, float]:
    return base_rates(estate_50k.newest, estate_50k.truth)


@pytest.mark.parametrize("figure", sorted(TARGETS))
def test_base_rate_within_tolerance(measured: dict[str, float], figure: str) -> None:
    target = TARGETS[figure]
    assert target.low <= measured[figure] <= target.high, (
        f"{figure} = {measured[figure]:.4f}, expected {target.low}..{target.high} ({target.source})"
    )


def test_latent_need_auc_is_in_band(measured: dict[str, float]) -> None:
    assert 0.75 <= measured["latent_need_auc"] <= 0.85


def test_base_rates_json_matches_a_fresh_measurement(
    estate_50k: Estate, measured: dict[str, float]
) -> None:
    written = json.loads((estate_50k.truth / "base_rates.json").read_text())["figures"]
    assert written == compare(measured)
    assert all(entry["within"] for entry in written.values())


def test_referral_rate_counted_directly(estate_50k: Estate) -> None:
    """An independent count (no truth needed): referral rows in the last year per 10,000 children."""
    sc = pd.read_csv(estate_50k.newest / "social_care.csv", dtype=str, keep_default_na=False)
    start = pd.to_datetime(sc["start_date"], errors="coerce")
    newest = pd.Timestamp(estate_50k.summary.newest)
    referrals = (
        (sc["episode_type"] == "referral") & (start >= newest - pd.DateOffset(years=1))
    ).sum()
    per_10k = referrals / estate_50k.summary.children * 1e4
    assert 400 <= per_10k <= 640


def test_compare_flags_a_figure_outside_its_band() -> None:
    out = compare({"persistent_absence": 0.5, "latent_need_auc": 0.95})
    assert out["persistent_absence"]["within"] is False
    assert out["latent_need_auc"]["within"] is False


def test_agency_signals_rise_before_child_protection_outcomes(estate_50k: Estate) -> None:
    """Police and housing records of a child's household cluster in the months before an s47/CP
    start, compared with the same months a year earlier: outcomes follow signals in time."""
    truth, newest = estate_50k.truth, estate_50k.newest
    rec = pd.read_csv(truth / "records.csv", dtype=str, keep_default_na=False)
    rec = rec[rec["extract_date"] == newest.name]
    people = pd.read_csv(
        truth / "people.csv",
        dtype=str,
        keep_default_na=False,
        usecols=["true_person_id", "true_family_id"],
    )
    events = []
    for source, key, date in (
        ("police", "involvement_id", "incident_date"),
        ("housing", "event_id", "event_date"),
    ):
        df = pd.read_csv(
            newest / f"{source}.csv", dtype=str, keep_default_na=False, usecols=[key, date]
        )
        df = df.merge(rec[rec["source"] == source], left_on=key, right_on="record_key")
        events.append(
            pd.DataFrame(
                {
                    "true_person_id": df["true_person_id"],
                    "date": pd.to_datetime(df[date], errors="coerce"),
                }
            )
        )
    family_events = pd.concat(events).merge(people, on="true_person_id")
    outcomes = pd.read_csv(truth / "outcomes.csv", dtype=str, keep_default_na=False)
    outcomes["start"] = pd.to_datetime(outcomes["start_date"])
    outcomes = outcomes[outcomes["start"] >= pd.Timestamp(newest.name) - pd.DateOffset(years=4)]
    first = outcomes.sort_values("start").drop_duplicates("true_family_id")
    joined = first[["true_family_id", "start"]].merge(family_events, on="true_family_id")
    lag = (joined["start"] - joined["date"]).dt.days
    before = lag.between(1, 90).sum()
    year_earlier = lag.between(366, 455).sum()
    assert before > 1.5 * year_earlier
