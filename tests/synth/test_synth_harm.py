"""True harm (truth/harm.csv): rare, driven by need, shaped by age, only sometimes referred, and
untouched by what agencies record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from synth_testkit import Estate

from safeguard.synth import EstateConfig, RecordingBias, generate_estate
from safeguard.synth.harm import KINDS


def _csv(path: Path, **kw: object) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)


@pytest.fixture(scope="module")
def harm(estate_50k: Estate) -> pd.DataFrame:
    out = _csv(estate_50k.truth / "harm.csv")
    people = _csv(estate_50k.truth / "people.csv", usecols=["true_person_id", "dob", "sex"])
    out = out.merge(people, on="true_person_id")
    out["age"] = (pd.to_datetime(out["harm_date"]) - pd.to_datetime(out["dob"])).dt.days / 365.25
    return out


def test_harm_file_lists_children_with_a_kind_and_a_referral_flag(harm: pd.DataFrame) -> None:
    assert list(harm.columns[:5]) == [
        "true_person_id",
        "true_family_id",
        "harm_date",
        "kind",
        "referred",
    ]
    assert set(harm["kind"]) == set(KINDS)
    assert set(harm["referred"]) == {"Y", "N"}
    assert (harm["true_family_id"] != "").all()
    assert harm["age"].between(0, 18, inclusive="left").all()


def test_harm_is_rare(estate_50k: Estate, harm: pd.DataFrame) -> None:
    """~20 events a year per 10,000 children: rarer than child-protection plan starts."""
    newest = pd.Timestamp(estate_50k.summary.newest)
    recent = pd.to_datetime(harm["harm_date"]) >= newest - pd.DateOffset(years=5)
    per_10k = recent.sum() / 5 / estate_50k.summary.children * 1e4
    assert 10 <= per_10k <= 32, per_10k
    outcomes = _csv(estate_50k.truth / "outcomes.csv")
    cp = outcomes[(outcomes["outcome_type"] == "cp_plan")
                  & (outcomes["start_date"] >= (newest - pd.DateOffset(years=5)).strftime("%Y-%m-%d"))]  # fmt: skip
    assert recent.sum() < len(cp)


def test_harm_follows_need_and_age(estate_50k: Estate, harm: pd.DataFrame) -> None:
    families = _csv(estate_50k.truth / "families.csv").set_index("true_family_id")["latent_need"]
    people = _csv(estate_50k.truth / "people.csv")
    kids = people[people["role"] == "child"]
    harmed_need = harm["true_family_id"].map(families).astype(float).mean()
    assert harmed_need > kids["latent_need"].astype(float).mean() + 0.6
    self_harm = harm[harm["kind"] == "self_harm"]
    assert self_harm["age"].min() >= 11
    assert (self_harm["sex"] == "F").mean() > 0.6
    injury = harm[harm["kind"] == "abusive_injury"]
    # infants have the highest rate per year of age
    assert (injury["age"] < 1).sum() > 3 * ((injury["age"] >= 5) & (injury["age"] < 6)).sum()


def test_referred_harm_is_a_health_referral_that_day(
    estate_50k: Estate, harm: pd.DataFrame
) -> None:
    share = (harm["referred"] == "Y").mean()
    assert 0.1 <= share <= 0.45, share
    sc = _csv(estate_50k.newest / "social_care.csv")
    rec = _csv(estate_50k.truth / "records.csv")
    rec = rec[(rec["extract_date"] == estate_50k.newest.name) & (rec["source"] == "social_care")]
    ref = sc[sc["episode_type"] == "referral"].merge(
        rec, left_on="episode_id", right_on="record_key"
    )
    ref = ref[["true_person_id", "start_date", "referral_source"]].rename(
        columns={"start_date": "harm_date"}
    )
    visible = harm[
        harm["harm_date"]
        >= (pd.Timestamp(estate_50k.newest.name) - pd.DateOffset(years=6)).strftime("%Y-%m-%d")
    ]
    joined = visible.merge(ref.drop_duplicates(["true_person_id", "harm_date"]), on=["true_person_id", "harm_date"],
                           how="left")  # fmt: skip
    told = joined[joined["referred"] == "Y"]
    assert len(told) >= 15
    assert (
        told["referral_source"] == "health"
    ).mean() > 0.95  # a few hit a planted malformed value
    assert joined.loc[joined["referred"] == "N", "referral_source"].isna().mean() > 0.97


def test_recording_bias_does_not_change_harm(tmp_path: Path) -> None:
    """Harm is the world, not the record: recording and label bias leave it untouched."""
    biases = {"default": RecordingBias(), "off": RecordingBias(enabled=False),
              "label": RecordingBias(police_asb_subject_multiplier=3.0, police_referral_multiplier=5.0)}  # fmt: skip
    harm, outcomes = {}, {}
    for name, bias in biases.items():
        config = EstateConfig(people=6_000, seed=9, history_months=0, recording_bias=bias)
        generate_estate(config, tmp_path / name / "landing", tmp_path / name / "truth")
        harm[name] = _csv(tmp_path / name / "truth" / "harm.csv").drop(columns="referred")
        outcomes[name] = _csv(tmp_path / name / "truth" / "outcomes.csv")
    assert len(harm["default"]) > 15
    assert harm["default"].equals(harm["off"]) and harm["default"].equals(harm["label"])
    assert not outcomes["default"].equals(outcomes["label"])  # the label did move
