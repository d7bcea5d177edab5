"""One monitoring pass: every monitored month judged against the promise, drift and the rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from safeguard.models.fairness_gate import FairnessGate
from safeguard.monitoring.drift import (
    feature_drift,
    missing_source_drift,
    score_drift,
    volume_drift,
)
from safeguard.monitoring.fairness import fairness_windows
from safeguard.monitoring.performance import (
    REALISED,
    estimated_performance,
    monitoring_frame,
    realised_performance,
)
from safeguard.monitoring.promise import Promise
from safeguard.monitoring.settings import MonitoringSettings
from safeguard.monitoring.triggers import TriggerReport, evaluate_triggers, with_earlier_firings


@dataclass(frozen=True)
class MonitoringInputs:
    """What one monitoring pass reads (aggregated before anything is written).

    Attributes
    ----------
    scores : ``family_scores_history`` rows of the monitored months (one model version).
    outcomes : ``safeguard.features.outcomes.outcome_labels`` at those months.
    promise : the scoring model's promise (:class:`~safeguard.monitoring.promise.Promise`).
    capacity, threshold : the operating rule.
    sensitive : audit attributes at those months (``safeguard.features.protected``), optional.
    harm : ``as_of_date, family_key, true_harm`` (synthetic estates only), optional.
    reference_features, monthly_features : model inputs in the training window and at the
        monitored months (``as_of_date, family_key`` + features).
    feature_names : the model's inputs.
    reference_probability : the model's probabilities on the reference rows.
    volumes : ``drift.monthly_volumes`` at the reference and monitored months.
    missing : ``drift.missing_sources`` at the reference and monitored months.
    reference_months : as-of months of the training window.
    volume_reference_months : every calendar month the training window spans (the volume
        reference: recording is seasonal); ``reference_months`` when not given.
    """

    scores: pd.DataFrame
    outcomes: pd.DataFrame
    promise: Promise | None
    capacity: int
    threshold: float
    sensitive: pd.DataFrame | None = None
    harm: pd.DataFrame | None = None
    reference_features: pd.DataFrame | None = None
    monthly_features: pd.DataFrame | None = None
    feature_names: Sequence[str] = ()
    reference_probability: np.ndarray | None = None
    volumes: pd.DataFrame | None = None
    missing: pd.DataFrame | None = None
    reference_months: Sequence[pd.Timestamp] = field(default_factory=tuple)
    volume_reference_months: Sequence[pd.Timestamp] | None = None
    last_recorded: Mapping[str, pd.Timestamp] | None = None


@dataclass(frozen=True)
class MonitoringResult:
    """The monitoring tables (aggregates only) and the decommission decision."""

    performance: pd.DataFrame
    fairness: pd.DataFrame
    drift: pd.DataFrame
    triggers: TriggerReport
    promise: Promise | None

    def summary(self) -> dict[str, Any]:
        """Aggregates for Dagster metadata."""
        real = self.performance.loc[(self.performance["kind"] == REALISED)
                                    & (self.performance["metric"] == "precision_at_capacity")]  # fmt: skip
        return {
            **self.triggers.summary(),
            "months_with_outcomes": len(real),
            "months_below_promise": int((real["status"] == "below promise").sum()),
            "fairness_windows": int(self.fairness["window_end"].nunique())
            if len(self.fairness)
            else 0,
            "severe_drift_rows": int((self.drift["severity"] == "severe").sum()),
        }


def monitor(
    inputs: MonitoringInputs,
    settings: MonitoringSettings,
    gate: FairnessGate,
    *,
    earlier_triggers: pd.DataFrame | None = None,
) -> MonitoringResult:
    """Realised and estimated performance, realised fairness, drift, and the rules' verdict.

    ``earlier_triggers`` is the ``monitoring_triggers`` table of the previous pass: its firings
    stay open until a resume decision covers them (:func:`~safeguard.monitoring.triggers.with_earlier_firings`).
    """
    frame = monitoring_frame(
        inputs.scores, inputs.outcomes, capacity=inputs.capacity, threshold=inputs.threshold,
        sensitive=inputs.sensitive, harm=inputs.harm,
    )  # fmt: skip
    performance = pd.concat(
        [
            realised_performance(frame, inputs.promise, n_boot=settings.n_boot, seed=settings.seed,
                                 one_sided=settings.realised_precision.confidence),
            estimated_performance(frame, inputs.promise, n_simulations=settings.n_simulations,
                                  seed=settings.seed),
        ],
        ignore_index=True,
    ).sort_values(["as_of_date", "kind", "metric"]).reset_index(drop=True)  # fmt: skip
    rule = settings.fairness_recall
    fairness = fairness_windows(
        frame, replace(gate, fail_confidence=rule.confidence),
        window_months=rule.window_months, n_boot=settings.n_boot,
        seed=settings.seed, horizon_months=settings.horizon_months,
    )  # fmt: skip
    drift = _drift(inputs, frame, settings)
    triggers = with_earlier_firings(
        evaluate_triggers(performance, fairness, drift, settings), earlier_triggers, settings
    )
    return MonitoringResult(performance, fairness, drift, triggers, inputs.promise)


def _drift(
    inputs: MonitoringInputs, frame: pd.DataFrame, settings: MonitoringSettings
) -> pd.DataFrame:
    rule = settings.severe_drift
    months = set(frame["as_of_date"].unique())
    parts = []
    if inputs.reference_features is not None and inputs.monthly_features is not None:
        monthly = inputs.monthly_features.loc[inputs.monthly_features["as_of_date"].isin(months)]
        parts.append(feature_drift(inputs.reference_features, monthly, inputs.feature_names,
                                   bins=settings.psi_bins, severe=rule.psi_severe))  # fmt: skip
    if inputs.reference_probability is not None:
        parts.append(score_drift(inputs.reference_probability, frame, bins=settings.psi_bins,
                                 severe=rule.psi_severe))  # fmt: skip
    if inputs.volumes is not None:
        volume_reference = (inputs.reference_months if inputs.volume_reference_months is None
                            else inputs.volume_reference_months)  # fmt: skip
        parts.append(volume_drift(inputs.volumes, volume_reference, band=rule.volume_band,
                                  min_reference_events=rule.min_reference_events,
                                  last_recorded=inputs.last_recorded))  # fmt: skip
    if inputs.missing is not None:
        parts.append(missing_source_drift(inputs.missing, inputs.reference_months))
    if not parts:
        from safeguard.monitoring.drift import _table

        return _table([])
    drift = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    drift = drift.loc[drift["as_of_date"].isin(months)]
    return drift.sort_values(["as_of_date", "kind", "name"]).reset_index(drop=True)
