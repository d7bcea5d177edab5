"""The operating threshold and the gates' tolerances: one typed object, the defaults once.

:data:`DEFAULT_GATES` holds every default; the council configuration (``contracts/council.yaml``,
``safeguard.contracts.council.CouncilConfig``) takes its defaults from it and turns a council's file into
a :class:`GateSettings` (``CouncilConfig.gates()``), which the pipelines pass to the models
(``safeguard.models.PerformanceGate``, ``safeguard.models.fairness_gate.FairnessGate``, the fairness audit's
leakage limit) and to flagging (the threshold). The model packages' own dataclass defaults
are taken from here too, so a library user without a council file gets the same gates.

Imports nothing: every package may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_GATES",
    "DEFAULT_THRESHOLD",
    "FairnessTolerances",
    "GateSettings",
    "PerformanceTolerances",
]

BaselineMetric = Literal["precision_at_capacity", "auc_pr", "auc_roc"]


@dataclass(frozen=True)
class PerformanceTolerances:
    """The performance gate (``performance_gate`` in the council configuration)."""

    #: Lower 95% bound of precision at capacity must reach this multiple of the base rate.
    min_precision_lift: float = 3.0
    #: The model fails if worse than the logistic baseline on this metric beyond noise.
    baseline_metric: BaselineMetric = "precision_at_capacity"
    baseline_margin: float = 0.0
    #: 90% intervals of observed/expected outcomes and of the calibration slope lie inside.
    calibration_band: tuple[float, float] = (0.75, 1.33)
    slope_band: tuple[float, float] = (0.75, 1.33)
    #: Block unless precision at capacity reaches the WWCSC 0.65 bar (always reported).
    require_wwcsc: bool = False


@dataclass(frozen=True)
class FairnessTolerances:
    """The fairness gate and audit (``fairness_gate`` in the council configuration)."""

    #: Tolerance for every group-to-rest ratio.
    band: tuple[float, float] = (0.8, 1.25)
    fail_confidence: float = 0.95
    equivalence_confidence: float = 0.90
    min_expected_outcomes: float = 30.0
    #: The audit is invalid beyond this share of outcomes with a later-recorded attribute.
    max_leakage_share: float = 0.01
    block_on_proxy: bool = False
    sign_off_needs_point_in_band: bool = False


@dataclass(frozen=True)
class GateSettings:
    """The operating threshold and both gates' tolerances, as one council configured them."""

    #: Calibrated probability a family must reach to be flagged (a proportionality floor:
    #: capacity decides within it). Evaluation and the fairness audit judge the same figure.
    threshold: float = 0.05
    performance: PerformanceTolerances = field(default_factory=PerformanceTolerances)
    fairness: FairnessTolerances = field(default_factory=FairnessTolerances)


DEFAULT_GATES = GateSettings()
#: The operating threshold's default (``flagging.threshold``).
DEFAULT_THRESHOLD = DEFAULT_GATES.threshold
