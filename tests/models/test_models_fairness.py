"""Fairness audit: hand-checked metrics, suppression, fairlearn agreement, planted bias caught,
and a gate that decides with equivalence tests (pass / fail / inconclusive / not assessable)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from sklearn.metrics import precision_score

from safeguard.models.fairness import (
    AuditDimension,
    FairnessConfig,
    audit_predictions,
    metric_frame,
)
from safeguard.models.fairness_gate import (
    FairnessGate,
    RatioEvidence,
    SignOff,
    decide,
    evaluate_fairness_gate,
    holm,
)
from safeguard.models.fairness_stats import GroupSums, between_groups, group_estimates
from safeguard.models.fairness_truth import at_equal_need, proxy_check
from safeguard.models.metrics import Bootstrap

TINY = FairnessConfig(total_capacity=1, dimensions=(AuditDimension("g", "test"),), intersections=(),
                      min_group_size=3, min_cell=1, n_boot=50)  # fmt: skip


def _small_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    # group A: 6 families, group B: 4, group C: 2 (below the minimum size of 3)
    y = np.array([1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0])
    sel = np.array([1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0])
    prob = np.array([0.6, 0.3, 0.4, 0.1, 0.1, 0.1, 0.5, 0.4, 0.3, 0.2, 0.9, 0.1])
    groups = pd.DataFrame({"g": list("AAAAAABBBBCC")})
    return y, prob, sel, groups


def test_metrics_agree_with_hand_computation() -> None:
    y, prob, sel, groups = _small_table()
    audit = audit_predictions(y, prob, sel, groups, config=TINY)
    table = audit.group_metrics.set_index(["group", "metric"])["value"]
    # A: TP=1 (row 0), FP=1 (row 2), FN=1 (row 1), TN=3
    assert table["A", "selection_rate"] == pytest.approx(2 / 6)
    assert table["A", "precision"] == pytest.approx(1 / 2)
    assert table["A", "false_positive_rate"] == pytest.approx(1 / 4)
    assert table["A", "false_negative_rate"] == pytest.approx(1 / 2)
    assert table["A", "mean_predicted"] == pytest.approx(1.6 / 6)
    assert table["A", "observed_over_expected"] == pytest.approx(2 / 1.6)
    assert table["A", "recall"] == pytest.approx(1 / 2)
    assert table["A", "negative_mean_score"] == pytest.approx(0.7 / 4)
    # B: TP=1, FP=2, FN=0, TN=1
    assert table["B", "precision"] == pytest.approx(1 / 3)
    assert table["B", "false_positive_rate"] == pytest.approx(2 / 3)
    assert table["B", "false_negative_rate"] == pytest.approx(0.0)
    # ratio to the rest: A's selection 2/6 against B + C's 4/6
    ratios = audit.group_metrics.set_index(["group", "metric"])["ratio_to_rest"]
    assert ratios["A", "selection_rate"] == pytest.approx((2 / 6) / (4 / 6))


def test_small_groups_are_suppressed_not_called_fair() -> None:
    y, prob, sel, groups = _small_table()
    audit = audit_predictions(y, prob, sel, groups, config=TINY)
    status = audit.groups.set_index("group")["status"]
    assert status["C"] == "suppressed (n < 3)" and status["A"] == "reported"
    assert "C" not in set(audit.group_metrics["group"])
    assert audit.groups.set_index("group").loc["C", "gated"] == False  # noqa: E712


def test_bootstrap_points_and_intervals_agree_with_fairlearn() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    groups = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.where(groups == "b", 0.3, 0.15)).astype(int)
    sel = (rng.random(n) < 0.2 + 0.3 * y).astype(int)
    codes = np.searchsorted(["a", "b", "c"], groups)
    sums = GroupSums(codes, 3, y, sel, np.full(n, 0.2))
    boot = Bootstrap(n, n_boot=200, seed=1)
    mf = MetricFrame(metrics={"selection_rate": selection_rate, "false_negative_rate": false_negative_rate},
                     y_true=y, y_pred=sel, sensitive_features=groups, n_boot=60, ci_quantiles=[0.025, 0.975],
                     random_state=2)  # fmt: skip
    ours = group_estimates(sums, boot)["false_negative_rate"]["value"]
    for j, g in enumerate(["a", "b", "c"]):
        assert ours[j].value == pytest.approx(mf.by_group.loc[g, "false_negative_rate"])
        lo = mf.by_group_ci[0].loc[g, "false_negative_rate"]
        hi = mf.by_group_ci[1].loc[g, "false_negative_rate"]
        assert ours[j].lower == pytest.approx(lo, abs=0.04) and ours[j].upper == pytest.approx(
            hi, abs=0.04
        )
    diff, ratio = between_groups(sums, boot, "selection_rate")
    assert diff.value == pytest.approx(mf.difference()["selection_rate"])
    assert ratio.value == pytest.approx(mf.ratio()["selection_rate"])


def test_weighted_metric_frame_equals_fairlearn_on_every_row() -> None:
    # The audit gives fairlearn each distinct (group, outcome, flag) once with its row count as
    # sample weight; every value must be the very float fairlearn gives on the rows themselves,
    # including groups with no flags, no outcomes, only outcomes, and a single row.
    rng = np.random.default_rng(11)
    n = 3000
    groups = rng.choice(["a", "b", "c", "d & e"], size=n, p=[0.5, 0.3, 0.15, 0.05])
    y = (rng.random(n) < np.where(groups == "b", 0.3, 0.1)).astype(float)
    sel = (rng.random(n) < 0.1 + 0.4 * y).astype(float)
    sel[groups == "c"] = 0.0  # no flags: precision 0 by zero_division
    y[groups == "d & e"] = 1.0  # only outcomes: no false positive rate denominator
    groups = np.r_[groups, ["z"]]
    y, sel = np.r_[y, [0.0]], np.r_[sel, [1.0]]

    def precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(precision_score(y_true, y_pred, zero_division=0))

    plain = MetricFrame(
        metrics={"count": count, "selection_rate": selection_rate, "precision": precision,
                 "false_positive_rate": false_positive_rate,
                 "false_negative_rate": false_negative_rate},
        y_true=y, y_pred=sel, sensitive_features=groups,
    )  # fmt: skip
    fast = metric_frame(y, sel, pd.Series(groups, dtype="string"))
    pd.testing.assert_frame_equal(
        fast.by_group.astype(float), plain.by_group.astype(float), check_exact=True
    )
    pd.testing.assert_series_equal(
        fast.overall.astype(float), plain.overall.astype(float), check_exact=True
    )
    assert fast.by_group.loc["a", "count"] == (groups == "a").sum()


def _population(bias: float, seed: int = 0, n: int = 6000) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.25, "X", "Y")
    need = rng.normal(size=n) + np.where(group == "X", 0.3, 0.0)  # X has more true need
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.5 + need)))).astype(int)
    logit = -2.5 + need + np.where(group == "X", np.log(bias), 0.0)  # recording bias at equal need
    prob = 1 / (1 + np.exp(-logit))
    sel = (prob >= np.quantile(prob, 0.95)).astype(int)
    return y, prob, sel, need, group


def test_equal_need_analysis_separates_need_from_recording_bias() -> None:
    y, prob, sel, need, group = _population(bias=2.0)
    codes = (group == "Y").astype(int)  # 0 = X, 1 = Y
    res = at_equal_need(codes, 2, need, prob, sel, Bootstrap(len(y), n_boot=100))
    x = {k: v[0] for k, v in res.items()}
    assert x["need_ratio"].value != pytest.approx(1.0, abs=0.05)
    assert x["score_ratio_at_equal_need"].lower > 1.4  # the planted odds ratio of 2
    assert x["score_ratio_raw"].value == pytest.approx(
        x["score_ratio_need_explained"].value * x["score_ratio_at_equal_need"].value, rel=1e-6
    )
    y, prob, sel, need, group = _population(bias=1.0)
    res = at_equal_need(
        (group == "Y").astype(int), 2, need, prob, sel, Bootstrap(len(y), n_boot=100)
    )
    fair = res["score_ratio_at_equal_need"][0]
    assert fair.lower < 1.0 < fair.upper
    assert res["score_ratio_raw"][0].value > 1.1  # X is scored higher, but only for its need


GROUP = (AuditDimension("group", "test"),)


@pytest.mark.parametrize("bias", [1.0, 2.0])
def test_fairness_gate_catches_planted_bias(bias: float) -> None:
    y, prob, sel, need, group = _population(bias=bias, seed=3, n=40000)
    cfg = FairnessConfig(total_capacity=2000, dimensions=GROUP, intersections=(), n_boot=100)
    audit = audit_predictions(y, prob, sel, pd.DataFrame({"group": group}), config=cfg, need=need)
    assert audit.gate.passed is (bias == 1.0), audit.gate.reasons
    verdicts = audit.decisions.set_index(["group", "metric"])["verdict"]
    if bias == 1.0:
        assert set(verdicts) == {"pass"}
    else:
        # scores doubled for X at equal need: X over-predicted (O/E low) and over-selected
        assert verdicts["X", "oe_ratio"] == "fail"
        assert verdicts["X", "selection_ratio_at_equal_need"] == "fail"
        assert any(r.startswith("FAIL: group = X") for r in audit.gate.reasons)


def _evidence(ratio: float, se: float, expected: float = 500.0, group: str = "A",
              metric: str = "oe_ratio") -> RatioEvidence:  # fmt: skip
    return RatioEvidence("dim", group, metric, ratio, se, expected, expected)


def test_gate_verdicts_follow_the_intervals() -> None:
    gate = FairnessGate()
    table = decide(
        [
            _evidence(1.02, 0.05, group="inside"),  # 90% CI 0.94-1.11: shown within the band
            _evidence(0.5, 0.05, group="beyond"),  # clearly below 0.8
            _evidence(0.9, 0.2, group="wide"),  # cannot tell
            _evidence(1.0, 0.05, expected=12.0, group="small"),  # too few outcomes
        ],
        gate,
    ).set_index("group")["verdict"]
    assert table.to_dict() == {
        "inside": "pass", "beyond": "fail", "wide": "inconclusive", "small": "not assessable",
    }  # fmt: skip


def test_holm_keeps_many_null_comparisons_from_failing_by_chance() -> None:
    # One comparison just beyond the band fails alone; among 60 comparisons the same evidence
    # is not enough (the family-wise error of declaring any disparity stays at 5%).
    edge = _evidence(0.72, 0.045, group="edge")
    alone = decide([edge], FairnessGate()).set_index("group")["verdict"]
    crowd = [edge, *(_evidence(1.0, 0.05, group=f"g{i}") for i in range(59))]
    among = decide(crowd, FairnessGate()).set_index("group")["verdict"]
    assert alone["edge"] == "fail" and among["edge"] == "inconclusive"
    assert holm([0.001, 0.02, 0.04], 0.05) == [True, True, True]
    assert holm([0.001, 0.03, 0.04], 0.05) == [True, False, False]


def test_a_sign_off_covers_only_an_inconclusive_result_inside_the_band() -> None:
    signed = SignOff(
        "dim", "wide", "A. Patel, DPO", date(2026, 11, 1), "too few outcomes to show parity"
    )
    late = SignOff(
        "dim",
        "old",
        "A. Patel, DPO",
        date(2025, 1, 1),
        "expired long ago",
        expires=date(2025, 6, 1),
    )
    gate = FairnessGate(sign_offs=(signed, late,
                                   SignOff("dim", "off", "A. Patel, DPO", date(2026, 11, 1), "point outside band"),
                                   SignOff("dim", "beyond", "A. Patel, DPO", date(2026, 11, 1), "tries to cover a fail")),
                        today=date(2026, 12, 1), sign_off_needs_point_in_band=True)  # fmt: skip
    table = decide(
        [_evidence(0.95, 0.2, group="wide"), _evidence(0.95, 0.2, group="old"),
         _evidence(0.7, 0.2, group="off"), _evidence(0.5, 0.05, group="beyond")],
        gate,
    ).set_index("group")  # fmt: skip
    assert table.loc["wide", "verdict"] == "inconclusive, signed off"
    assert table.loc["wide", "signed_off_by"] == "A. Patel, DPO"
    assert table.loc["old", "verdict"] == "inconclusive"  # expired
    assert table.loc["off", "verdict"] == "inconclusive"  # point estimate outside the band
    assert table.loc["beyond", "verdict"] == "fail"  # a sign-off never overrides a failure
    decision = evaluate_fairness_gate(gate, [_evidence(0.95, 0.2, group="wide")])
    assert decision.result.passed
    lenient = FairnessGate(sign_offs=gate.sign_offs, today=date(2026, 12, 1))  # the default
    off = decide([_evidence(0.7, 0.2, group="off")], lenient).set_index("group").loc["off"]
    assert off["verdict"] == "inconclusive, signed off" and "outside the band" in off["note"]
    every = FairnessGate(
        sign_offs=(SignOff("dim", "*", "A. Patel, DPO", date(2026, 11, 1), "every group, demo"),)
    )
    assert (
        decide([_evidence(0.95, 0.2, group="any")], every)["verdict"].iloc[0]
        == "inconclusive, signed off"
    )
    assert not evaluate_fairness_gate(
        FairnessGate(), [_evidence(0.95, 0.2, group="wide")]
    ).result.passed


def test_leaked_group_attributes_invalidate_the_audit() -> None:
    y, prob, sel, _need, group = _population(bias=1.0, seed=3, n=4000)
    cfg = FairnessConfig(total_capacity=200, dimensions=GROUP, intersections=(), n_boot=20)
    leak = pd.DataFrame({"dimension": ["group"], "group": ["X"], "n_outcomes": [100],
                         "n_leaked": [11], "share": [0.11]})  # fmt: skip
    audit = audit_predictions(
        y, prob, sel, pd.DataFrame({"group": group}), config=cfg, leakage=leak
    )
    assert not audit.gate.passed
    assert audit.gate.reasons[0].startswith("The fairness audit is invalid")


def test_families_not_rows_are_resampled() -> None:
    # The same 500 families at 6 dates: treating the 3,000 rows as independent would make the
    # interval ~sqrt(6) too narrow; resampling families keeps it as wide as one date's.
    rng = np.random.default_rng(2)
    y1 = (rng.random(500) < 0.3).astype(float)
    y = np.tile(y1, 6)
    families = np.tile(np.arange(500), 6)
    mean = lambda w: (w @ y) / w.sum(axis=1)  # noqa: E731
    rows = Bootstrap(3000, n_boot=200, seed=1).estimate(mean)
    clustered = Bootstrap(3000, n_boot=200, seed=1, clusters=families).estimate(mean)
    one_date = Bootstrap(500, n_boot=200, seed=1).estimate(lambda w: (w @ y1) / w.sum(axis=1))
    width = lambda e: e.upper - e.lower  # noqa: E731
    assert width(clustered) > 2 * width(rows)
    assert width(clustered) == pytest.approx(width(one_date), rel=0.25)
    weights = next(Bootstrap(3000, n_boot=5, seed=1, clusters=families).weights())
    assert (weights[:, :500] == weights[:, 500:1000]).all()  # a family's rows move together


def test_proxy_check_flags_a_feature_that_encodes_the_group() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    group = rng.choice(["P", "Q"], size=n)
    X = pd.DataFrame({"leaky": (group == "P") + rng.normal(0, 0.3, n), "noise": rng.normal(size=n)})
    result = proxy_check(X, pd.DataFrame({"group": group, "other": rng.choice(["u", "v"], size=n)}))
    by_dim = result.set_index("dimension")
    assert by_dim.loc["group", "flagged"] and by_dim.loc["group", "auc"] > 0.9
    assert not by_dim.loc["other", "flagged"] and by_dim.loc["other", "auc"] < 0.6


def test_group_sums_give_the_same_points_as_metricframe() -> None:
    rng = np.random.default_rng(7)
    n = 800
    sensitive = pd.DataFrame({"g": rng.choice(["a", "b", "c"], size=n)})
    y = (rng.random(n) < 0.2).astype(int)
    prob = rng.random(n)
    sel = (prob > 0.7).astype(int)
    cfg = FairnessConfig(**{**TINY.__dict__, "min_group_size": 50, "min_cell": 5})
    with_fairlearn = audit_predictions(y, prob, sel, sensitive, config=cfg).group_metrics
    cfg_sums = FairnessConfig(**{**cfg.__dict__, "fairlearn_max_rows": 0})
    with_sums = audit_predictions(y, prob, sel, sensitive, config=cfg_sums).group_metrics
    pd.testing.assert_series_equal(
        with_fairlearn["value"], with_sums["value"], check_exact=False, rtol=1e-6
    )


def test_equal_need_is_not_reported_for_a_group_that_is_its_own_stratum() -> None:
    y, prob, sel, need, group = _population(bias=2.0, n=2000)
    codes = (group == "Y").astype(int)
    res = at_equal_need(codes, 2, need, prob, sel, Bootstrap(len(y), n_boot=20), strata=codes)
    assert all(np.isnan(e.value) for e in res["score_ratio_at_equal_need"])
    assert all(np.isfinite(e.value) for e in res["score_ratio_raw"])


def test_unknown_is_not_the_comparison_group() -> None:
    # A characteristic recorded by one agency only: families without that agency's record are
    # "Unknown" and score much lower. Recorded Y and N are treated identically, so comparing
    # either with the rest must not fail the gate; with Unknown in "the rest" it would.
    y, prob, sel, need, _ = _population(bias=1.0, seed=5)
    rng = np.random.default_rng(5)
    recorded = prob > np.quantile(prob, 0.7)  # the agency knows the higher-need families
    group = np.where(recorded, np.where(rng.random(len(y)) < 0.5, "Y", "N"), "Unknown")
    cfg = FairnessConfig(total_capacity=300, dimensions=(AuditDimension("disability", "one agency"),),
                         intersections=(), n_boot=100)  # fmt: skip
    audit = audit_predictions(
        y, prob, sel, pd.DataFrame({"disability": group}), config=cfg, need=need
    )
    assert not (audit.decisions["verdict"] == "fail").any(), audit.gate.reasons
    groups = audit.groups.set_index("group")
    assert groups.loc["Unknown", "n"] == int((group == "Unknown").sum())  # reported, with its size
    assert groups.loc["Unknown", "status"] == "not compared"
    coverage = audit.coverage.set_index("by").loc["all"]
    assert coverage["coverage"] == pytest.approx((group != "Unknown").mean())
    compared = set(audit.group_metrics["group"])
    assert compared == {"N", "Y"}


def test_an_audit_with_no_group_large_enough_still_summarises() -> None:
    """A small estate: every group suppressed, no disparity rows; the summary must not crash."""
    import json

    y, prob, sel, groups = _small_table()
    cfg = FairnessConfig(total_capacity=1, dimensions=(AuditDimension("g", "test"),), intersections=(),
                         min_group_size=1000, n_boot=10)  # fmt: skip
    audit = audit_predictions(y, prob, sel, groups, config=cfg)
    assert audit.disparities.empty
    summary = audit.summary()
    assert json.dumps(summary) and summary["disparities"] == []


def test_a_ratio_without_a_bootstrap_spread_is_not_assessable_not_failed() -> None:
    """A point estimate beyond the band with no interval (resamples undefined) is no evidence."""
    table = decide([_evidence(0.5, float("nan"), group="no-spread")], FairnessGate())
    row = table.iloc[0]
    assert row["verdict"] == "not assessable" and "no interval" in row["note"]
