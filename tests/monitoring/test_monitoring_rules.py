"""The decommission rules on synthetic monitoring inputs: silent when nothing changes, firing
within the expected months when something does, and resumable only by a named decision.

24 monitored months of a 5,000-family population (every month's outcomes complete, so every
rule has the whole period to fire by chance); see ``monitoring_inputs.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
from monitoring_inputs import Scenario, build

from safeguard.models.fairness_gate import FairnessGate
from safeguard.monitoring import MonitoringResult, MonitoringSettings, ResumeDecision, monitor
from safeguard.monitoring.settings import (
    ESTIMATED_PRECISION,
    FAIRNESS_RECALL,
    REALISED_PRECISION,
    SEVERE_DRIFT,
    SevereDriftRule,
)
from safeguard.monitoring.triggers import evaluate_triggers, first_firing

SETTINGS = MonitoringSettings(n_boot=100, n_simulations=200)


def _months(a: pd.Timestamp, b: pd.Timestamp) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


@pytest.fixture(scope="module")
def runs() -> dict[str | None, tuple[MonitoringResult, dict]]:
    out = {}
    for change in (None, "recording_halves", "outcome_shift", "group_missed"):
        inputs, facts = build(Scenario(change=change, seed=1))
        out[change] = (monitor(inputs, SETTINGS, FairnessGate()), facts)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_an_unchanged_population_fires_nothing_over_24_months(seed: int, runs) -> None:
    result = (
        runs[None][0]
        if seed == 1
        else monitor(build(Scenario(seed=seed))[0], SETTINGS, FairnessGate())
    )
    report = result.triggers
    assert len(report.months) == 24
    assert report.firings == ()
    assert not report.blocked
    assert report.reasons()[0].startswith("PASS")
    # every rule was evaluated, on every month it could judge
    assert set(report.table["trigger"]) == {
        REALISED_PRECISION,
        ESTIMATED_PRECISION,
        FAIRNESS_RECALL,
        SEVERE_DRIFT,
    }
    real = result.performance.loc[
        (result.performance["kind"] == "realised")
        & (result.performance["metric"] == "precision_at_capacity")
    ]
    assert len(real) == 24 and real["promised_lower"].notna().all()


def test_an_agency_recording_half_stops_flags_within_two_months(runs) -> None:
    result, facts = runs["recording_halves"]
    report = result.triggers
    assert report.blocked
    first = first_firing(report, SEVERE_DRIFT)
    assert first is not None and 0 <= _months(facts["change_month"], first) <= 2
    # nothing fired before the change
    assert all(f.as_of_date >= facts["change_month"] for f in report.firings)
    text = " ".join(report.reasons())
    assert "DECOMMISSIONED" in text and "police" in text and "training window" in text
    drift = result.drift.loc[
        (result.drift["kind"] == "source_volume") & (result.drift["name"] == "police")
    ]
    after = drift.loc[drift["as_of_date"] >= facts["change_month"], "drift"]
    assert after.between(0.35, 0.65).all()


def test_the_drift_rule_is_what_stops_flags_when_recording_halves(runs) -> None:
    """Turning the rule off lets the same evidence through (the control can fail)."""
    result, _ = runs["recording_halves"]
    off = replace(
        SETTINGS,
        severe_drift=SevereDriftRule(enabled=False),
        estimated_precision=replace(SETTINGS.estimated_precision, enabled=False),
    )
    report = evaluate_triggers(result.performance, result.fairness, result.drift, off)
    assert not report.blocked


def test_outcomes_that_stop_following_the_score_fire_the_realised_precision_rule(runs) -> None:
    result, facts = runs["outcome_shift"]
    first = first_firing(result.triggers, REALISED_PRECISION)
    assert first is not None
    # a month's window covers the 12 months after it: the rule can react from the month whose
    # window first reaches the change, and must have by the month after the change
    assert -11 <= _months(facts["change_month"], first) <= 1
    reason = next(f.reason for f in result.triggers.firings if f.trigger == REALISED_PRECISION)
    assert "promised lower bound" in reason and "flagged families went on to the outcome" in reason


def test_a_group_whose_outcomes_the_model_misses_fires_the_fairness_rule(runs) -> None:
    result, facts = runs["group_missed"]
    first = first_firing(result.triggers, FAIRNESS_RECALL)
    assert first is not None and -11 <= _months(facts["change_month"], first) <= 6
    fired = result.fairness.loc[result.fairness["verdict"] == "fail"]
    assert set(fired["metric"]) <= {"recall_ratio", "oe_ratio"}
    assert ("sex_children", "F") in set(zip(fired["dimension"], fired["group"], strict=True))
    girls = fired.loc[(fired["metric"] == "recall_ratio") & (fired["group"] == "F"), "ratio"]
    assert len(girls) and (girls < 0.8).all()  # (the rest, boys, is its mirror image above 1.25)


def test_a_named_decision_resumes_flagging_until_the_rule_fires_again(runs) -> None:
    result, facts = runs["recording_halves"]
    last = max(result.triggers.months)
    covers_all = (
        ResumeDecision(
            trigger=SEVERE_DRIFT,
            covers_through=last.date(),
            decided_by="A. Example, Director of Children's Services",
            decided_on=date(2027, 1, 10),
            reason="Police moved to a new records system; volumes confirmed with the force.",
        ),
        ResumeDecision(
            trigger=ESTIMATED_PRECISION,
            covers_through=last.date(),
            decided_by="A. Example, Director of Children's Services",
            decided_on=date(2027, 1, 10),
            reason="Same cause as the drift: fewer police records lower the scores.",
        ),
    )
    accepted = evaluate_triggers(
        result.performance,
        result.fairness,
        result.drift,
        replace(SETTINGS, resume_decisions=covers_all),
    )
    assert not accepted.blocked
    assert any("ACCEPTED" in line and "A. Example" in line for line in accepted.reasons())
    earlier = tuple(
        replace(d, covers_through=(facts["change_month"] + pd.DateOffset(months=3)).date())
        for d in covers_all
    )
    partly = evaluate_triggers(
        result.performance,
        result.fairness,
        result.drift,
        replace(SETTINGS, resume_decisions=earlier),
    )
    assert partly.blocked
    assert all(
        f.as_of_date > facts["change_month"] + pd.DateOffset(months=3) for f in partly.open_firings
    )


def test_a_firing_recorded_earlier_stays_open_until_a_decision_covers_it(runs) -> None:
    from safeguard.monitoring.triggers import empty_report, with_earlier_firings

    result, _ = runs["recording_halves"]
    earlier = result.triggers.table
    quiet = with_earlier_firings(empty_report(SETTINGS), earlier, SETTINGS)
    assert quiet.blocked  # e.g. a newly trained model with no month scored yet
    assert all("earlier monitoring run" in f.reason for f in quiet.open_firings)
    # carried again and again: the note is not repeated
    again = with_earlier_firings(empty_report(SETTINGS), quiet.table, SETTINGS)
    assert all(f.reason.count("earlier monitoring run") == 1 for f in again.open_firings)
    decided = replace(SETTINGS, resume_decisions=tuple(
        ResumeDecision(trigger=t, covers_through=max(result.triggers.months).date(),
                       decided_by="A. Example, DPO", decided_on=date(2027, 1, 10),
                       reason="Reviewed: the change is explained and accepted.")
        for t in (SEVERE_DRIFT, ESTIMATED_PRECISION)))  # fmt: skip
    assert not with_earlier_firings(empty_report(decided), earlier, decided).blocked
    assert with_earlier_firings(result.triggers, None, SETTINGS) is result.triggers
