"""Train, evaluate and audit one candidate model, judged before it may ever flag anyone.

The pipeline calls :func:`train_and_judge` once per run: the fitted model, its evaluation on the
pooled test dates with the performance gate, and its fairness audit with the fairness gate come
back together, so nothing is persisted as *approved* before both gates have decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from safeguard.features.outcomes import TimeSplit
from safeguard.models.evaluation import EvaluationConfig, ModelEvaluation, evaluate_risk_model
from safeguard.models.fairness import FairnessAudit, FairnessConfig, audit_fairness
from safeguard.models.training import FittedRisk, RiskModelConfig, fit_risk_model


@dataclass(frozen=True)
class ReleaseConfig:
    """Everything that decides a release: how to train, how to evaluate, how to audit."""

    risk: RiskModelConfig
    evaluation: EvaluationConfig
    fairness: FairnessConfig


@dataclass(frozen=True)
class Release:
    """A judged candidate: usable only when ``approved``."""

    fitted: FittedRisk
    evaluation: ModelEvaluation
    audit: FairnessAudit

    @property
    def approved(self) -> bool:
        """Both blocking gates passed."""
        return bool(self.evaluation.gate.passed and self.audit.gate.passed)


ROW_KEYS = ("as_of_date", "family_key")


def content_order(frame: pd.DataFrame, *beside: pd.DataFrame | None) -> pd.DataFrame:
    """``frame``'s rows in an order set by what they hold, the family key deciding last.

    Rows arrive sorted by ``family_key``, a keyed pseudonym: another pseudonym key would
    reorder them, and with them every tie in a ranking, every bootstrap resample and every
    random sample, so the same records would give other figures. Sorted by date, then every
    other column of ``frame`` and of the ``beside`` frames (attributes and truth joined on
    ``as_of_date, family_key``), rows that still tie hold the same values everywhere and are
    interchangeable for every figure, whatever their keys.
    """
    keys = frame[list(ROW_KEYS)].astype({"family_key": "string"})
    table = frame.drop(columns=["family_key"]).reset_index(drop=True)
    for i, side in enumerate(b for b in beside if b is not None):
        extra = [c for c in side.columns if c not in ROW_KEYS]
        if not extra or not set(ROW_KEYS) <= set(side.columns):
            continue
        side = side[[*ROW_KEYS, *extra]].astype({"family_key": "string"})
        side = side.drop_duplicates(list(ROW_KEYS)).rename(columns={c: f"{i}:{c}" for c in extra})
        joined = keys.merge(side, on=list(ROW_KEYS), how="left")
        table = pd.concat([table, joined.drop(columns=list(ROW_KEYS))], axis=1)
    table["family_key"] = keys["family_key"].to_numpy()
    by = ["as_of_date", *(c for c in table.columns if c not in ROW_KEYS), "family_key"]
    ranks = pd.DataFrame({c: table[c].rank(method="dense", na_option="bottom") for c in by})
    order = ranks.sort_values(by, kind="stable").index.to_numpy()
    return frame.iloc[order].reset_index(drop=True)


def train_and_judge(
    training_frame: pd.DataFrame,
    sensitive_features: pd.DataFrame,
    *,
    config: ReleaseConfig,
    split: TimeSplit | None = None,
    truth: pd.DataFrame | None = None,
    leakage: pd.DataFrame | None = None,
) -> Release:
    """Fit on the training dates, evaluate and audit on the pooled test dates.

    Parameters
    ----------
    training_frame : from ``safeguard.features.outcomes.build_training_frame``.
    sensitive_features : ``as_of_date, family_key`` + attributes at the test dates, built
        only from records dated before each (``safeguard.features.protected``).
    truth : synthetic estates only (``safeguard.models.truth.truth_at_dates``): oracles and equal need.
    split : the time-ordered split (default: ``config.risk.split(training_frame)``).
    leakage : ``safeguard.features.protected.attribute_leakage`` of ``sensitive_features``.
    """
    # Key-independent row order: the same records give the same figures under any key.
    training_frame = content_order(training_frame, sensitive_features, truth)
    fitted = fit_risk_model(training_frame, config=config.risk, split=split)
    evaluation = evaluate_risk_model(fitted, training_frame, config=config.evaluation, truth=truth)
    has_groups = truth is not None and "bias_group" in truth and truth["bias_group"].notna().any()
    audit = audit_fairness(
        fitted, training_frame, sensitive_features, config=config.fairness, truth=truth,
        truth_group_columns=("bias_group",) if has_groups else (), leakage=leakage,
    )  # fmt: skip
    return Release(fitted=fitted, evaluation=evaluation, audit=audit)
