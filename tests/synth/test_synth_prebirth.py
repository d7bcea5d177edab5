"""Pre-birth and newborn child protection: unborn children are referred, enquired into and put on
plans before birth, recorded under the child's identity once born, and as "Unborn" in a drop cut
before the birth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synth_testkit import Estate

from safeguard.synth import EstateConfig, generate_estate, social_care
from safeguard.synth.columns import BeforeBirth, Const, Dates, Vocab


def _csv(path: Path, **kw: object) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)


def _with_truth(drop: Path, truth: Path) -> pd.DataFrame:
    """social_care.csv rows of a drop with their true person, true dob and family at birth."""
    sc = _csv(drop / "social_care.csv")
    rec = _csv(truth / "records.csv")
    rec = rec[(rec["extract_date"] == drop.name) & (rec["source"] == "social_care")]
    people = _csv(truth / "people.csv", usecols=["true_person_id", "dob", "first_name"])
    sc = sc.merge(
        rec[["record_key", "true_person_id"]], left_on="episode_id", right_on="record_key"
    )
    return sc.merge(people, on="true_person_id", suffixes=("", "_true"))


@pytest.fixture(scope="module")
def outcomes(estate_50k: Estate) -> pd.DataFrame:
    out = _csv(estate_50k.truth / "outcomes.csv")
    dob = _csv(estate_50k.truth / "people.csv", usecols=["true_person_id", "dob"])
    out = out.merge(dob, on="true_person_id")
    out["before_birth"] = (pd.to_datetime(out["dob"]) - pd.to_datetime(out["start_date"])).dt.days
    return out


def test_every_true_start_has_a_family(outcomes: pd.DataFrame) -> None:
    assert (outcomes["true_family_id"] != "").all()


def test_unborn_children_start_enquiries_and_plans(outcomes: pd.DataFrame) -> None:
    window = outcomes[outcomes["start_date"] >= "2020-11-01"]
    unborn = window[window["before_birth"] > 0]
    cp = window["outcome_type"] == "cp_plan"
    share = (cp & (window["before_birth"] > 0)).sum() / cp.sum()
    assert 0.03 <= share <= 0.14, share
    assert (unborn["outcome_type"] == "s47_enquiry").sum() >= 10
    # referred in the four calendar months before the birth month (plans up to ~6 weeks later)
    assert unborn["before_birth"].max() <= 5 * 31


def test_babies_are_at_higher_risk_than_older_children(outcomes: pd.DataFrame) -> None:
    """Under-ones (unborn included) start more plans per year of age than older children."""
    cp = outcomes[
        (outcomes["outcome_type"] == "cp_plan") & (outcomes["start_date"] >= "2020-11-01")
    ]
    years = -cp["before_birth"] / 365.25
    assert (years < 1).sum() > 1.3 * ((years >= 5) & (years < 6)).sum()


def test_prebirth_episodes_are_recorded_under_the_born_child(estate_50k: Estate) -> None:
    sc = _with_truth(estate_50k.newest, estate_50k.truth)
    pre = sc[sc["start_date"] < sc["dob_true"]]
    assert len(pre) >= 30
    assert set(pre["episode_type"]) >= {"referral", "s47_enquiry", "cp_plan"}
    assert "looked_after" not in set(pre["episode_type"])  # removal happens at birth
    assert not (pre["first_name"] == "Unborn").any()
    assert (pre["dob"] == pre["dob_true"]).mean() > 0.95  # the born child's dob (noise aside)
    # the address is the mother's, i.e. (nearly always) the family the baby is born into
    mem = _csv(estate_50k.truth / "memberships.csv")
    first = mem.sort_values("valid_from").drop_duplicates("true_person_id")
    addresses = _csv(estate_50k.truth / "addresses.csv", usecols=["address_id", "postcode"])
    home = first.merge(addresses, on="address_id").set_index("true_person_id")["postcode"]
    squash = pre["postcode"].str.upper().str.replace(" ", "", regex=False)
    same = squash == pre["true_person_id"].map(home).str.replace(" ", "", regex=False)
    assert same.mean() > 0.8, same.mean()


def test_before_birth_column_renders_the_unborn_identity() -> None:
    dob = np.array([100, 200, 300])
    col = BeforeBirth(Vocab(np.arange(3), np.array(["Ann", "Bo", "Cy"])), dob, Const("Unborn"))
    assert col.render(np.arange(3), 200).tolist() == ["Ann", "Unborn", "Unborn"]
    assert col.render(np.arange(3), 301).tolist() == ["Ann", "Bo", "Cy"]
    dates = BeforeBirth(Dates(dob), dob, Dates(dob + 5))
    assert dates.render_csv(np.array([2]), 250).tolist() == ["1970-11-02"]


def test_a_drop_cut_before_the_birth_shows_an_unborn_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pre-birth referrals made common, the earliest of five monthly drops holds unborn
    children: named only once born, in the later drops, under the same episode ids."""
    monkeypatch.setattr(social_care, "PREBIRTH_BASE", 0.3)
    config = EstateConfig(people=3_000, seed=4, history_months=4)
    generate_estate(config, tmp_path / "landing", tmp_path / "truth")
    drops = sorted((tmp_path / "landing").iterdir())
    old = _with_truth(drops[0], tmp_path / "truth")
    malformed = _csv(tmp_path / "truth" / "malformed.csv")
    old = old[~old["episode_id"].isin(malformed["record_key"])]
    unborn = old["dob_true"] >= drops[0].name
    assert unborn.sum() >= 5
    rows = old[unborn]
    assert (rows["first_name"] == "Unborn").all()
    assert (rows["sex"] == "U").all() and (rows["nhs_number"] == "").all()
    due = (pd.to_datetime(rows["dob"]) - pd.to_datetime(rows["dob_true"])).dt.days
    assert due.abs().max() <= 40 and due.abs().mean() > 0  # an expected date, not the true one
    assert (rows["start_date"] < drops[0].name).all()
    assert not (old.loc[~unborn, "first_name"] == "Unborn").any()
    new = _with_truth(drops[-1], tmp_path / "truth").set_index("episode_id")
    later = new.reindex(rows["episode_id"])
    assert (later["first_name"] != "Unborn").all()
    assert (later["sex"].isin(["M", "F", "U"])).all()
