"""Fit the risk model and its logistic baseline on a time-ordered split of the training frame."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from safeguard.features.dictionary import FEATURE_NAMES, assert_no_protected
from safeguard.features.outcomes import TimeSplit, time_ordered_split
from safeguard.models.estimator import LogisticRiskModel, RiskModel, fit_logistic_baseline


@dataclass(frozen=True)
class RiskModelConfig:
    """How the model is trained. Every field is recorded with the fitted model.

    Attributes
    ----------
    feature_names : tuple of str
        Model inputs; default every feature in the dictionary.
    embargo_months, calibration_dates, test_dates, min_train_dates : int
        See :func:`safeguard.features.outcomes.time_ordered_split`.
    calibration : {"isotonic", "sigmoid"}
    random_state : int
        Seeds the trees, the baseline and nothing else; same data + seed = same model.
    kind : {"risk_model", "logistic_baseline"}
        The candidate: the calibrated trees, or the calibrated logistic model (a council may
        approve the simpler model when the trees are not better).
    n_estimators, learning_rate, max_depth, min_child_samples, n_jobs : LightGBM settings.
    """

    feature_names: tuple[str, ...] = FEATURE_NAMES
    embargo_months: int = 12
    calibration_dates: int = 3
    test_dates: int = 6
    min_train_dates: int = 4
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"
    random_state: int = 0
    n_estimators: int = 300
    learning_rate: float = 0.03
    max_depth: int = 4
    min_child_samples: int = 200
    monotone: bool = True
    n_jobs: int = 1
    kind: Literal["risk_model", "logistic_baseline"] = "risk_model"

    def split(self, training_frame: pd.DataFrame) -> TimeSplit:
        """The time-ordered split these settings give on ``training_frame``."""
        return time_ordered_split(
            training_frame, embargo_months=self.embargo_months,
            calibration_dates=self.calibration_dates, test_dates=self.test_dates,
            min_train_dates=self.min_train_dates,
        )  # fmt: skip

    def estimator(self) -> RiskModel | LogisticRiskModel:
        """An unfitted candidate model with these settings."""
        if self.kind == "logistic_baseline":
            return LogisticRiskModel(calibration=self.calibration, random_state=self.random_state)
        return RiskModel(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_child_samples=self.min_child_samples,
            monotone=self.monotone,
            calibration=self.calibration,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )


@dataclass(frozen=True)
class FittedRisk:
    """The fitted model, its baseline, and which as-of dates were used for what."""

    model: RiskModel | LogisticRiskModel
    baseline: Pipeline
    split: TimeSplit
    config: RiskModelConfig
    n_train: int
    n_calibration: int
    train_base_rate: float
    fit_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Model inputs in order."""
        return tuple(str(n) for n in self.model.feature_names_in_)

    def training_window(self) -> dict[str, Any]:
        """JSON-able description of the split (stored with the persisted model)."""
        return {
            "train_dates": [d.date().isoformat() for d in self.split.train_dates],
            "calibration_dates": [d.date().isoformat() for d in self.split.calibration_dates],
            "test_dates": [d.date().isoformat() for d in self.split.test_dates],
            "embargo_months": self.split.embargo_months,
        }

    def summary(self) -> dict[str, Any]:
        """Aggregates only (no identifiers), for Dagster metadata."""
        return {
            **self.training_window(),
            "n_train": self.n_train,
            "n_calibration": self.n_calibration,
            "train_base_rate": round(self.train_base_rate, 5),
            "n_features": len(self.feature_names),
            "calibration": self.config.calibration,
            "random_state": self.config.random_state,
            "fit_seconds": round(self.fit_seconds, 2),
        }


def labels(frame: pd.DataFrame) -> np.ndarray:
    """The ``label`` column as 0/1 integers."""
    return frame["label"].astype("boolean").fillna(False).to_numpy(dtype=int)


def fit_risk_model(
    training_frame: pd.DataFrame,
    *,
    config: RiskModelConfig | None = None,
    split: TimeSplit | None = None,
) -> FittedRisk:
    """Fit the calibrated risk model and the logistic baseline.

    Trees and baseline learn from the training dates; the calibrator from the later
    calibration dates; the test date is left untouched for :func:`evaluate_risk_model`.

    Parameters
    ----------
    training_frame : pandas.DataFrame
        Output of ``safeguard.features.outcomes.build_training_frame``.
    config : RiskModelConfig, optional
    split : TimeSplit, optional
        Defaults to :func:`safeguard.features.outcomes.time_ordered_split` with the config's settings.
    """
    config = config or RiskModelConfig()
    assert_no_protected(config.feature_names)
    split = split or config.split(training_frame)
    train, calib, _ = split.frames(training_frame)
    names: Sequence[str] = list(config.feature_names)
    started = time.perf_counter()
    model = config.estimator().fit(
        train[names], labels(train), X_calib=calib[names], y_calib=labels(calib)
    )
    baseline = fit_logistic_baseline(train[names], labels(train), random_state=config.random_state)
    return FittedRisk(
        model=model,
        baseline=baseline,
        split=split,
        config=config,
        n_train=len(train),
        n_calibration=len(calib),
        train_base_rate=float(labels(train).mean()),
        fit_seconds=time.perf_counter() - started,
    )
