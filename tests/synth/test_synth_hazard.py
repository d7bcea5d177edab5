"""The true monthly hazard (truth/hazards.csv) is exact: it predicts the true section 47 starts of
each family-month, component by component, and it ranks families better than latent need."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synth_testkit import Estate

from safeguard.synth import harm, police, social_care
from safeguard.synth.build import World, build_world
from safeguard.synth.config import RecordingBias
from safeguard.synth.timeline import Timeline

MONTH = pd.DateOffset(months=1)


def _csv(path: Path, **kw: object) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    ranks = pd.Series(score).rank().to_numpy()
    pos, neg = y.sum(), (~y).sum()
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


@pytest.fixture(scope="module")
def hazards(estate_50k: Estate) -> pd.DataFrame:
    hz = _csv(estate_50k.truth / "hazards.csv")
    hz["hazard"] = hz["hazard"].astype(float)
    return hz


@pytest.fixture(scope="module")
def family_months(estate_50k: Estate, hazards: pd.DataFrame) -> pd.DataFrame:
    """Every listed family-month with its hazard and whether a child started an s47 in it."""
    outcomes = _csv(estate_50k.truth / "outcomes.csv")
    s47 = outcomes[outcomes["outcome_type"] == "s47_enquiry"]
    month = pd.to_datetime(s47["start_date"]).dt.to_period("M").dt.start_time
    starts = pd.DataFrame(
        {"true_family_id": s47["true_family_id"], "month_start": month.dt.strftime("%Y-%m-%d")}
    )
    starts = starts[starts["month_start"] >= hazards["month_start"].min()].drop_duplicates()
    merged = hazards.merge(starts.assign(start=True), on=["true_family_id", "month_start"],
                           how="outer")  # fmt: skip
    merged["start"] = merged["start"].astype("boolean").fillna(False).astype(bool)
    return merged


def test_hazard_rows_cover_the_window_once_per_family_month(
    estate_50k: Estate, hazards: pd.DataFrame
) -> None:
    assert list(hazards.columns) == ["true_family_id", "month_start", "hazard"]
    assert not hazards.duplicated(["true_family_id", "month_start"]).any()
    assert hazards["hazard"].between(0, 1, inclusive="right").all()
    assert (hazards["month_start"].str[8:] == "01").all()
    newest = pd.Timestamp(estate_50k.summary.newest)
    earliest = pd.Timestamp(estate_50k.summary.extract_dates[0])
    assert hazards["month_start"].min() == (earliest - MONTH * 72).strftime("%Y-%m-%d")
    assert hazards["month_start"].max() == (newest - MONTH).strftime("%Y-%m-%d")
    families = _csv(estate_50k.truth / "families.csv")
    assert set(hazards["true_family_id"]) <= set(families["true_family_id"])
    assert hazards.groupby("month_start").size().min() > 1_000  # families with children


def test_no_s47_start_falls_in_a_family_month_without_hazard(family_months: pd.DataFrame) -> None:
    assert family_months.loc[family_months["start"], "hazard"].notna().all()


def test_hazard_sum_matches_true_s47_starts(family_months: pd.DataFrame) -> None:
    h = family_months["hazard"]
    expected, observed = h.sum(), int(family_months["start"].sum())
    z = (observed - expected) / np.sqrt((h * (1 - h)).sum())
    assert observed > 800
    assert 0.93 <= observed / expected <= 1.07, (observed, expected)
    assert abs(z) < 4


def test_higher_hazard_deciles_have_more_starts(family_months: pd.DataFrame) -> None:
    fm = family_months.assign(
        decile=pd.qcut(family_months["hazard"].rank(method="first"), 10, labels=False)
    )
    by = fm.groupby("decile").agg(e=("hazard", "sum"), v=("hazard", lambda h: (h * (1 - h)).sum()),
                                  o=("start", "sum"), n=("start", "size"))  # fmt: skip
    rate = by["o"] / by["n"]
    assert rate.iloc[9] > 5 * rate.iloc[:5].mean()
    assert rate.iloc[8] > rate.iloc[4] > 0
    assert (np.abs(by["o"] - by["e"]) < 4 * np.sqrt(by["v"]) + 2).all(), by


def test_every_cp_plan_follows_an_s47_of_the_same_child(estate_50k: Estate) -> None:
    """Why the hazard counts s47 starts: every CP plan is the second start of a chain."""
    outcomes = _csv(estate_50k.truth / "outcomes.csv")
    outcomes["start"] = pd.to_datetime(outcomes["start_date"])
    cp = outcomes[outcomes["outcome_type"] == "cp_plan"]
    s47 = outcomes[outcomes["outcome_type"] == "s47_enquiry"]
    joined = cp.merge(s47, on="true_person_id", suffixes=("", "_s47"))
    gap = (joined["start"] - joined["start_s47"]).dt.days
    preceded = set(
        joined.loc[gap.between(1, 60), "start_date"]
        + joined.loc[gap.between(1, 60), "true_person_id"]
    )
    assert len(cp) > 100
    assert set(cp["start_date"] + cp["true_person_id"]) <= preceded


def test_label_oracle_ranks_better_than_latent_need(
    estate_50k: Estate, hazards: pd.DataFrame
) -> None:
    """1 - prod(1 - h) over the 12 months after a date beats the need oracle (issue 12 item 6),
    pooled over nine quarterly dates, in AUC and in precision at the top 2% of families."""
    outcomes = _csv(estate_50k.truth / "outcomes.csv")
    start = pd.to_datetime(outcomes["start_date"])
    need = _csv(estate_50k.truth / "families.csv").set_index("true_family_id")["latent_need"]
    month = pd.to_datetime(hazards["month_start"])
    newest = pd.Timestamp(estate_50k.summary.newest)
    ys, oracle, needs, top = [], [], [], []
    for k in range(12, 37, 3):
        as_of = newest - MONTH * k
        window = hazards[(month >= as_of) & (month < as_of + MONTH * 12)]
        log_survive = np.log1p(-window["hazard"]).groupby(window["true_family_id"]).sum()
        at_risk = hazards.loc[month == as_of, "true_family_id"]
        hit = set(outcomes.loc[(start >= as_of) & (start < as_of + MONTH * 12), "true_family_id"])
        frame = pd.DataFrame({"y": at_risk.isin(hit).to_numpy(),
                              "oracle": -np.expm1(log_survive.reindex(at_risk).to_numpy()),
                              "need": need.reindex(at_risk).astype(float).to_numpy()})  # fmt: skip
        n = int(0.02 * len(frame))
        top.append((frame.nlargest(n, "oracle")["y"].mean(), frame.nlargest(n, "need")["y"].mean()))
        ys.append(frame["y"].to_numpy())
        oracle.append(frame["oracle"].to_numpy())
        needs.append(frame["need"].to_numpy())
    y = np.concatenate(ys)
    assert y.sum() > 1_000
    label_auc, need_auc = _auc(y, np.concatenate(oracle)), _auc(y, np.concatenate(needs))
    assert label_auc > need_auc + 0.015, (label_auc, need_auc)
    label_top, need_top = np.mean(top, axis=0)
    assert label_top > 1.3 * need_top, (label_top, need_top)


def test_families_file_holds_the_need_people_csv_reports(estate_50k: Estate) -> None:
    families = _csv(estate_50k.truth / "families.csv")
    assert list(families.columns) == ["true_family_id", "latent_need"]
    assert families["true_family_id"].is_unique
    people = _csv(estate_50k.truth / "people.csv", usecols=["true_family_id", "latent_need"])
    merged = people.merge(families, on="true_family_id", suffixes=("", "_f"))
    assert len(merged) == len(people)
    assert (merged["latent_need"] == merged["latent_need_f"]).all()


# -- exactness, component by component, on replays of one small world -------------------


@pytest.fixture(scope="module")
def world() -> tuple[World, np.ndarray]:
    timeline = Timeline.build(datetime.date(2026, 11, 1), 0)
    names = ("population", "geography", "births", "dynamics", "police")
    rngs = {
        n: np.random.default_rng(s)
        for n, s in zip(names, np.random.SeedSequence(5).spawn(5), strict=True)
    }
    built = build_world(4_000, 1, timeline, rngs)
    _, da_counts = police.domestic_abuse(rngs["police"], built)
    return built, da_counts


def _replays(world: tuple[World, np.ndarray], runs: int = 12) -> tuple[int, float, float, int]:
    """Observed s47 family-months, expected (sum of hazards), its variance, and how many
    observed family-months had no hazard row, over independent replays of social care."""
    w, da_counts = world
    observed, expected, variance, unlisted = 0, 0.0, 0.0, 0
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        care = social_care.simulate(rng, w, da_counts, RecordingBias(police_referral_multiplier=2.0),
                                    harm.simulate(rng, w))  # fmt: skip
        ep = care.episodes
        s47 = ep.fields["etype"] == social_care.E["s47_enquiry"]
        fam = w.family_on(ep.person[s47], ep.day[s47])
        seen = set(zip(fam.tolist(), w.month_of(ep.day[s47]).tolist(), strict=True))
        listed = set(zip(care.hazard_family.tolist(), care.hazard_month.tolist(), strict=True))
        observed += len(seen)
        unlisted += len(seen - listed)
        expected += float(care.hazard.sum())
        variance += float((care.hazard * (1 - care.hazard)).sum())
    return observed, expected, variance, unlisted


def _only(
    monkeypatch: pytest.MonkeyPatch, agencies: bool, prebirth: bool, after_harm: bool
) -> None:
    if not agencies:
        monkeypatch.setattr(social_care, "REFERRAL_BASE", 0.0)
    monkeypatch.setattr(social_care, "PREBIRTH_BASE", 0.05 if prebirth else 0.0)
    for kind in harm.KINDS:
        monkeypatch.setitem(harm.REPORTED, kind, 1.0 if after_harm else 0.0)
        if after_harm:
            scaled = tuple((lo, hi, 20 * r) for lo, hi, r in harm.AGE_RATES[kind])
            monkeypatch.setitem(harm.AGE_RATES, kind, scaled)


@pytest.mark.parametrize(
    ("agencies", "prebirth", "after_harm"),
    [(True, False, False), (False, True, False), (False, False, True), (True, True, True)],
    ids=["agency-referrals", "pre-birth", "after-harm", "all-routes"],
)
def test_hazard_is_exact_on_every_route(world: tuple[World, np.ndarray], monkeypatch: pytest.MonkeyPatch,
                                        agencies: bool, prebirth: bool, after_harm: bool) -> None:  # fmt: skip
    _only(monkeypatch, agencies, prebirth, after_harm)
    observed, expected, variance, unlisted = _replays(world)
    assert observed > 400
    assert unlisted == 0
    assert abs(observed - expected) < 4 * np.sqrt(variance), (observed, expected)
    assert 0.9 <= observed / expected <= 1.1


def test_default_world_calibration(world: tuple[World, np.ndarray]) -> None:
    observed, expected, variance, _ = _replays(world)
    assert abs(observed - expected) < 4 * np.sqrt(variance), (observed, expected)
