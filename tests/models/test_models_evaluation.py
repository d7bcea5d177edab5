"""Metrics agree with scikit-learn; the performance gate passes a real signal and blocks when strict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from model_tables import training_frame, truth_of
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from safeguard.models import metrics as m
from safeguard.models.evaluation import (
    EvaluationConfig,
    PerformanceGate,
    capacity_k,
    evaluate_gate,
    evaluate_risk_model,
)
from safeguard.models.training import RiskModelConfig, fit_risk_model

FAST = RiskModelConfig(
    n_estimators=80, learning_rate=0.1, min_child_samples=40, calibration="sigmoid",
    calibration_dates=1, test_dates=3, min_train_dates=2,
)  # fmt: skip


def test_metrics_match_sklearn_and_hand_counts() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.05).astype(int)
    score = np.round(y + rng.normal(size=3000), 1)  # rounded: many ties
    prob = 1 / (1 + np.exp(-(score - 3)))
    ones = np.ones((1, 3000), dtype=np.float32)
    assert m.auc_roc(y, score)(ones)[0] == pytest.approx(roc_auc_score(y, score), abs=1e-6)
    assert m.average_precision(y, score)(ones)[0] == pytest.approx(
        average_precision_score(y, score), abs=1e-6
    )
    assert m.brier(y, prob)(ones)[0] == pytest.approx(brier_score_loss(y, prob), abs=1e-6)
    top = np.argsort(-score, kind="stable")[:40]
    assert m.top_k(y, score, 40)(ones)[0] == pytest.approx(y[top].mean())
    assert m.top_k(y, score, 40, what="recall")(ones)[0] == pytest.approx(y[top].sum() / y.sum())
    sel = prob >= 0.5
    assert m.at_threshold(y, prob, 0.5, what="precision")(ones)[0] == pytest.approx(y[sel].mean())


def test_top_k_of_resamples_matches_filling_the_slots_one_row_at_a_time() -> None:
    # The fast path sums weights over a prefix of the ranking and falls back to every row when
    # a resample has not filled k slots by then; both must equal the plain slot-filling count.
    rng = np.random.default_rng(3)
    n, k = 2000, 50
    y = (rng.random(n) < 0.1).astype(int)
    score = np.round(rng.normal(size=n) + y, 2)
    w = rng.poisson(1.0, size=(6, n)).astype(np.float32)
    order = np.argsort(-score, kind="stable")
    w[0, order[: 5 * k]] = 0  # the top of the ranking absent: k is not reached in the prefix
    w[1] = 0
    w[1, order[-3:]] = 1  # fewer than k rows in all: every row counts

    def plain(row: np.ndarray, k: float) -> float:
        filled = tp = 0.0
        for i in order:
            if filled >= k:
                break
            take = min(float(row[i]), k - filled)
            tp, filled = tp + take * y[i], filled + take
        return tp

    for kk in (k, 7, n):
        got = m._top_k_tp(y, score, kk)(w)
        assert got == pytest.approx([plain(row, kk) for row in w], rel=1e-12, abs=1e-12)


def test_intervals_of_many_columns_equal_one_interval_at_a_time() -> None:
    # One np.quantile over the all-finite columns must give exactly each column's interval;
    # columns with infinities or NaNs, zeros (no log spread) or few replicates go one by one.
    rng = np.random.default_rng(8)
    reps = rng.lognormal(size=(200, 7))
    reps[5, 1] = np.inf
    reps[:190, 2] = np.nan  # ten finite replicates left
    reps[3, 3] = 0.0
    reps[:, 4] = -reps[:, 4]
    reps[:, 6] = np.nan
    points = rng.random(7)
    boot = m.Bootstrap(50, n_boot=200)
    fast = boot.intervals(points, reps)
    for j in range(7):
        plain = boot.interval(float(points[j]), reps[:, j])
        got = [fast[j].value, fast[j].lower, fast[j].upper, fast[j].se_log, fast[j].se]
        want = [plain.value, plain.lower, plain.upper, plain.se_log, plain.se]
        np.testing.assert_array_equal(got, want)


def test_bootstrap_is_seeded_and_covers_the_point() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.1).astype(int)
    score = y + rng.normal(size=2000)
    a = m.Bootstrap(2000, n_boot=100, seed=4).estimate(m.auc_roc(y, score))
    b = m.Bootstrap(2000, n_boot=100, seed=4).estimate(m.auc_roc(y, score))
    assert a == b and a.lower < a.value < a.upper
    assert a.upper - a.lower < 0.1


def test_cluster_resamples_do_not_depend_on_the_cluster_labels() -> None:
    """Family keys are keyed pseudonyms: relabelling the families (another key) must draw the
    same families, so clusters are numbered by first appearance, not by sorted label."""
    rng = np.random.default_rng(2)
    families = rng.integers(0, 300, size=900)
    y = (rng.random(900) < 0.2).astype(int)
    score = y + rng.normal(size=900)
    one = np.array([f"k{f:04d}" for f in families])  # labels sort like the families...
    other = np.array([f"k{999 - f:04d}" for f in families])  # ...and here in reverse
    a = m.Bootstrap(900, n_boot=50, seed=3, clusters=one).estimate(m.auc_roc(y, score))
    b = m.Bootstrap(900, n_boot=50, seed=3, clusters=other).estimate(m.auc_roc(y, score))
    assert a == b


def test_capacity_scaling() -> None:
    assert capacity_k(120, 5000) == 120
    assert capacity_k(120, 5000, population_size=20000) == 30
    assert capacity_k(10**6, 50) == 50


def _evaluate(gate: PerformanceGate, signal: float = 1.0) -> tuple[bool, list[str], float]:
    frame = training_frame(n_per_date=3000, seed=3, signal=signal, interaction=2.0 * signal)
    fitted = fit_risk_model(frame, config=FAST)
    truth = truth_of(frame, fitted.split.test_dates)
    result = evaluate_risk_model(
        fitted,
        frame,
        config=EvaluationConfig(total_capacity=60, n_boot=100, gate=gate, threshold=0.01),
        truth=truth,
    )
    summary = result.summary()
    oracle = summary["oracle"]["precision_at_capacity"]["value"]
    ratio = summary["precision_at_capacity_ratio_to_oracle"]
    assert ratio == pytest.approx(
        summary["model"]["precision_at_capacity"]["value"] / oracle, abs=1e-4
    )
    return result.gate.passed, result.gate.reasons, summary["model"]["auc_roc"]["value"]


def test_gate_passes_a_clear_signal_and_blocks_when_strict() -> None:
    passed, reasons, auc = _evaluate(PerformanceGate())
    assert passed, reasons
    assert auc > 0.7
    assert any("WWCSC" in r for r in reasons)  # always reported
    strict, reasons, _ = _evaluate(
        PerformanceGate(min_precision_lift=12.0, slope_band=(0.99, 1.01))
    )
    assert not strict
    assert sum(r.startswith("FAIL") for r in reasons) == 2
    assert reasons[-1].startswith("The performance gate failed")


GOOD_OE, GOOD_SLOPE = m.Estimate(1.0, 0.95, 1.05, 0.02), m.Estimate(1.0, 0.95, 1.05, 0.02, 0.025)


def _gate(gate: PerformanceGate, versus: m.Estimate, **kw: m.Estimate) -> bool:
    figures = {"observed_over_expected": GOOD_OE, "calibration_slope": GOOD_SLOPE, **kw}
    return evaluate_gate(gate, base_rate=0.05, k=100, precision_at_capacity=m.Estimate(0.3, 0.25, 0.35),
                         versus_baseline=versus, **figures)  # fmt: skip


def test_gate_blocks_a_model_worse_than_baseline() -> None:
    worse = evaluate_gate(PerformanceGate(), base_rate=0.05, k=100, precision_at_capacity=m.Estimate(0.3, 0.25, 0.35),
                          versus_baseline=m.Estimate(-0.08, -0.12, -0.03),
                          observed_over_expected=GOOD_OE, calibration_slope=GOOD_SLOPE)  # fmt: skip
    assert (
        not worse.passed and "baseline" in worse.reasons[1] and worse.reasons[1].startswith("FAIL")
    )
    assert _gate(PerformanceGate(), m.Estimate(-0.02, -0.05, 0.01)).passed
    assert not _gate(PerformanceGate(require_wwcsc=True), m.Estimate(0.0, -0.01, 0.01)).passed


def _calibration_passes(prob: np.ndarray, y: np.ndarray) -> bool:
    boot = m.Bootstrap(len(y), n_boot=100, seed=0)
    oe = boot.estimate(m.observed_over_expected(y, prob))
    slope = boot.estimate(m.calibration_slope(y, prob))
    return _gate(PerformanceGate(), m.Estimate(0.0, -0.01, 0.01),
                 observed_over_expected=oe, calibration_slope=slope).passed  # fmt: skip


def test_the_calibration_check_can_fail() -> None:
    # ECE <= 0.05 at a 2% base rate is passed by predicting 0 for everyone; these checks are not.
    rng = np.random.default_rng(11)
    logit = rng.normal(-4.3, 1.0, 60_000)
    prob = 1 / (1 + np.exp(-logit))
    y = (rng.random(len(prob)) < prob).astype(float)
    assert 0.015 < y.mean() < 0.03
    assert m.ece(y, np.zeros_like(prob))(np.ones((1, len(y))))[0] < 0.05  # the old check passed it
    assert _calibration_passes(prob, y)
    assert not _calibration_passes(np.zeros_like(prob), y)  # all zero
    assert not _calibration_passes(np.clip(2 * prob, 0, 1), y)  # doubled
    assert not _calibration_passes(prob / 2, y)  # halved
    too_sharp = 1 / (1 + np.exp(-(2 * logit + 4.3)))  # right on average, far too extreme
    assert not _calibration_passes(too_sharp, y)


def test_precision_at_capacity_is_taken_per_run() -> None:
    # Two runs; the top 2 of each are flagged, not the top 4 of both together.
    y = np.array([1, 0, 0, 0, 0, 0, 1, 1], float)
    score = np.array([0.9, 0.1, 0.05, 0.02, 0.8, 0.7, 0.6, 0.5])
    dates = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    ones = np.ones((1, 8), dtype=np.float32)
    assert m.pooled_top_k(y, score, dates, {0: 2, 1: 2})(ones)[0] == pytest.approx(1 / 4)
    assert m.pooled_top_k(y, score, dates, {0: 2, 1: 2}, what="recall")(ones)[0] == pytest.approx(
        1 / 3
    )
    assert m.top_k(y, score, 4)(ones)[0] == pytest.approx(2 / 4)  # both runs ranked together


def test_uninformative_features_fail_the_gate() -> None:
    passed, reasons, auc = _evaluate(PerformanceGate(), signal=0.0)
    assert not passed, reasons
    assert auc < 0.6
    assert reasons[0].startswith("FAIL")


def test_summary_is_plain_json() -> None:
    import json

    frame = training_frame(n_per_date=1500, seed=9)
    fitted = fit_risk_model(frame, config=FAST)
    result = evaluate_risk_model(
        fitted, frame, config=EvaluationConfig(total_capacity=30, n_boot=50, threshold=0.01)
    )
    text = json.dumps(result.summary())
    assert "fam0" not in text  # no family identifiers
    assert json.dumps(fitted.summary())
    assert isinstance(result.calibration_curve, pd.DataFrame) and len(result.calibration_curve) >= 5


def test_rows_are_ordered_by_content_not_by_family_key() -> None:
    """Another pseudonym key renames (and so reorders) the families; the order the models see
    must come out the same, ties between identical rows included."""
    from safeguard.models.release import content_order

    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame(
        {
            "family_key": [f"f{i:03d}" for i in range(n)],
            "as_of_date": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 3, n) * 30, "D"),
            "x": rng.integers(0, 3, n).astype(float),  # few values: many ties
            "label": rng.random(n) < 0.3,
        }
    )
    side = frame[["as_of_date", "family_key"]].assign(group=rng.choice(["a", "b"], n))
    renamed = {k: f"z{n - i:03d}" for i, k in enumerate(frame["family_key"])}  # reversed order
    one = content_order(frame, side)
    other = content_order(
        frame.assign(family_key=frame["family_key"].map(renamed)).iloc[::-1],
        side.assign(family_key=side["family_key"].map(renamed)),
    )
    back = {v: k for k, v in renamed.items()}
    pd.testing.assert_frame_equal(one.drop(columns="family_key"), other.drop(columns="family_key"))
    # and each row keeps its group: the families at each position carry the same attributes
    groups = side.set_index("family_key")["group"]
    assert (
        one["family_key"].map(groups).tolist() == other["family_key"].map(back).map(groups).tolist()
    )
