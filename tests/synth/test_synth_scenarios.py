"""Determinism, history of extracts, the data-loss scenario, several councils, config validation."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import pandas as pd
import pytest
from synth_testkit import AGENCY_FILES, Estate, read_rows

from safeguard.synth import ConfigError, EstateConfig, RecordingBias, generate_estate


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    config = EstateConfig(people=2_500, seed=11)
    generate_estate(config, tmp_path / "a" / "landing", tmp_path / "a" / "truth")
    generate_estate(config, tmp_path / "b" / "landing", tmp_path / "b" / "truth")
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(a) == 8 * 2 + 13
    assert a == b
    generate_estate(EstateConfig(people=2_500, seed=12), tmp_path / "c" / "landing")
    c = _digests(tmp_path / "c")
    assert c["landing/2026-11-01/police.csv"] != a["landing/2026-11-01/police.csv"]


def test_history_months_write_one_drop_per_month(estate_small: Estate) -> None:
    names = sorted(p.name for p in estate_small.landing.iterdir())
    assert names == ["2026-09-01", "2026-10-01", "2026-11-01"]
    assert estate_small.summary.extract_dates == tuple(
        datetime.date.fromisoformat(n) for n in names
    )


def test_data_loss_drops_about_forty_percent_of_the_newest_police_rows(
    estate_small: Estate,
) -> None:
    def rows(when: str, name: str) -> int:
        return len(read_rows(estate_small.landing / when / f"{name}.csv")[1])

    ratio = rows("2026-11-01", "police") / rows("2026-10-01", "police")
    assert 0.52 <= ratio <= 0.68
    assert (
        0.95 <= rows("2026-10-01", "police") / rows("2026-09-01", "police") <= 1.05
    )  # earlier drops intact
    for name in ("social_care", "education", "housing", "revenues_benefits"):
        assert 0.93 <= rows("2026-11-01", name) / rows("2026-10-01", name) <= 1.07, name


def test_earlier_drops_are_the_same_world_cut_earlier(estate_small: Estate) -> None:
    for name in AGENCY_FILES:
        old = pd.read_csv(
            estate_small.landing / "2026-09-01" / f"{name}.csv", dtype=str, keep_default_na=False
        )
        new = pd.read_csv(
            estate_small.landing / "2026-10-01" / f"{name}.csv", dtype=str, keep_default_na=False
        )
        key = old.columns[0]
        shared = old.merge(new, on=key, suffixes=("_old", "_new"))
        assert len(shared) > 0.9 * len(old), name
        unborn = shared["first_name_old"] == "Unborn"  # a pre-birth episode, named once born
        for column in old.columns[1:]:
            if column in ("end_date", "period_end"):
                continue  # an episode open at the earlier date may have closed since
            same = shared[f"{column}_old"] == shared[f"{column}_new"]
            if column in ("first_name", "dob", "sex", "nhs_number"):
                same |= unborn
            assert same.all(), (name, column)
        dates = [
            c for c in ("start_date", "event_date", "incident_date", "period_start") if c in new
        ]
        fresh = new[~new[key].isin(old[key])]
        assert (fresh[dates[0]] >= "2020-09-01").all(), name


def test_councils_have_their_own_areas_and_systems(estate_small: Estate) -> None:
    areas = pd.read_csv(estate_small.newest / "areas.csv", dtype=str)
    assert areas["local_authority"].nunique() == 2
    assert set(areas["postcode_district"].str[:2]) == {"NB", "VB"}
    assert sorted(areas["imd_decile"].astype(int).unique()) == list(range(1, 11))
    housing = pd.read_csv(estate_small.newest / "housing.csv", dtype=str, keep_default_na=False)
    assert set(housing["person_ref"].str[:3]) >= {"NBH", "VBH"}


@pytest.mark.parametrize("which", ["estate_small", "estate_50k"])
def test_workers_cover_every_district(which: str, request: pytest.FixtureRequest) -> None:
    estate: Estate = request.getfixturevalue(which)
    workers = pd.read_csv(estate.newest / "workers.csv", dtype=str)
    areas = pd.read_csv(estate.newest / "areas.csv", dtype=str)
    practitioners = workers[workers["role"] != "team_manager"]
    assert set(";".join(practitioners["area_codes"]).split(";")) == set(areas["postcode_district"])
    assert practitioners["capacity"].astype(int).between(8, 30).all()


def test_worker_capacity_is_a_few_percent_of_households(estate_50k: Estate) -> None:
    workers = pd.read_csv(estate_50k.newest / "workers.csv", dtype=str)
    capacity = workers.loc[workers["role"] != "team_manager", "capacity"].astype(int).sum()
    assert 0.01 <= capacity / estate_50k.summary.households <= 0.03


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"people": 10}, "people"),
        ({"councils": 0}, "councils"),
        ({"people": 1_000, "councils": 8}, "each council"),
        ({"history_months": 30}, "history_months"),
        ({"scenario": "flood"}, "scenario"),
        ({"seed": -1}, "seed"),
        ({"extract_date": datetime.datetime(2026, 1, 1)}, "extract_date"),
        ({"recording_bias": RecordingBias(enabled=True)}, None),
    ],
)
def test_config_is_validated(kwargs: dict, message: str | None) -> None:
    if message is None:
        assert EstateConfig(**kwargs).recording_bias.codes
        return
    with pytest.raises(ConfigError, match=message):
        EstateConfig(**kwargs)


def test_recording_bias_is_validated() -> None:
    with pytest.raises(ConfigError, match="ethnicity"):
        RecordingBias(group="XXXX")
    with pytest.raises(ConfigError, match="multiplier"):
        RecordingBias(police_asb_subject_multiplier=0.0)
    assert RecordingBias(enabled=False).effective("police_asb_subject_multiplier") == 1.0
