"""Reasons: SHAP additivity on the calibrated probability, grouping, text, and evidence."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from flag_tables import AS_OF

from safeguard.features.dictionary import FEATURE_DICTIONARY, FEATURE_NAMES, RECENCY_CAP_DAYS
from safeguard.flags.reasons import (
    EVIDENCE_RULES,
    ExplanationInputError,
    ReasonConfig,
    attribute,
    concept_of,
    evidence_items,
    explain_family,
    explain_flags,
)
from safeguard.models.estimator import RiskModel

TS = pd.Timestamp(AS_OF)
Estate = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _flags_for(family_features: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    keys = family_features["family_key"].iloc[:n].tolist()
    return pd.DataFrame({"flag_id": [f"flag-{k}" for k in keys], "family_key": keys})


@pytest.fixture(scope="module")
def explanations(model: RiskModel, family_features: pd.DataFrame, estate: Estate) -> pd.DataFrame:
    events, families, _ = estate
    flags = _flags_for(family_features)
    return explain_flags(model, family_features, flags, events, families, as_of=AS_OF)


def test_attributions_add_up_to_the_calibrated_probability(
    model: RiskModel, family_features: pd.DataFrame
) -> None:
    attrs = attribute(model, family_features)
    total = attrs.base_probability + attrs.contributions.to_numpy().sum(axis=1)
    np.testing.assert_allclose(total, model.predict_proba(family_features)[:, 1], atol=1e-6)
    raw = attrs.base_log_odds + attrs.log_odds.to_numpy().sum(axis=1)
    np.testing.assert_allclose(raw, model.decision_function(family_features), atol=1e-6)


def test_each_flag_reasons_base_and_other_add_up_to_the_probability_shown(
    explanations: pd.DataFrame, model: RiskModel, family_features: pd.DataFrame
) -> None:
    shown = model.predict_proba(family_features.set_index("family_key"))[:, 1]
    by_key = dict(zip(family_features["family_key"], shown, strict=True))
    for key, rows in explanations.groupby("family_key"):
        total = rows["base_probability"].iloc[0] + rows["contribution"].sum()
        total += rows["other_contribution"].iloc[0]
        assert total == pytest.approx(by_key[key], abs=1e-6)
        assert rows["probability"].iloc[0] == pytest.approx(by_key[key], abs=1e-6)


def test_reasons_are_ranked_limited_and_worded_with_direction_and_size(
    explanations: pd.DataFrame,
) -> None:
    for _, rows in explanations.groupby("flag_id"):
        assert rows["reason_rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["contribution"].abs().is_monotonic_decreasing
        assert (rows["direction"] == "raised").sum() <= 4
        assert (rows["direction"] == "lowered").sum() <= 2
    raised = explanations["direction"] == "raised"
    assert (explanations.loc[raised, "contribution"] > 0).all()
    assert (explanations.loc[~raised, "contribution"] < 0).all()
    assert explanations.loc[raised, "text"].str.contains(": raised the indicator ").all()
    assert explanations.loc[~raised, "text"].str.contains(": lowered the indicator ").all()
    assert explanations["text"].str.match(r"^[A-Z0-9]").all()
    assert explanations["text"].str.contains("a lot|moderately|slightly").all()


def test_lowered_reasons_appear_whenever_negative_contributions_exist(
    model: RiskModel, family_features: pd.DataFrame, explanations: pd.DataFrame
) -> None:
    attrs = attribute(model, family_features.iloc[:12])
    negative = (attrs.contributions.to_numpy() <= -ReasonConfig().min_points).any(axis=1)
    assert negative.any()
    keys = family_features["family_key"].iloc[:12].to_numpy()
    lowered = set(explanations.loc[explanations["direction"] == "lowered", "family_key"])
    assert lowered == set(keys[negative])


def test_size_words_are_relative_to_the_familys_own_movement_from_the_base() -> None:
    config = ReasonConfig()
    # flagged family at 30% with base 3%: reference 27 points -> a lot >= 6.75, moderately >= 2.7
    assert config.size_word(0.07, 0.03, 0.30) == "a lot"
    assert config.size_word(-0.03, 0.03, 0.30) == "moderately"
    assert config.size_word(0.02, 0.03, 0.30) == "slightly"
    # near the base the reference is the base itself, so small moves stay small
    assert config.size_word(0.005, 0.03, 0.031) == "moderately"
    assert config.size_word(0.002, 0.03, 0.031) == "slightly"
    assert config.size_word(0.008, 0.03, 0.031) == "a lot"


def test_split_model_columns_are_summed_into_their_dictionary_feature() -> None:
    rng = np.random.default_rng(0)
    n = 1500
    X = pd.DataFrame(
        {
            "police_da_incidents_12m__victim": rng.poisson(0.5, n),
            "police_da_incidents_12m__suspect": rng.poisson(0.5, n),
            "fam_children": rng.integers(1, 4, n),
        }
    )
    y = (rng.random(n) < 0.05 + 0.1 * (X.iloc[:, 0] + X.iloc[:, 1] > 1)).astype(int)
    model = RiskModel(n_estimators=20, min_child_samples=20, calibration="sigmoid").fit(X, y)
    attrs = attribute(model, X)
    assert list(attrs.contributions.columns) == ["police_da_incidents_12m", "fam_children"]
    raw = model.booster_.predict(X.to_numpy(dtype=float), pred_contrib=True)
    np.testing.assert_allclose(attrs.log_odds["police_da_incidents_12m"], raw[:, 0] + raw[:, 1])
    total = attrs.base_probability + attrs.contributions.sum(axis=1)
    np.testing.assert_allclose(total, model.predict_proba(X)[:, 1], atol=1e-6)
    with pytest.raises(KeyError, match="feature dictionary"):
        concept_of("shoe_size")


def test_every_dictionary_feature_has_an_evidence_rule() -> None:
    assert set(EVIDENCE_RULES) == set(FEATURE_NAMES)


def _incidents(rows: pd.DataFrame) -> int:
    ids = rows["group_pseudo"].astype("object").where(rows["group_pseudo"].notna(), rows.index)
    return len(set(zip(ids, rows["event_type"], strict=True)))


def _recomputed(feature: str, rows: pd.DataFrame, items: list[dict[str, object]]) -> float:
    """The feature value implied by its evidence (mirrors the dictionary's descriptions)."""
    kind = EVIDENCE_RULES[feature].kind
    if kind.startswith("members"):
        return len(items) if feature != "fam_youngest_child_age" else np.nan
    if kind == "latest":
        return (
            min((TS - rows["event_date"].max()).days, RECENCY_CAP_DAYS)
            if len(rows)
            else RECENCY_CAP_DAYS
        )
    if kind == "sessions_excluded":
        return float(rows["sessions_excluded"].sum())
    if kind == "attendance_lowest":
        per = rows.groupby("person_key")[
            ["sessions_possible", "sessions_missed_authorised", "sessions_missed_unauthorised"]
        ].sum()
        return (
            float((1 - (per.iloc[:, 1] + per.iloc[:, 2]) / per.iloc[:, 0]).min())
            if len(rows)
            else np.nan
        )
    if kind == "attendance_persistent":
        return float(rows["person_key"].nunique())
    if feature.endswith("_gbp_max_12m"):
        return float(rows["amount_gbp"].max()) if len(rows) else 0.0
    if feature.endswith("_gbp_12m"):
        return float(rows["amount_gbp"].sum())
    count = _incidents if feature.startswith("police_") else len
    if feature.endswith("change_6m"):
        recent = rows["event_date"] >= TS - pd.DateOffset(months=6)
        return float(count(rows.loc[recent]) - count(rows.loc[~recent]))
    return float(count(rows))


def test_evidence_reproduces_every_feature_value_built_from_events(
    estate: Estate, family_features: pd.DataFrame
) -> None:
    events, families, _ = estate
    pairs = pd.DataFrame(
        [(k, f) for k in family_features["family_key"] for f in FEATURE_NAMES],
        columns=["family_key", "feature"],
    )
    items = evidence_items(pairs, events, families, as_of=AS_OF)
    by_record = events.set_index("record_pseudo")
    checked = {f: 0 for f in FEATURE_NAMES}
    for row in family_features.itertuples(index=False):
        for feature in FEATURE_NAMES:
            found = items.get((row.family_key, feature), [])
            records = by_record.loc[[i["record_pseudo"] for i in found if i["record_pseudo"]]]
            value = getattr(row, feature)
            # features that depend on the children's ages cite the children (their ages are shown)
            if feature in (
                "edu_attendance_change_6m",
                "fam_youngest_child_age",
                "fam_children_under_17",
            ):
                assert bool(found) == (not pd.isna(value)), (row.family_key, feature)
                continue
            expected = _recomputed(feature, records, found)
            assert (pd.isna(value) and pd.isna(expected)) or float(value) == pytest.approx(
                expected
            ), (row.family_key, feature, value, expected)
            checked[feature] += bool(found)
    sparse = [f for f, n in checked.items() if n == 0 and not f.startswith("edu_permanent")]
    assert len(sparse) <= 3, f"estate too sparse to test these features: {sparse}"


def test_every_reason_has_evidence_that_exists_within_the_window(
    explanations: pd.DataFrame, estate: Estate
) -> None:
    events, families, _ = estate
    by_record = events.set_index("record_pseudo")
    members = families.loc[families["valid_to"].isna()]
    specs = {s.name: s for s in FEATURE_DICTIONARY}
    for r in explanations.itertuples(index=False):
        items = json.loads(r.evidence)
        family_people = set(members.loc[members["family_key"] == r.family_key, "person_key"])
        if not items:  # only an absence may have no records
            absent = r.value == 0 or pd.isna(r.value) or r.value >= RECENCY_CAP_DAYS
            assert absent, (r.family_key, r.feature, r.value)
            continue
        for item in items:
            assert item["person_key"] in family_people
            if item["source"] == "families":
                assert specs[r.feature].agency == "family_composition"
                continue
            record = by_record.loc[item["record_pseudo"]]
            assert record["event_type"] == item["event_type"]
            assert record["source"] == item["source"] == specs[r.feature].agency
            assert record["event_date"].strftime("%Y-%m-%d") == item["event_date"]
            assert record["person_key"] == item["person_key"]
            assert record["event_date"] < TS
            months = specs[r.feature].window_months or 24
            anchor = (
                record["end_date"]
                if item["event_type"] == "education.attendance"
                else record["event_date"]
            )
            assert anchor >= TS - pd.DateOffset(months=months)


def test_leavers_and_future_events_never_count_as_evidence(
    explanations: pd.DataFrame, estate: Estate
) -> None:
    events, _, _ = estate
    items = [i for e in explanations["evidence"] for i in json.loads(e)]
    assert items
    assert not any(str(i["person_key"]).endswith("x") for i in items)
    future = set(events.loc[events["event_date"] >= TS, "record_pseudo"])
    assert future and not future & {i["record_pseudo"] for i in items}


def test_explain_family_matches_the_flag_pass_and_is_fast(
    model: RiskModel, family_features: pd.DataFrame, estate: Estate, explanations: pd.DataFrame
) -> None:
    events, families, _ = estate
    key = family_features["family_key"].iloc[3]
    started = time.perf_counter()
    one = explain_family(
        model, key, family_features, events, families, as_of=AS_OF, flag_id=f"flag-{key}"
    )
    assert time.perf_counter() - started < 1.0
    from_pass = explanations.loc[explanations["family_key"] == key].reset_index(drop=True)
    pd.testing.assert_frame_equal(one, from_pass)
    everything = explain_family(
        model, key, family_features, events, families, as_of=AS_OF, top_n=None, top_lowered=None
    )
    assert len(everything) >= len(one)
    assert everything["flag_id"].isna().all()
    with pytest.raises(ExplanationInputError, match="no family_features row"):
        explain_family(model, "nobody", family_features, events, families, as_of=AS_OF)


def test_flags_without_features_are_refused(
    model: RiskModel, family_features: pd.DataFrame, estate: Estate
) -> None:
    events, families, _ = estate
    flags = pd.DataFrame({"flag_id": ["flag-x"], "family_key": ["missing-family"]})
    with pytest.raises(ExplanationInputError, match="no family_features row"):
        explain_flags(model, family_features, flags, events, families, as_of=AS_OF)


def test_missing_columns_in_events_or_families_are_named(
    model: RiskModel, family_features: pd.DataFrame, estate: Estate
) -> None:
    events, families, _ = estate
    flags = _flags_for(family_features, 2)
    with pytest.raises(ExplanationInputError, match="events lacks column"):
        explain_flags(
            model, family_features, flags, events.drop(columns="dash_risk"), families, as_of=AS_OF
        )
    with pytest.raises(ExplanationInputError, match="families lacks column"):
        explain_flags(
            model, family_features, flags, events, families.drop(columns="valid_to"), as_of=AS_OF
        )
