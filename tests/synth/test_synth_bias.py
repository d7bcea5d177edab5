"""The recording bias is measurable in the drop at equal need, and absent when switched off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from synth_testkit import Estate

from safeguard.synth import EstateConfig, RecordingBias, generate_estate

GROUP = {"BCRB", "BAFR", "BOTH", "MWBC"}


def _rate_ratio(landing: Path, truth: Path, biased: pd.Series) -> float:
    """Recorded-rate ratio group / others, standardised over need quintile x age band x sex."""
    newest = sorted(landing.iterdir())[-1]
    people = pd.read_csv(truth / "people.csv", dtype=str, keep_default_na=False)
    rec = pd.read_csv(truth / "records.csv", dtype=str, keep_default_na=False)
    rec = rec[(rec["extract_date"] == newest.name) & (rec["source"] == "police")]
    police = pd.read_csv(newest / "police.csv", dtype=str, keep_default_na=False)
    police = police.merge(rec, left_on="involvement_id", right_on="record_key")
    age = (pd.Timestamp(newest.name) - pd.to_datetime(people["dob"])).dt.days / 365.25
    people = people.assign(
        group=people["ethnicity"].isin(GROUP),
        stratum=pd.qcut(people["latent_need"].astype(float), 5, labels=False).astype(str)
        + pd.cut(age, [10, 18, 30, 45, 61], right=False).astype(str)
        + people["sex"],
    )[age.between(10, 60)]
    counts = police[biased(police)].groupby("true_person_id").size()
    people["events"] = people["true_person_id"].map(counts).fillna(0)
    cells = (
        people.groupby(["stratum", "group"])["events"]
        .agg(["sum", "count"])
        .unstack("group")
        .dropna()
    )
    other_rate = cells[("sum", False)] / cells[("count", False)]
    expected = (other_rate * cells[("count", True)]).sum()
    return float(cells[("sum", True)].sum() / expected)


def _asb_or_subject(police: pd.DataFrame) -> pd.Series:
    return (police["incident_type"] == "asb") | (police["role"] == "subject")


def _victim_of_theft_or_violence(police: pd.DataFrame) -> pd.Series:
    return police["incident_type"].isin(["theft", "violence"]) & (police["role"] == "victim")


def test_asb_and_subject_involvements_are_over_recorded_for_the_group(estate_50k: Estate) -> None:
    biased = _rate_ratio(estate_50k.landing, estate_50k.truth, _asb_or_subject)
    control = _rate_ratio(estate_50k.landing, estate_50k.truth, _victim_of_theft_or_violence)
    assert 1.25 <= biased <= 1.8
    assert 0.75 <= control <= 1.25
    assert 1.2 <= biased / control <= 1.9


def test_no_over_recording_when_the_bias_is_off(tmp_path: Path) -> None:
    config = EstateConfig(
        people=25_000, seed=5, history_months=0, recording_bias=RecordingBias(enabled=False)
    )
    generate_estate(config, tmp_path / "landing", tmp_path / "truth")
    ratio = _rate_ratio(tmp_path / "landing", tmp_path / "truth", _asb_or_subject)
    assert 0.75 <= ratio <= 1.25
    assert np.isfinite(ratio)
