"""Metrics agree with scikit-learn; the performance gate passes a real signal and blocks when strict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from model_tables import training_frame, truth_of
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models import metrics as m
from models.evaluation import (
    EvaluationConfig,
    PerformanceGate,
    capacity_k,
    evaluate_gate,
    evaluate_risk_model,
)
from models.training import RiskModelConfig, fit_risk_model

FAST = RiskModelConfig(
    n_estimators=80, learning_rate=0.1, min_child_samples=40, calibration="sigmoid"
)


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


def test_bootstrap_is_seeded_and_covers_the_point() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.1).astype(int)
    score = y + rng.normal(size=2000)
    a = m.Bootstrap(2000, n_boot=100, seed=4).estimate(m.auc_roc(y, score))
    b = m.Bootstrap(2000, n_boot=100, seed=4).estimate(m.auc_roc(y, score))
    assert a == b and a.lower < a.value < a.upper
    assert a.upper - a.lower < 0.1


def test_capacity_scaling() -> None:
    assert capacity_k(120, 5000) == 120
    assert capacity_k(120, 5000, population_size=20000) == 30
    assert capacity_k(10**6, 50) == 50


def _evaluate(gate: PerformanceGate, signal: float = 1.0) -> tuple[bool, list[str], float]:
    frame = training_frame(n_per_date=3000, seed=3, signal=signal, interaction=2.0 * signal)
    fitted = fit_risk_model(frame, config=FAST)
    truth = truth_of(frame, fitted.split.test_date)["latent_need"]
    result = evaluate_risk_model(
        fitted,
        frame,
        config=EvaluationConfig(total_capacity=60, n_boot=100, gate=gate),
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
    strict, reasons, _ = _evaluate(PerformanceGate(min_precision_lift=12.0, max_ece=0.0001))
    assert not strict
    assert sum(r.startswith("FAIL") for r in reasons) == 2
    assert reasons[-1].startswith("The performance gate failed")


def test_gate_blocks_a_model_worse_than_baseline() -> None:
    p = m.Estimate(0.3, 0.25, 0.35)
    worse = evaluate_gate(PerformanceGate(), base_rate=0.05, k=100, precision_at_capacity=p,
                          versus_baseline=m.Estimate(-0.08, -0.12, -0.03), ece=0.01)  # fmt: skip
    assert (
        not worse.passed and "baseline" in worse.reasons[1] and worse.reasons[1].startswith("FAIL")
    )
    noisy = evaluate_gate(PerformanceGate(), base_rate=0.05, k=100, precision_at_capacity=p,
                          versus_baseline=m.Estimate(-0.02, -0.05, 0.01), ece=0.01)  # fmt: skip
    assert noisy.passed
    wwcsc = evaluate_gate(PerformanceGate(require_wwcsc=True), base_rate=0.05, k=100, precision_at_capacity=p,
                          versus_baseline=m.Estimate(0.0, -0.01, 0.01), ece=0.01)  # fmt: skip
    assert not wwcsc.passed


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
        fitted, frame, config=EvaluationConfig(total_capacity=30, n_boot=50)
    )
    text = json.dumps(result.summary())
    assert "fam0" not in text  # no family identifiers
    assert json.dumps(fitted.summary())
    assert isinstance(result.calibration_curve, pd.DataFrame) and len(result.calibration_curve) >= 5
