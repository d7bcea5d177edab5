"""Decommission rules and resume decisions: the council's settings, typed for the domain.

A council writes them in the ``monitoring:`` section of its configuration file (validated in
``safeguard.contracts.council``, built by ``safeguard.pipelines.council``); these frozen objects are what the monitoring functions take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

#: Rule names, as written in the configuration and in every report.
REALISED_PRECISION = "realised_precision"
FAIRNESS_RECALL = "fairness_recall"
SEVERE_DRIFT = "severe_drift"
ESTIMATED_PRECISION = "estimated_precision"
TRIGGERS = (REALISED_PRECISION, FAIRNESS_RECALL, SEVERE_DRIFT, ESTIMATED_PRECISION)


@dataclass(frozen=True)
class RealisedPrecisionRule:
    """Fires when realised precision at capacity stays below the promised lower bound.

    Attributes
    ----------
    consecutive_months : complete months in a row that must fall short.
    confidence : a month falls short only when its own upper bound at this (one-sided)
        confidence lies below the promised lower bound: one month's precision is measured on
        one run's flags, so its point estimate scatters well beyond the pooled promise's
        interval by chance alone. ``0`` compares the point estimate.
    """

    enabled: bool = True
    consecutive_months: int = 2
    confidence: float = 0.8


@dataclass(frozen=True)
class EstimatedPrecisionRule:
    """Early warning before outcomes are known: the *estimated* precision at capacity
    (confidence-based performance estimation from the calibrated probabilities) below the
    promised lower bound for ``consecutive_months`` months in a row."""

    enabled: bool = True
    consecutive_months: int = 3


@dataclass(frozen=True)
class FairnessRecallRule:
    """Fires when a group's realised recall ratio is established outside the fairness band.

    Each judgement pools the last ``window_months`` complete months (one month holds too few
    outcomes per group) and applies the release gate's FAIL rule (the Holm-adjusted interval
    at ``confidence`` wholly outside the gate's band) to ``metrics``; the rule fires after
    ``consecutive_windows`` windows in a row in which the same group fails. ``confidence`` is
    stricter than the release gate's 95%: the rule is judged again every month on windows
    that share most of their data, and over two years of unchanged synthetic runs 95% fired
    by chance in about one run in ten (``bench/bench_monitoring_rules.py``).
    """

    enabled: bool = True
    window_months: int = 6
    consecutive_windows: int = 2
    confidence: float = 0.99
    metrics: tuple[str, ...] = ("recall_ratio",)


@dataclass(frozen=True)
class SevereDriftRule:
    """Fires when the population or the recording changes severely for some months in a row.

    A month is severe when an agency's recorded volume (events in the month before the
    as-of date, relative to the same calendar month in the training window) lies outside
    ``volume_band`` beyond counting noise (its one-sided 95% Poisson interval outside too), when at least ``min_severe_features`` features, or the score itself,
    have a population stability index (PSI) of ``psi_severe`` or more against the training
    window.
    """

    enabled: bool = True
    consecutive_months: int = 2
    psi_severe: float = 0.25
    min_severe_features: int = 3
    volume_band: tuple[float, float] = (0.67, 1.5)
    min_reference_events: float = 30.0


@dataclass(frozen=True)
class ResumeDecision:
    """A recorded, named decision to resume flagging after a rule fired.

    It accepts the evidence of ``trigger`` at as-of months up to ``covers_through``; a later
    firing of the same rule stops flagging again.
    """

    trigger: str
    covers_through: date
    decided_by: str
    decided_on: date
    reason: str

    def covers(self, trigger: str, month: date | pd.Timestamp) -> bool:
        """True if this decision accepts a firing of ``trigger`` at ``month``."""
        return trigger == self.trigger and pd.Timestamp(month) <= pd.Timestamp(self.covers_through)

    def describe(self) -> str:
        """One sentence for the check, the review pack and the monitoring page."""
        return (
            f"{self.trigger}: flagging resumed by {self.decided_by} on "
            f"{self.decided_on.isoformat()}, accepting the evidence up to "
            f"{pd.Timestamp(self.covers_through).strftime('%Y-%m')}: {self.reason}"
        )


@dataclass(frozen=True)
class MonitoringSettings:
    """Every monitoring setting (see ``contracts/council.yaml``, section ``monitoring``)."""

    months: int = 24
    horizon_months: int = 12
    realised_precision: RealisedPrecisionRule = field(default_factory=RealisedPrecisionRule)
    estimated_precision: EstimatedPrecisionRule = field(default_factory=EstimatedPrecisionRule)
    fairness_recall: FairnessRecallRule = field(default_factory=FairnessRecallRule)
    severe_drift: SevereDriftRule = field(default_factory=SevereDriftRule)
    resume_decisions: tuple[ResumeDecision, ...] = ()
    n_boot: int = 200
    n_simulations: int = 400
    psi_bins: int = 10
    seed: int = 0
