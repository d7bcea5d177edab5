"""Evaluate the model on the held-out test date and apply the blocking performance gate.

What matters operationally is precision and recall among the families practitioners can
actually review (the capacity), so those lead, beside the logistic baseline and, when the
ground truth is known (synthetic estates), the oracle that ranks by true latent need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from models import metrics as m
from models.estimator import as_matrix
from models.training import FittedRisk, labels

WWCSC_PRECISION = 0.65  # What Works for Children's Social Care (2020) bar, set in advance


@dataclass(frozen=True)
class PerformanceGate:
    """Blocking thresholds; a council may set stricter ones.

    Attributes
    ----------
    min_precision_lift : float, default 3.0
        The lower 95% bound of precision at capacity must be at least this multiple of the
        test base rate.
    baseline_metric : {"precision_at_capacity", "auc_pr", "auc_roc"}, default "precision_at_capacity"
        Metric compared with the logistic baseline: by default the one that decides who is
        flagged. The model fails when the whole 95% paired-bootstrap interval of
        (model - baseline) lies below ``-baseline_margin``, i.e. it is worse than the baseline
        beyond sampling noise. All three differences are always reported.
    baseline_margin : float, default 0.0
    max_ece : float, default 0.05
        Largest expected calibration error (10 equal-count bins) of the calibrated model.
    require_wwcsc : bool, default False
        Also block unless precision at capacity reaches the WWCSC bar of 0.65 (always reported).
    """

    min_precision_lift: float = 3.0
    baseline_metric: Literal["precision_at_capacity", "auc_pr", "auc_roc"] = "precision_at_capacity"
    baseline_margin: float = 0.0
    max_ece: float = 0.05
    require_wwcsc: bool = False


@dataclass(frozen=True)
class EvaluationConfig:
    """How the test date is evaluated.

    Attributes
    ----------
    total_capacity : int
        Sum of workers' capacities: families practitioners can review per run.
    population_size : int, optional
        Families scored in a real run. The test set is all families at one as-of date, i.e.
        one run, so by default k = total_capacity. If the test set is a sample of that
        population, k is scaled to ``total_capacity * n_test / population_size``.
    threshold : float, default 0.2
        Operating threshold on the calibrated probability.
    """

    total_capacity: int
    population_size: int | None = None
    threshold: float = 0.2
    n_boot: int = 200
    seed: int = 0
    n_bins: int = 10
    gate: PerformanceGate = field(default_factory=PerformanceGate)


@dataclass(frozen=True)
class GateResult:
    """Outcome of a blocking gate, with one plain-English reason per check."""

    passed: bool
    reasons: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"passed": self.passed, "reasons": list(self.reasons)}


def capacity_k(total_capacity: int, n_test: int, population_size: int | None = None) -> int:
    """Number of test families practitioners could review (see :class:`EvaluationConfig`)."""
    k = total_capacity if population_size is None else total_capacity * n_test / population_size
    return int(min(max(round(k), 1), n_test))


@dataclass(frozen=True)
class ModelEvaluation:
    """Measured figures on the test date and the gate decision."""

    n_test: int
    base_rate: float
    k: int
    threshold: float
    metrics: dict[str, dict[str, m.Estimate]]
    versus_baseline: dict[str, m.Estimate]
    ece_uncalibrated: m.Estimate
    calibration_curve: pd.DataFrame
    calibration_curve_uncalibrated: pd.DataFrame
    wwcsc_met: bool
    gate: GateResult
    test_date: str
    n_boot: int

    def summary(self) -> dict[str, Any]:
        """Aggregates only, JSON-able, for Dagster metadata and the model card."""
        out: dict[str, Any] = {
            "test_date": self.test_date,
            "n_test": self.n_test,
            "n_boot": self.n_boot,
            "base_rate": round(self.base_rate, 5),
            "capacity_k": self.k,
            "threshold": self.threshold,
            "wwcsc_precision_bar_met": self.wwcsc_met,
            "gate_passed": self.gate.passed,
            "gate_reasons": list(self.gate.reasons),
            "ece_uncalibrated": self.ece_uncalibrated.as_dict(),
        }
        for model, figures in self.metrics.items():
            out[model] = {name: est.as_dict() for name, est in figures.items()}
        out["model_minus_baseline"] = {k: v.as_dict() for k, v in self.versus_baseline.items()}
        if "oracle" in self.metrics and "model" in self.metrics:
            ratio = self.metrics["model"]["precision_at_capacity"].value / max(
                self.metrics["oracle"]["precision_at_capacity"].value, 1e-12
            )
            out["precision_at_capacity_ratio_to_oracle"] = round(ratio, 4)
        return out


def _ranking_metrics(
    boot: m.Bootstrap, y: np.ndarray, score: np.ndarray, k: int
) -> dict[str, m.Estimate]:
    return {
        "auc_roc": boot.estimate(m.auc_roc(y, score)),
        "auc_pr": boot.estimate(m.average_precision(y, score)),
        "precision_at_capacity": boot.estimate(m.top_k(y, score, k)),
        "recall_at_capacity": boot.estimate(m.top_k(y, score, k, what="recall")),
    }


def _probability_metrics(
    boot: m.Bootstrap, y: np.ndarray, prob: np.ndarray, cfg: EvaluationConfig
) -> dict[str, m.Estimate]:
    t = cfg.threshold
    return {
        "brier": boot.estimate(m.brier(y, prob)),
        "ece": boot.estimate(m.ece(y, prob, cfg.n_bins)),
        "precision_at_threshold": boot.estimate(m.at_threshold(y, prob, t, what="precision")),
        "recall_at_threshold": boot.estimate(m.at_threshold(y, prob, t, what="recall")),
        "share_above_threshold": m.Estimate(float((prob >= t).mean()), np.nan, np.nan),
    }


def _metric_fn(name: str, y: np.ndarray, score: np.ndarray, k: int) -> m.ArrayFn:
    if name == "auc_pr":
        return m.average_precision(y, score)
    if name == "auc_roc":
        return m.auc_roc(y, score)
    return m.top_k(y, score, k)


def evaluate_gate(
    gate: PerformanceGate,
    *,
    base_rate: float,
    k: int,
    precision_at_capacity: m.Estimate,
    versus_baseline: m.Estimate,
    ece: float,
) -> GateResult:
    """Apply ``gate`` to measured figures; every check gives a PASS/FAIL sentence."""
    reasons: list[str] = []
    ok = True
    p = precision_at_capacity
    need = gate.min_precision_lift * base_rate
    passed = p.lower >= need
    ok &= passed
    reasons.append(
        f"{'PASS' if passed else 'FAIL'}: precision among the top {k} families (practitioner "
        f"capacity) is {p.value:.3f} (95% CI {p.lower:.3f}-{p.upper:.3f}); its lower bound must be "
        f"at least {gate.min_precision_lift:g} x the base rate {base_rate:.3f} = {need:.3f}."
    )
    d = versus_baseline
    passed = not (d.upper < -gate.baseline_margin)
    ok &= passed
    reasons.append(
        f"{'PASS' if passed else 'FAIL'}: {gate.baseline_metric} of the model minus the logistic "
        f"baseline is {d.value:+.3f} (95% CI {d.lower:+.3f} to {d.upper:+.3f}); the model fails only "
        + (
            f"if the whole interval is below {-gate.baseline_margin:g}."
            if gate.baseline_margin
            else "if the whole interval is below zero."
        )
    )
    passed = ece <= gate.max_ece
    ok &= passed
    reasons.append(
        f"{'PASS' if passed else 'FAIL'}: expected calibration error of the calibrated probability "
        f"is {ece:.4f} (limit {gate.max_ece:g})."
    )
    met = p.value >= WWCSC_PRECISION
    if gate.require_wwcsc:
        ok &= met
    reasons.append(
        f"{'MET' if met else 'NOT MET'}: the WWCSC bar (precision >= {WWCSC_PRECISION}) at capacity; "
        f"measured {p.value:.3f}"
        + ("" if gate.require_wwcsc else " (reported, not part of the gate).")
    )
    if not ok:
        reasons.append("The performance gate failed: no flags will be produced from this model.")
    return GateResult(passed=bool(ok), reasons=reasons)


def evaluate_risk_model(
    fitted: FittedRisk,
    training_frame: pd.DataFrame,
    *,
    config: EvaluationConfig,
    truth: pd.Series | pd.DataFrame | None = None,
) -> ModelEvaluation:
    """Measure the model on the split's test date against the baseline (and the oracle).

    Parameters
    ----------
    fitted : FittedRisk
    training_frame : pandas.DataFrame
        The same frame the model was fitted on; only the test-date rows are used.
    config : EvaluationConfig
    truth : pandas.Series or DataFrame, optional
        True latent need indexed by ``family_key`` (a Series, or a frame with a
        ``latent_need`` column as for ``audit_fairness``); synthetic estates only. Adds the
        oracle, which ranks the test families by true need.
    """
    with m.single_threaded_blas():
        return _evaluate(fitted, training_frame, config, truth)


def _evaluate(
    fitted: FittedRisk,
    training_frame: pd.DataFrame,
    config: EvaluationConfig,
    truth: pd.Series | None,
) -> ModelEvaluation:
    _, _, test = fitted.split.frames(training_frame)
    if test.empty:
        raise ValueError(f"no rows at the test date {fitted.split.test_date.date()}")
    y = labels(test)
    names = list(fitted.feature_names)
    k = capacity_k(config.total_capacity, len(test), config.population_size)
    boot = m.Bootstrap(len(test), n_boot=config.n_boot, seed=config.seed)
    score = fitted.model.decision_function(test[names])
    prob = fitted.model.predict_proba(test[names])[:, 1]
    raw_prob = fitted.model.predict_uncalibrated_proba(test[names])
    base_prob = fitted.baseline.predict_proba(as_matrix(test, names))[:, 1]

    results = {
        "model": {
            **_ranking_metrics(boot, y, score, k),
            **_probability_metrics(boot, y, prob, config),
        },
        "baseline": {
            **_ranking_metrics(boot, y, base_prob, k),
            **_probability_metrics(boot, y, base_prob, config),
        },
    }
    if truth is not None:
        if isinstance(truth, pd.DataFrame):
            truth = truth["latent_need"]
        need = test["family_key"].map(truth).astype(float).fillna(-np.inf).to_numpy()
        results["oracle"] = _ranking_metrics(boot, y, need, k)
    versus = {
        metric: boot.difference(
            _metric_fn(metric, y, score, k), _metric_fn(metric, y, base_prob, k)
        )
        for metric in ("auc_roc", "auc_pr", "precision_at_capacity")
    }
    base_rate = float(y.mean())
    gate = evaluate_gate(
        config.gate,
        base_rate=base_rate,
        k=k,
        precision_at_capacity=results["model"]["precision_at_capacity"],
        versus_baseline=versus[config.gate.baseline_metric],
        ece=results["model"]["ece"].value,
    )
    return ModelEvaluation(
        n_test=len(test),
        base_rate=base_rate,
        k=k,
        threshold=config.threshold,
        metrics=results,
        versus_baseline=versus,
        ece_uncalibrated=boot.estimate(m.ece(y, raw_prob, config.n_bins)),
        calibration_curve=m.calibration_table(y, prob, config.n_bins),
        calibration_curve_uncalibrated=m.calibration_table(y, raw_prob, config.n_bins),
        wwcsc_met=results["model"]["precision_at_capacity"].value >= WWCSC_PRECISION,
        gate=gate,
        test_date=fitted.split.test_date.date().isoformat(),
        n_boot=config.n_boot,
    )
