"""The council configuration: one validated YAML file for every gate, threshold and sign-off.

Parsed once at the edge (``safeguard run --config FILE``) into typed settings; the pipeline
turns them into the domain packages' own frozen settings objects (``safeguard.models.PerformanceGate``,
``safeguard.models.FairnessGate``, ``safeguard.monitoring.MonitoringSettings``: see
:mod:`safeguard.pipelines.council`). Unknown keys are errors, and every error names the file and
the key, so a typo never silently falls back to a default. The shipped default
(``contracts/council.yaml``) and the demonstration file (``contracts/council-demo.yaml``) sit
beside this module; it imports nothing of ours but :mod:`safeguard.contracts.gates`.
"""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safeguard.contracts.gates import (
    DEFAULT_GATES,
    FairnessTolerances,
    GateSettings,
    PerformanceTolerances,
)

_PERF, _FAIR = DEFAULT_GATES.performance, DEFAULT_GATES.fairness

DEFAULT_CONFIG = "council.yaml"
#: ``safeguard demo``'s configuration: the default plus demonstration sign-offs (see its header).
DEMO_CONFIG = "council-demo.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _band(value: tuple[float, float]) -> tuple[float, float]:
    lo, hi = value
    if not 0 < lo < 1 < hi:
        raise ValueError(f"a band must satisfy 0 < lower < 1 < upper, got [{lo}, {hi}]")
    return value


def _slope_band(value: tuple[float, float]) -> tuple[float, float]:
    lo, hi = value
    if not lo < 1 < hi:
        raise ValueError(f"a slope band must satisfy lower < 1 < upper, got [{lo}, {hi}]")
    return value


class CouncilInfo(_Strict):
    name: str = "Example council (synthetic data)"


class FlaggingSettings(_Strict):
    threshold: float = Field(DEFAULT_GATES.threshold, gt=0, lt=1)
    capacity: int | None = Field(None, ge=1)
    approved_model: Literal["risk_model", "logistic_baseline"] = "risk_model"


class TrainingSettings(_Strict):
    first_as_of_months_back: int = Field(36, ge=13)
    last_as_of_months_back: int = Field(12, ge=1)
    test_dates: int = Field(6, ge=1, le=24)
    calibration_dates: int = Field(3, ge=1)
    embargo_months: int = Field(12, ge=0)
    family_snapshot_months: int = Field(1, ge=1, le=12)
    random_state: int = 0

    @model_validator(mode="after")
    def _window(self) -> TrainingSettings:
        if self.first_as_of_months_back <= self.last_as_of_months_back:
            raise ValueError(
                "first_as_of_months_back must be larger than last_as_of_months_back "
                f"({self.first_as_of_months_back} <= {self.last_as_of_months_back})"
            )
        return self


class PerformanceGateSettings(_Strict):
    # defaults: safeguard.contracts.gates.DEFAULT_GATES (the one place they are written)
    min_precision_lift: float = Field(_PERF.min_precision_lift, ge=0)
    baseline_metric: Literal["precision_at_capacity", "auc_pr", "auc_roc"] = _PERF.baseline_metric
    baseline_margin: float = Field(_PERF.baseline_margin, ge=0)
    calibration_band: tuple[float, float] = _PERF.calibration_band
    slope_band: tuple[float, float] = _PERF.slope_band
    require_wwcsc: bool = _PERF.require_wwcsc

    _bands = field_validator("calibration_band")(_band)
    _slope = field_validator("slope_band")(_slope_band)


class SignOffSettings(_Strict):
    dimension: str
    group: str
    signed_by: str = Field(min_length=3)
    signed_on: date
    reason: str = Field(min_length=10)
    metric: Literal["recall_ratio", "oe_ratio", "selection_ratio_at_equal_need"] | None = None
    expires: date | None = None


class FairnessGateSettings(_Strict):
    # defaults: safeguard.contracts.gates.DEFAULT_GATES (the one place they are written)
    band: tuple[float, float] = _FAIR.band
    fail_confidence: float = Field(_FAIR.fail_confidence, gt=0.5, lt=1)
    equivalence_confidence: float = Field(_FAIR.equivalence_confidence, gt=0.5, lt=1)
    min_expected_outcomes: float = Field(_FAIR.min_expected_outcomes, ge=1)
    max_leakage_share: float = Field(_FAIR.max_leakage_share, ge=0, le=1)
    block_on_proxy: bool = _FAIR.block_on_proxy
    sign_off_needs_point_in_band: bool = _FAIR.sign_off_needs_point_in_band
    sign_offs: tuple[SignOffSettings, ...] = ()

    _bands = field_validator("band")(_band)


class RealisedPrecisionSettings(_Strict):
    enabled: bool = True
    consecutive_months: int = Field(2, ge=1, le=12)
    confidence: float = Field(0.8, ge=0, lt=1)


class EstimatedPrecisionSettings(_Strict):
    enabled: bool = True
    consecutive_months: int = Field(3, ge=1, le=12)


class FairnessRecallSettings(_Strict):
    enabled: bool = True
    window_months: int = Field(6, ge=1, le=24)
    consecutive_windows: int = Field(2, ge=1, le=12)
    confidence: float = Field(0.99, gt=0.5, lt=1)
    metrics: tuple[Literal["recall_ratio", "oe_ratio"], ...] = ("recall_ratio",)


class SevereDriftSettings(_Strict):
    enabled: bool = True
    consecutive_months: int = Field(2, ge=1, le=12)
    psi_severe: float = Field(0.25, gt=0)
    min_severe_features: int = Field(3, ge=1)
    volume_band: tuple[float, float] = (0.67, 1.5)
    min_reference_events: float = Field(30, ge=0)

    _bands = field_validator("volume_band")(_band)


class ResumeDecisionSettings(_Strict):
    trigger: Literal["realised_precision", "estimated_precision", "fairness_recall", "severe_drift"]
    covers_through: date
    decided_by: str = Field(min_length=3)
    decided_on: date
    reason: str = Field(min_length=10)

    @model_validator(mode="after")
    def _not_before_the_evidence(self) -> ResumeDecisionSettings:
        if self.decided_on < self.covers_through:
            raise ValueError(
                f"decided_on {self.decided_on} is before covers_through {self.covers_through}: "
                "a decision can only accept evidence that existed when it was made"
            )
        return self


class MonitoringSection(_Strict):
    months: int = Field(24, ge=1, le=60)
    realised_precision: RealisedPrecisionSettings = RealisedPrecisionSettings()
    estimated_precision: EstimatedPrecisionSettings = EstimatedPrecisionSettings()
    fairness_recall: FairnessRecallSettings = FairnessRecallSettings()
    severe_drift: SevereDriftSettings = SevereDriftSettings()
    resume_decisions: tuple[ResumeDecisionSettings, ...] = ()


class CouncilConfig(_Strict):
    """The whole configuration file (see ``contracts/council.yaml`` for every key)."""

    version: Literal[1] = 1
    council: CouncilInfo = CouncilInfo()
    flagging: FlaggingSettings = FlaggingSettings()
    training: TrainingSettings = TrainingSettings()
    performance_gate: PerformanceGateSettings = PerformanceGateSettings()
    fairness_gate: FairnessGateSettings = FairnessGateSettings()
    monitoring: MonitoringSection = MonitoringSection()

    # -- domain objects -------------------------------------------------------------------
    def gates(self) -> GateSettings:
        """The operating threshold and both gates' tolerances, typed (``safeguard.contracts.gates``)."""
        perf = self.performance_gate.model_dump()
        fair = self.fairness_gate.model_dump(exclude={"sign_offs"})
        return GateSettings(
            threshold=self.flagging.threshold,
            performance=PerformanceTolerances(**perf),
            fairness=FairnessTolerances(**fair),
        )


class ConfigError(ValueError):
    """The council configuration file is missing, not YAML, or breaks a rule (key named)."""


def default_config_text() -> str:
    """The shipped default configuration, with its comments."""
    return (
        resources.files("safeguard.contracts").joinpath(DEFAULT_CONFIG).read_text(encoding="utf-8")
    )


def demo_config_path() -> Path:
    """Where the demonstration configuration is installed (``safeguard demo`` uses it)."""
    return Path(str(resources.files("safeguard.contracts").joinpath(DEMO_CONFIG)))


def parse_config(text: str, source: str = "configuration") -> CouncilConfig:
    """Validate YAML ``text``; errors name ``source`` and each offending key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return CouncilConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling against `safeguard config show`)"
            problems.append(f"{source}: {key}: {message}")
        raise ConfigError("\n".join(problems)) from None


def load_config(path: Path | str | None = None) -> CouncilConfig:
    """The configuration in ``path``, or the shipped default when ``path`` is None."""
    if path is None:
        return parse_config(default_config_text(), f"default {DEFAULT_CONFIG}")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") from None
    return parse_config(text, str(path))
