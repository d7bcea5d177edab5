"""After go-live: monitoring that keeps the model honest, and stops it when it stops working.

Each month the pipeline compares the runs the approved model scored (``family_scores_history``)
with what happened: realised precision and recall at capacity and calibration against the
model card's promise, realised fairness ratios per group, drift of the features, the score
and each agency's recording against the training window, an estimate of performance before
the outcomes are known, and practitioners' judgements. Council-configured rules turn that
evidence into a decision: when one fires, a blocking check stops new flags until a named
decision to resume is recorded in the council's configuration. Pure library code (no dagster);
imports ``features``, ``models`` and ``dpia`` only.

Why not a monitoring library. Both candidates were installed in a throwaway environment with
this project's pins (pandas 3.1, numpy 2.4, scikit-learn 1.9, LightGBM 4.7):

* **evidently 0.7.23** installs without downgrading anything but cannot be imported under
  pandas 3 (``ImportError: cannot import name 'infer_dtype_from_object'``), and offers no
  performance estimation before labels.
* **nannyml 0.13.1** has confidence-based performance estimation (CBPE), but requires
  ``lightgbm<4.6`` (it would downgrade the model's own library), pulls about a hundred further
  packages (cloud storage SDKs, xgboost, FLAML), does not declare ``statsmodels`` which it
  imports, and sends usage analytics unless told not to.

CBPE on a calibrated model is a few lines (expected precision at capacity is the flagged
families' mean probability), so it is written here (:mod:`safeguard.monitoring.performance`) and was
checked against nannyml's on the same inputs (it differs only by nannyml's re-calibration);
drift uses the population stability index on the training window's quantile bins
(:mod:`safeguard.monitoring.drift`), and realised fairness reuses the release audit and gate
(``safeguard.models.fairness``).
"""

from safeguard.monitoring.monitor import MonitoringInputs, MonitoringResult, monitor
from safeguard.monitoring.promise import Promise, promise_of
from safeguard.monitoring.settings import (
    TRIGGERS,
    EstimatedPrecisionRule,
    FairnessRecallRule,
    MonitoringSettings,
    RealisedPrecisionRule,
    ResumeDecision,
    SevereDriftRule,
)
from safeguard.monitoring.triggers import TriggerReport, evaluate_triggers

__all__ = [
    "TRIGGERS",
    "EstimatedPrecisionRule",
    "FairnessRecallRule",
    "MonitoringInputs",
    "MonitoringResult",
    "MonitoringSettings",
    "Promise",
    "RealisedPrecisionRule",
    "ResumeDecision",
    "SevereDriftRule",
    "TriggerReport",
    "evaluate_triggers",
    "monitor",
    "promise_of",
]
