"""The ground truth is consistent with the drops, complete, and never inside the landing folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from synth_testkit import AGENCY_FILES, Estate

from safeguard.synth import ConfigError, EstateConfig, generate_estate

KEYS = {"social_care": "episode_id", "education": "record_id", "housing": "event_id", "police": "involvement_id",
        "revenues_benefits": "event_id", "objections": "objection_id"}  # fmt: skip
TRUTH_FILES = {"records.csv", "people.csv", "families.csv", "memberships.csv", "outcomes.csv", "hazards.csv",
               "harm.csv", "malformed.csv", "addresses.csv", "recording_bias.json", "base_rates.json",
               "config.json", "identifier_noise.json"}  # fmt: skip


def _csv(path: Path, **kw: object) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)


@pytest.fixture(scope="module")
def records(estate_small: Estate) -> pd.DataFrame:
    return _csv(estate_small.truth / "records.csv")


def test_truth_folder_holds_the_documented_files(estate_small: Estate) -> None:
    assert {p.name for p in estate_small.truth.iterdir()} == TRUTH_FILES
    landing_files = {p.name for p in estate_small.landing.rglob("*") if p.is_file()}
    assert not landing_files & TRUTH_FILES


def test_every_row_of_every_drop_has_a_true_person(
    estate_small: Estate, records: pd.DataFrame
) -> None:
    people = set(_csv(estate_small.truth / "people.csv")["true_person_id"])
    for drop in sorted(estate_small.landing.iterdir()):
        for source, key in KEYS.items():
            keys = set(_csv(drop / f"{source}.csv", usecols=[key])[key])
            mine = records[(records["extract_date"] == drop.name) & (records["source"] == source)]
            assert set(mine["record_key"]) == keys, (drop.name, source)
            assert len(mine) == len(keys)
            assert set(mine["true_person_id"]) <= people


def test_people_roles_and_families_match_memberships(estate_small: Estate) -> None:
    people = _csv(estate_small.truth / "people.csv")
    mem = _csv(estate_small.truth / "memberships.csv")
    current = mem[mem["valid_to"] == ""]
    assert current["true_person_id"].is_unique
    merged = people.merge(current, on="true_person_id", suffixes=("", "_m"))
    assert len(merged) == len(people)
    assert (merged["true_family_id"] == merged["true_family_id_m"]).all()
    dob = pd.to_datetime(people["dob"])
    child = dob > pd.Timestamp(estate_small.summary.newest) - pd.DateOffset(years=18)
    assert ((people["role"] == "child") == child).all()
    assert people["latent_need"].astype(float).std() > 0.5


def test_membership_spells_do_not_overlap(estate_small: Estate) -> None:
    mem = _csv(estate_small.truth / "memberships.csv")
    mem["from"] = pd.to_datetime(mem["valid_from"])
    mem["to"] = pd.to_datetime(mem["valid_to"].replace("", "2200-01-01"))
    mem = mem.sort_values(["true_person_id", "from"])
    same = mem["true_person_id"] == mem["true_person_id"].shift()
    assert (mem["from"][same] > mem["to"].shift()[same]).all()
    assert (mem["from"] <= mem["to"]).all()


def test_true_outcomes_are_recorded_episodes(estate_small: Estate, records: pd.DataFrame) -> None:
    newest = estate_small.summary.newest.isoformat()
    sc = _csv(estate_small.newest / "social_care.csv")
    rec = records[(records["extract_date"] == newest) & (records["source"] == "social_care")]
    sc = sc.merge(rec, left_on="episode_id", right_on="record_key")
    outcomes = _csv(estate_small.truth / "outcomes.csv")
    assert set(outcomes["outcome_type"]) == {"s47_enquiry", "cp_plan"}
    lookback = (pd.Timestamp(newest) - pd.DateOffset(years=6)).date().isoformat()
    window = outcomes[outcomes["start_date"] >= lookback]
    seen = set(zip(sc["true_person_id"], sc["episode_type"], sc["start_date"], strict=True))
    found = [(p, t, d) in seen for p, t, d in zip(window["true_person_id"], window["outcome_type"],
                                                  window["start_date"], strict=True)]  # fmt: skip
    assert len(found) > 50
    assert sum(found) / len(found) > 0.98  # the rest hit a planted malformed value


def test_parameters_are_written(estate_small: Estate) -> None:
    bias = json.loads((estate_small.truth / "recording_bias.json").read_text())
    assert bias["enabled"] is True and bias["police_asb_subject_multiplier"] == 1.5
    assert bias["codes"] == ["BCRB", "BAFR", "BOTH", "MWBC"]
    config = json.loads((estate_small.truth / "config.json").read_text())
    assert config["people"] == 6_000 and config["scenario"] == "data-loss"
    assert len(config["extract_dates"]) == 3
    rates = json.loads((estate_small.truth / "base_rates.json").read_text())
    assert {"referrals_per_10k", "persistent_absence", "latent_need_auc"} <= set(rates["figures"])


def test_without_truth_out_nothing_of_the_truth_is_written(tmp_path: Path) -> None:
    summary = generate_estate(
        EstateConfig(people=1_500, seed=1, history_months=0), tmp_path / "landing"
    )
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(w.startswith("landing/2026-11-01/") for w in written)
    assert len(written) == 8
    assert summary.truth_out is None


def test_truth_inside_the_landing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outside the landing"):
        generate_estate(
            EstateConfig(people=1_000), tmp_path / "landing", tmp_path / "landing" / "truth"
        )
    assert not (tmp_path / "landing").exists()


def test_objections_name_real_people(estate_50k: Estate) -> None:
    objections = _csv(estate_50k.newest / "objections.csv")
    rec = _csv(estate_50k.truth / "records.csv")
    rec = rec[
        (rec["source"] == "objections")
        & (rec["extract_date"] == estate_50k.summary.newest.isoformat())
    ]
    people = _csv(estate_50k.truth / "people.csv")
    merged = objections.merge(rec, left_on="objection_id", right_on="record_key").merge(
        people, on="true_person_id"
    )
    assert len(merged) == len(objections) >= 20
    assert (merged["dob_x"] == merged["dob_y"]).all()
    same_first = (merged["first_name_x"].str.lower() == merged["first_name_y"].str.lower()).mean()
    assert same_first >= 0.75  # light noise (nicknames, typos) on a few forms only


def test_summary_counts_rows_of_the_newest_drop(estate_small: Estate) -> None:
    for name in AGENCY_FILES:
        rows = len(_csv(estate_small.newest / f"{name}.csv", usecols=[0]))
        assert estate_small.summary.rows_of(name) == rows
    assert (
        "people" in str(estate_small.summary.as_dict())
        and estate_small.summary.as_table().row_count > 10
    )
