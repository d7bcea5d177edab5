"""Risk model: calibrated monotone trees, evaluation and performance gate, fairness audit and
gate, model card and safe persistence. Pure library code (no dagster); the verbs below are what
the pipeline's assets call."""

from safeguard.models.estimator import RiskModel, fit_logistic_baseline, make_logistic_baseline
from safeguard.models.evaluation import (
    EvaluationConfig,
    GateResult,
    ModelEvaluation,
    PerformanceGate,
    evaluate_gate,
    evaluate_risk_model,
)
from safeguard.models.fairness import (
    FairnessAudit,
    FairnessConfig,
    audit_fairness,
    audit_predictions,
)
from safeguard.models.fairness_gate import FairnessGate, evaluate_fairness_gate
from safeguard.models.model_card import render_model_card, write_model_card
from safeguard.models.registry import (
    ModelRecord,
    UntrustedModelError,
    load_risk_model,
    save_risk_model,
)
from safeguard.models.release import Release, ReleaseConfig, train_and_judge
from safeguard.models.training import FittedRisk, RiskModelConfig, fit_risk_model

__all__ = [
    "EvaluationConfig",
    "FairnessAudit",
    "FairnessConfig",
    "FairnessGate",
    "FittedRisk",
    "GateResult",
    "ModelEvaluation",
    "ModelRecord",
    "PerformanceGate",
    "Release",
    "ReleaseConfig",
    "RiskModel",
    "RiskModelConfig",
    "UntrustedModelError",
    "audit_fairness",
    "audit_predictions",
    "evaluate_fairness_gate",
    "evaluate_gate",
    "evaluate_risk_model",
    "fit_logistic_baseline",
    "fit_risk_model",
    "load_risk_model",
    "make_logistic_baseline",
    "render_model_card",
    "save_risk_model",
    "train_and_judge",
    "write_model_card",
]
