"""The council configuration turned into the domain packages' own settings objects.

The configuration itself (one validated YAML file, :class:`~safeguard.contracts.council.CouncilConfig`)
lives in :mod:`safeguard.contracts.council`, which imports no domain package; this module builds
the performance gate, the fairness gate (with its named sign-offs) and the monitoring rules from it.
The domain packages are imported when asked for, so that reading a configuration (``safeguard
config show``) does not load the model stack.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safeguard import models
    from safeguard.contracts.council import CouncilConfig
    from safeguard.models import PerformanceGate
    from safeguard.models.fairness_gate import FairnessGate
    from safeguard.monitoring import MonitoringSettings


def performance_gate(config: CouncilConfig) -> PerformanceGate:
    """The blocking performance gate the council configured."""
    from safeguard.models import PerformanceGate

    g = config.gates().performance
    return PerformanceGate(
        min_precision_lift=g.min_precision_lift, baseline_metric=g.baseline_metric,
        baseline_margin=g.baseline_margin, calibration_band=g.calibration_band,
        slope_band=g.slope_band, require_wwcsc=g.require_wwcsc,
    )  # fmt: skip


def fairness_gate(config: CouncilConfig, today: date | None = None) -> FairnessGate:
    """The blocking fairness gate the council configured, with its named sign-offs."""
    from safeguard.models.fairness_gate import FairnessGate, SignOff

    g = config.gates().fairness
    return FairnessGate(
        band=g.band, fail_confidence=g.fail_confidence,
        equivalence_confidence=g.equivalence_confidence,
        min_expected_outcomes=g.min_expected_outcomes, block_on_proxy=g.block_on_proxy,
        sign_off_needs_point_in_band=g.sign_off_needs_point_in_band,
        sign_offs=tuple(SignOff(**s.model_dump()) for s in config.fairness_gate.sign_offs),
        today=today,
    )  # fmt: skip


def monitoring_settings(config: CouncilConfig) -> MonitoringSettings:
    """The decommission rules and resume decisions (``safeguard.monitoring.MonitoringSettings``)."""
    from safeguard import monitoring as mon

    m = config.monitoring
    return mon.MonitoringSettings(
        months=m.months,
        realised_precision=mon.RealisedPrecisionRule(**m.realised_precision.model_dump()),
        estimated_precision=mon.EstimatedPrecisionRule(**m.estimated_precision.model_dump()),
        fairness_recall=mon.FairnessRecallRule(**m.fairness_recall.model_dump()),
        severe_drift=mon.SevereDriftRule(**m.severe_drift.model_dump()),
        resume_decisions=tuple(mon.ResumeDecision(**d.model_dump()) for d in m.resume_decisions),
    )


def sign_off_lines(config: CouncilConfig) -> list[str]:
    """Every sign-off as one sentence (for the DPIA, the model card and the review pack)."""
    return [sign_off.describe() for sign_off in fairness_gate(config).sign_offs]


def release_config(config: CouncilConfig, capacity: int, random_state: int) -> models.ReleaseConfig:
    """The domain settings of one release, from the council configuration."""
    from safeguard import models

    t, gates = config.training, config.gates()
    threshold = gates.threshold
    return models.ReleaseConfig(
        risk=models.RiskModelConfig(
            random_state=random_state, embargo_months=t.embargo_months,
            calibration_dates=t.calibration_dates, test_dates=t.test_dates,
            kind=config.flagging.approved_model,
        ),
        evaluation=models.EvaluationConfig(
            total_capacity=capacity, threshold=threshold, gate=performance_gate(config)
        ),
        fairness=models.FairnessConfig(
            total_capacity=capacity, threshold=threshold, gate=fairness_gate(config),
            max_leakage_share=gates.fairness.max_leakage_share,
        ),
    )  # fmt: skip
