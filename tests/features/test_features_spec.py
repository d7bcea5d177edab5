"""Features are generated from the dictionary's aggregates: each is checked against a query
written by hand here (not a copied output), and the evidence rules come from the same place."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from random_estate import DATES, random_estate

from safeguard.features.build import build_family_features_many, feature_sql
from safeguard.features.dictionary import FEATURE_DICTIONARY, USED_EVENT_TYPES, Aggregate
from safeguard.flags.reasons import EVIDENCE_RULES

_MEMBERS = """
  SELECT a.d AS as_of, f.family_key, f.person_key, f.role
  FROM families f, (SELECT unnest($dates::TIMESTAMP[]) AS d) a
  WHERE (f.valid_from IS NULL OR f.valid_from <= a.d) AND (f.valid_to IS NULL OR f.valid_to > a.d)
"""
HAND_WRITTEN = {
    # the largest arrears on a notice in the last 12 months, 0 when none
    "housing_arrears_gbp_max_12m": f"""
      SELECT m.as_of, m.family_key, coalesce(max(e.amount_gbp), 0) AS v
      FROM ({_MEMBERS}) m LEFT JOIN events e ON e.person_key = m.person_key
       AND e.event_type = 'housing.arrears_notice' AND e.event_date < m.as_of
       AND e.event_date >= m.as_of - INTERVAL 12 MONTH
      GROUP BY ALL""",
    # distinct DA incidents (group_pseudo, else the record) with a high DASH grade, 12 months
    "police_da_high_risk_12m": f"""
      SELECT m.as_of, m.family_key, count(DISTINCT coalesce(e.group_pseudo, e.record_pseudo)) AS v
      FROM ({_MEMBERS}) m LEFT JOIN events e ON e.person_key = m.person_key
       AND e.event_type = 'police.domestic_abuse' AND e.dash_risk = 'high'
       AND e.event_date < m.as_of AND e.event_date >= m.as_of - INTERVAL 12 MONTH
      GROUP BY ALL""",
    # the children's own social care episodes that started 24 to 36 months before
    "sc_children_episodes_24_36m": f"""
      SELECT m.as_of, m.family_key, count(e.record_pseudo) AS v
      FROM ({_MEMBERS}) m LEFT JOIN events e ON e.person_key = m.person_key
       AND m.role = 'child' AND starts_with(e.event_type, 'social_care.')
       AND e.event_date < m.as_of - INTERVAL 24 MONTH AND e.event_date >= m.as_of - INTERVAL 36 MONTH
      GROUP BY ALL""",
    # DA incidents in the last 6 months minus those in the 6 months before
    "police_da_change_6m": f"""
      SELECT m.as_of, m.family_key,
        count(DISTINCT coalesce(e.group_pseudo, e.record_pseudo))
          FILTER (WHERE e.event_date >= m.as_of - INTERVAL 6 MONTH)
        - count(DISTINCT coalesce(e.group_pseudo, e.record_pseudo))
          FILTER (WHERE e.event_date < m.as_of - INTERVAL 6 MONTH) AS v
      FROM ({_MEMBERS}) m LEFT JOIN events e ON e.person_key = m.person_key
       AND e.event_type = 'police.domestic_abuse'
       AND e.event_date < m.as_of AND e.event_date >= m.as_of - INTERVAL 12 MONTH
      GROUP BY ALL""",
}


@pytest.fixture(scope="module")
def estate() -> dict[str, pd.DataFrame]:
    return random_estate()


@pytest.fixture(scope="module")
def built(estate: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return build_family_features_many(
        estate["events"], estate["families"], estate["people"], DATES, children_only=False
    )


@pytest.mark.parametrize("feature", sorted(HAND_WRITTEN))
def test_generated_feature_equals_the_hand_written_query(
    feature: str, estate: dict[str, pd.DataFrame], built: pd.DataFrame
) -> None:
    con = duckdb.connect()
    con.register("events", estate["events"])
    con.register("families", estate["families"])
    hand = con.execute(HAND_WRITTEN[feature], {"dates": [pd.Timestamp(d) for d in DATES]}).df()
    hand = hand.rename(columns={"as_of": "as_of_date"}).astype({"family_key": "string"})
    hand["as_of_date"] = hand["as_of_date"].astype("datetime64[ns]")
    merged = built[["as_of_date", "family_key", feature]].merge(
        hand, on=["as_of_date", "family_key"], how="outer", validate="1:1"
    )
    assert len(merged) == len(built) > 100
    assert merged[feature].notna().all() and merged["v"].notna().all()
    assert (merged[feature].astype(float) != 0).sum() > 10  # the estate exercises the feature
    np.testing.assert_array_equal(merged[feature].astype(float), merged["v"].astype(float))


def test_snapshots_give_the_same_features_as_the_spells_they_came_from(
    estate: dict[str, pd.DataFrame], built: pd.DataFrame
) -> None:
    again = build_family_features_many(
        estate["events"], estate["snapshots"], estate["people"], DATES, children_only=False
    )
    pd.testing.assert_frame_equal(again, built)


def test_every_feature_has_one_definition_for_sql_and_evidence() -> None:
    sql = feature_sql()
    for spec in FEATURE_DICTIONARY:
        assert isinstance(spec.aggregate, Aggregate), spec.name
        assert f" AS {spec.name}" in sql, spec.name
        rule = EVIDENCE_RULES[spec.name]
        assert rule.event_types == spec.aggregate.event_types
        if spec.aggregate.event_types:
            assert rule.months == spec.window_months
    assert {t.split(".")[0] for t in USED_EVENT_TYPES} == {
        "education", "housing", "police", "social_care", "revenues_benefits"
    }  # fmt: skip
