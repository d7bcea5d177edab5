"""Blocking coverage estimated from the model, and rules added until it reaches a target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safeguard.linkage import LinkageConfig
from safeguard.linkage.blocking import (
    comparison_distributions,
    expected_coverage,
    null_shares,
    plan_blocking,
    rule_events,
)

FIRST, DOB = frozenset({"first_name"}), frozenset({"dob"})  # events: exact agreements
BOTH = frozenset({FIRST, DOB})  # a rule: all its events at once


def _comparison(column: str, m_exact: float) -> dict:
    return {
        "output_column_name": column,
        "comparison_levels": [
            {
                "sql_condition": f'"{column}_l" IS NULL OR "{column}_r" IS NULL',
                "is_null_level": True,
            },
            {"sql_condition": f'"{column}_l" = "{column}_r"', "m_probability": m_exact},
            {"sql_condition": "ELSE", "m_probability": 1 - m_exact},
        ],
    }


def test_rule_events_read_exact_agreements_only() -> None:
    assert rule_events('(l."first_name" = r."first_name") AND (l.`dob` = r.`dob`)') == {
        FIRST,
        DOB,
    }
    assert rule_events("l.dob_swap = r.dob AND l.last_name = r.last_name") == {
        frozenset({"dob", "dob_swap"}),
        frozenset({"last_name"}),
    }
    assert rule_events("l.first_name = r.first_name OR l.dob = r.dob") is None
    assert rule_events("levenshtein(l.first_name, r.first_name) <= 1") is None


def test_expected_coverage_matches_a_hand_count() -> None:
    comparisons = [_comparison("first_name", 0.8), _comparison("dob", 0.5)]
    dists = comparison_distributions(comparisons, {"first_name": 0.1, "dob": 0.0})
    # both must agree: 0.9 non-null * 0.8 exact * 0.5 exact
    assert expected_coverage(dists, [BOTH]) == pytest.approx(0.36)
    # either rule: 1 - (1 - 0.72) * (1 - 0.5)
    assert expected_coverage(dists, [frozenset({FIRST}), frozenset({DOB})]) == pytest.approx(0.86)
    # a rule the model cannot judge counts for nothing
    assert expected_coverage(dists, [None, frozenset({DOB})]) == pytest.approx(0.5)


def test_null_share_is_measured_on_random_pairs() -> None:
    rng = np.random.default_rng(0)
    names = pd.Series(np.where(rng.random(4000) < 0.5, "amy", None), dtype="string")
    shares = null_shares(pd.DataFrame({"first_name": names}), [_comparison("first_name", 0.9)])
    assert shares["first_name"] == pytest.approx(0.75, abs=0.03)  # 1 - 0.5 * 0.5


def _plan(budget: int):
    table = pd.DataFrame(
        {"first_name": ["amy", "amy", "ben", "cal"], "dob": ["2001-01-01"] * 2 + [None, "x"]}
    )
    dists = comparison_distributions([_comparison("first_name", 0.5), _comparison("dob", 0.5)], {})
    rules = ["l.first_name = r.first_name AND l.dob = r.dob"]
    return plan_blocking(table, rules, dists, target=0.7, budget=budget)


def test_looser_rules_are_added_until_the_target() -> None:
    plan = _plan(budget=100)
    assert plan.configured_coverage == pytest.approx(0.25)
    assert set(plan.added) == {"l.first_name = r.first_name", "l.dob = r.dob"}
    assert plan.expected_coverage == pytest.approx(0.75) and not plan.below_target
    assert plan.rules[0] == "l.first_name = r.first_name AND l.dob = r.dob"


def test_nothing_is_added_beyond_the_comparison_budget() -> None:
    plan = _plan(budget=1)  # the configured rule already spends the one pair
    assert plan.added == () and plan.below_target
    assert plan.expected_coverage == pytest.approx(0.25)


def test_a_run_reports_its_blocking_estimate_and_learns_every_level(estate_result) -> None:
    plan = estate_result.blocking
    assert plan is not None
    assert plan.rules[: len(LinkageConfig().blocking_rules)] == LinkageConfig().blocking_rules
    assert 0.5 < plan.configured_coverage <= plan.expected_coverage <= 1.0
    given = next(
        c
        for c in estate_result.model_settings["comparisons"]
        if c["output_column_name"] == "first_name"
    )
    disagree = given["comparison_levels"][-1]
    assert not disagree.get("fix_m_probability") and disagree["m_probability"] != 1e-4
    recall = [n for n in estate_result.training_notes if n.startswith("prior:")]
    assert recall and "0.800" not in recall[0]  # derived from the model, not assumed
