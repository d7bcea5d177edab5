"""Scoring and flag selection: exclusions, threshold, routing, capacity, accounting, ids."""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd
import pytest
from flag_tables import AS_OF, PSEUDONYMISER

from safeguard.dpia.pseudonymise import Pseudonymiser
from safeguard.flags.flagging import (
    FlagConfig,
    FlaggingInputError,
    exclusion_counts,
    family_districts,
    flag_id,
    score_families,
    select_flags,
)
from safeguard.models.estimator import RiskModel

CONFIG = FlagConfig(threshold_probability=0.2)


def scores_frame(probabilities: list[float], districts: list[str | None]) -> pd.DataFrame:
    """``family_scores`` for families ``K00, K01, ...`` (rank follows the given order)."""
    n = len(probabilities)
    return pd.DataFrame(
        {
            "family_key": [f"K{i:02d}" for i in range(n)],
            "as_of_date": pd.Timestamp(AS_OF),
            "probability": probabilities,
            "log_odds": np.log(np.asarray(probabilities) / (1 - np.asarray(probabilities))),
            "rank": range(1, n + 1),
            "band": "high",
            "model_version": "v1",
            "postcode_district": districts,
        }
    ).astype({"family_key": "string", "postcode_district": "string", "rank": "Int64"})


def workers_frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["worker_id", "role", "area_codes", "capacity"]).assign(
        team="t1", display_name="Staff Name"
    )


WORKERS = workers_frame(
    [
        ("w1", "social_worker", "NB1;NB2", 2),
        ("w2", "early_help_practitioner", "nb2 ; NB3", 3),
        ("m1", "team_manager", "NB1;NB2;NB3;NB4", 50),
    ]
)


def test_objectors_families_are_never_flagged_even_at_the_top() -> None:
    scores = scores_frame([0.9, 0.8, 0.7, 0.6, 0.5], ["NB1", "NB2", "NB3", "NB2", "NB3"])
    # the objection form (typo'd name) was linked to person P7, a member of family K00;
    # the lead resolves person -> families through the linkage; here we check the result.
    families = pd.DataFrame({"person_key": ["P7", "P8"], "family_key": ["K00", "K03"]})
    objector_families = set(families.loc[families["person_key"] == "P7", "family_key"])
    without = select_flags(
        scores, WORKERS, config=CONFIG, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    )
    assert "K00" in set(without.flags["family_key"])  # so the exclusion below is what keeps it out

    exclusions = {"objection_or_restriction": objector_families, "open_to_social_care": {"K02"}}
    chosen = select_flags(
        scores, WORKERS, config=CONFIG, excluded_family_keys=exclusions, pseudonymiser=PSEUDONYMISER
    )
    flagged = set(chosen.flags["family_key"])
    assert not flagged & (objector_families | {"K02"})
    assert chosen.excluded == {"objection_or_restriction": 1, "open_to_social_care": 1}
    assert chosen.excluded_total == 2
    assert "K00" not in set(chosen.not_flagged["family_key"])  # excluded, not "left over"


def test_a_plain_collection_of_excluded_keys_is_honoured_and_counted() -> None:
    scores = scores_frame([0.9, 0.8, 0.7], ["NB1", "NB1", "NB1"])
    chosen = select_flags(
        scores,
        WORKERS,
        config=CONFIG,
        excluded_family_keys=["K01", "nobody"],
        pseudonymiser=PSEUDONYMISER,
    )
    assert "K01" not in set(chosen.flags["family_key"])
    assert chosen.excluded == {"excluded": 1}


def test_capacity_is_respected_and_higher_ranks_win() -> None:
    scores = scores_frame([0.9, 0.85, 0.8, 0.75, 0.7, 0.65], ["NB1"] * 6)
    chosen = select_flags(
        scores, WORKERS, config=CONFIG, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    )
    assert chosen.flags["worker_id"].tolist() == ["w1", "w1"]  # only w1 covers NB1, capacity 2
    assert chosen.flags["family_key"].tolist() == ["K00", "K01"]
    assert chosen.unflagged_capacity == 4
    assert set(chosen.not_flagged["reason"]) == {"capacity"}


def test_shared_district_fills_by_remaining_capacity_with_ties_to_lowest_id() -> None:
    workers = workers_frame(
        [("w10", "social_worker", "NB2", 2), ("w1", "social_worker", "NB2", 2),
         ("w2", "early_help_practitioner", "NB2", 1)]
    )  # fmt: skip
    scores = scores_frame([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], ["NB2"] * 6)
    chosen = select_flags(
        scores, workers, config=CONFIG, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    )
    # remaining (w1, w10, w2): (2,2,1) -> w1; (1,2,1) -> w10; (1,1,1) -> w1; (0,1,1) -> w10;
    # (0,0,1) -> w2; then all full.
    assert chosen.flags["worker_id"].tolist() == ["w1", "w10", "w1", "w10", "w2"]
    assert chosen.unflagged_capacity == 1


def test_every_flag_goes_to_a_covering_practitioner_and_uncovered_are_reported(
    model: RiskModel, family_features: pd.DataFrame, districts: pd.Series
) -> None:
    config = FlagConfig(threshold_probability=0.05)
    scores = score_families(
        model, family_features, model_version="v1", as_of=AS_OF, postcode_districts=districts,
        config=config,
    )  # fmt: skip
    chosen = select_flags(
        scores, WORKERS, config=config, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    )
    areas = {
        r.worker_id: set(r.area_codes.upper().replace(" ", "").split(";"))
        for r in WORKERS.itertuples()
    }
    assert len(chosen.flags) > 0
    for row in chosen.flags.itertuples():
        assert row.worker_id in {"w1", "w2"}  # the team manager covers NB4 but gets no flags
        assert row.postcode_district in areas[row.worker_id]
    per_worker = chosen.flags["worker_id"].value_counts()
    capacity = WORKERS.set_index("worker_id")["capacity"]
    assert all(per_worker[w] <= capacity[w] for w in per_worker.index)
    nb4_above = scores.loc[
        (scores["postcode_district"] == "NB4") & (scores["probability"] >= 0.05), "family_key"
    ]
    assert len(nb4_above) > 0
    assert set(nb4_above) <= set(
        chosen.not_flagged.loc[chosen.not_flagged["reason"] == "unrouted", "family_key"]
    )
    assert chosen.unrouted_districts == {"NB4": len(nb4_above)}
    assert (
        chosen.excluded_total + chosen.below_threshold + chosen.flagged
        + chosen.unflagged_capacity + chosen.unrouted == chosen.considered == len(scores)
    )  # fmt: skip


def test_families_without_a_district_are_unrouted_not_dropped() -> None:
    scores = scores_frame([0.9, 0.8], [None, "NB1"])
    chosen = select_flags(
        scores, WORKERS, config=CONFIG, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    )
    assert chosen.unrouted == 1
    assert chosen.unrouted_districts == {"(unknown)": 1}
    assert chosen.flags["family_key"].tolist() == ["K01"]


def test_only_families_at_or_above_the_threshold_are_flagged() -> None:
    scores = scores_frame([0.5, 0.2, 0.199, 0.05], ["NB3"] * 4)
    chosen = select_flags(
        scores, WORKERS, config=CONFIG, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    )
    assert chosen.flags["family_key"].tolist() == ["K00", "K01"]
    assert chosen.above_threshold == 2 and chosen.below_threshold == 2
    assert (chosen.flags["probability"] >= 0.2).all()


def test_flag_ids_are_deterministic_and_opaque() -> None:
    scores = scores_frame([0.9, 0.8], ["NB1", "NB2"])
    first = select_flags(
        scores, WORKERS, config=CONFIG, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    )
    again = select_flags(
        scores.sample(frac=1, random_state=3),
        WORKERS,
        config=CONFIG,
        excluded_family_keys=(),
        pseudonymiser=PSEUDONYMISER,
    )
    assert first.flags["flag_id"].tolist() == again.flags["flag_id"].tolist()
    assert first.flags["flag_id"].is_unique
    assert not any("K0" in f for f in first.flags["flag_id"])
    assert flag_id("K00", AS_OF, "v1", pseudonymiser=PSEUDONYMISER) != flag_id(
        "K00", AS_OF, "v2", pseudonymiser=PSEUDONYMISER
    )
    assert flag_id("K00", AS_OF, "v1", pseudonymiser=PSEUDONYMISER) != flag_id(
        "K00", date(2024, 8, 1), "v1", pseudonymiser=PSEUDONYMISER
    )
    # Keyed: without the secret, a family key, date and version do not give the flag id.
    unkeyed = hashlib.sha256(f"K00\x1f{AS_OF.isoformat()}\x1fv1".encode()).hexdigest()[:16]
    assert flag_id("K00", AS_OF, "v1", pseudonymiser=PSEUDONYMISER) != f"flag-{unkeyed}"
    other = Pseudonymiser(b"another-secret-0123456789abcdef!")
    assert flag_id("K00", AS_OF, "v1", pseudonymiser=PSEUDONYMISER) != flag_id(
        "K00", AS_OF, "v1", pseudonymiser=other
    )


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        (WORKERS.drop(columns="capacity"), "capacity"),
        (workers_frame([("w1", "social_worker", "NB1", -1)]), "capacity"),
        (
            workers_frame([("w1", "social_worker", "NB1", 1), ("w1", "social_worker", "NB2", 1)]),
            "more than once",
        ),
    ],
)
def test_bad_workers_tables_are_refused_with_the_rule(workers: pd.DataFrame, message: str) -> None:
    with pytest.raises(FlaggingInputError, match=message):
        select_flags(
            scores_frame([0.9], ["NB1"]),
            workers,
            config=CONFIG,
            excluded_family_keys=(),
            pseudonymiser=PSEUDONYMISER,
        )


def test_mixed_runs_are_refused() -> None:
    scores = scores_frame([0.9, 0.8], ["NB1", "NB1"])
    scores.loc[1, "model_version"] = "v2"
    with pytest.raises(FlaggingInputError, match="model_version"):
        select_flags(
            scores, WORKERS, config=CONFIG, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
        )


def test_scores_rank_bands_and_probabilities(
    model: RiskModel, family_features: pd.DataFrame, districts: pd.Series
) -> None:
    config = FlagConfig(threshold_probability=0.1)
    scores = score_families(
        model, family_features, model_version="v1", as_of=AS_OF, postcode_districts=districts,
        config=config,
    )  # fmt: skip
    assert scores["rank"].tolist() == list(range(1, len(scores) + 1))
    assert scores["probability"].is_monotonic_decreasing
    expected = model.predict_proba(
        family_features.set_index("family_key").loc[scores["family_key"]]
    )[:, 1]
    np.testing.assert_allclose(scores["probability"].to_numpy(dtype=float), expected)
    order = {"low": 0, "medium": 1, "high": 2, "very high": 3}
    assert scores["band"].map(order).is_monotonic_decreasing
    flaggable = scores["probability"] >= 0.1
    assert scores.loc[flaggable, "band"].isin(["high", "very high"]).all()
    assert not scores.loc[~flaggable, "band"].isin(["high", "very high"]).any()
    assert scores["postcode_district"].notna().all()


def test_band_cuts_follow_the_threshold_and_base_rate() -> None:
    cuts = FlagConfig(threshold_probability=0.2).band_cuts(mean_probability=0.03)
    assert (cuts.medium, cuts.high, cuts.very_high) == pytest.approx((0.06, 0.2, 0.4))
    assert list(cuts.band(np.array([0.01, 0.06, 0.2, 0.39, 0.4]))) == [
        "low", "medium", "high", "high", "very high",
    ]  # fmt: skip
    assert FlagConfig(threshold_probability=0.6).band_cuts(0.03).very_high == pytest.approx(0.8)
    with pytest.raises(ValueError, match="threshold"):
        FlagConfig(threshold_probability=0.0)


def test_scoring_refuses_missing_dates_and_duplicates(
    model: RiskModel, family_features: pd.DataFrame, districts: pd.Series
) -> None:
    with pytest.raises(FlaggingInputError, match="no rows"):
        score_families(
            model,
            family_features,
            model_version="v1",
            as_of=date(2020, 1, 1),
            postcode_districts=districts,
        )
    doubled = pd.concat([family_features, family_features.iloc[:1]])
    with pytest.raises(FlaggingInputError, match="duplicated"):
        score_families(
            model, doubled, model_version="v1", as_of=AS_OF, postcode_districts=districts
        )


def test_family_district_is_the_latest_located_event_of_a_current_member(
    estate: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    events, families, _ = estate
    person = families.loc[
        (families["family_key"] == "F005") & (families["role"] == "child"), "person_key"
    ].iloc[0]
    leaver = families.loc[families["family_key"] == "F005", "person_key"].str.endswith("x")
    left = families.loc[families["family_key"] == "F005"].loc[leaver, "person_key"].iloc[0]
    moved = events.iloc[:2].copy()
    moved["person_key"] = [person, left]
    moved["record_pseudo"] = ["moved", "leaver-moved"]
    moved["event_date"] = pd.to_datetime(["2024-06-20", "2024-06-30"])
    moved["postcode_district"] = ["NB9", "NB8"]  # the leaver's later move must not count
    districts = family_districts(pd.concat([events, moved]), families, AS_OF)
    assert districts["F005"] == "NB9"
    assert districts["F001"] == "NB2"


def test_excluded_families_are_not_even_scored(
    model: RiskModel, family_features: pd.DataFrame, districts: pd.Series
) -> None:
    exclusions = {
        "objection_or_restriction": {"F004", "F-not-current"},
        "open_to_social_care": {"F007"},
    }
    scores = score_families(
        model, family_features, model_version="v1", as_of=AS_OF, postcode_districts=districts,
        excluded_family_keys=exclusions,
    )  # fmt: skip
    assert not {"F004", "F007"} & set(scores["family_key"])
    assert len(scores) == len(family_features) - 2
    assert exclusion_counts(family_features["family_key"], exclusions) == {
        "objection_or_restriction": 1, "open_to_social_care": 1,
    }  # fmt: skip
    everyone = set(family_features["family_key"])
    nobody = score_families(
        model, family_features, model_version="v1", as_of=AS_OF, postcode_districts=districts,
        excluded_family_keys=everyone,
    )  # fmt: skip
    assert nobody.empty and list(nobody.columns) == list(scores.columns)
