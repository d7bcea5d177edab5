"""The risk model: monotone gradient-boosted trees, calibrated on a later time slice.

One scikit-learn estimator object holds the boosted trees (explained with native TreeSHAP on
their log-odds), the calibrator that turns log-odds into a probability a practitioner can read,
and the feature names, so it is trained, explained, audited and persisted as one thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from safeguard.features.dictionary import assert_no_protected, monotone_constraints


class LogOddsLGBMClassifier(lgb.LGBMClassifier):
    """LightGBM classifier whose ``decision_function`` is the booster's raw log-odds.

    ``CalibratedClassifierCV`` prefers ``decision_function``; giving it log-odds makes sigmoid
    calibration true Platt scaling and lets SHAP values (also log-odds) map through the same
    calibrator. LightGBM 4.7 added the same method; this keeps the behaviour on 4.5-4.6, which
    pyproject still allows and where the calibrator would silently see probabilities instead.
    """

    def decision_function(self, X: Any, **kwargs: Any) -> np.ndarray:  # type: ignore[override]
        """Raw boosted score (log-odds) for each row."""
        return np.asarray(self.predict(X, raw_score=True, **kwargs), dtype=float)


def as_matrix(X: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``X[columns]`` as float64 with NaN for missing, the one representation all models see.

    Nullable pandas dtypes (Int64, Float64) are converted here so LightGBM, scikit-learn and
    SHAP receive identical numbers.
    """
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise KeyError(f"X lacks feature column(s) {missing} the model was fitted with")
    values = X[list(columns)].to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(values, columns=list(columns), index=X.index)


class _CalibratedScores:
    """What both approvable models share: a log-odds score mapped through one calibrator.

    Subclasses set ``calibrator_`` and ``classes_`` in ``fit`` and define ``decision_function``
    (the ranking score, log-odds) and ``_X`` (the checked feature matrix).
    """

    calibrator_: CalibratedClassifierCV
    classes_: np.ndarray

    def _X(self, X: pd.DataFrame) -> pd.DataFrame:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape ``(n, 2)``."""
        return self.calibrator_.predict_proba(self._X(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Most likely class under the calibrated probability (flags use capacity, not this)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_uncalibrated_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The model's own probability (sigmoid of its log-odds), for calibration diagnostics."""
        return expit(self.decision_function(X))

    def calibrate_log_odds(self, log_odds: np.ndarray | float) -> np.ndarray:
        """Map raw log-odds to calibrated probability (the function the explanations use)."""
        check_is_fitted(self, "calibrator_")
        calibrator = self.calibrator_.calibrated_classifiers_[0].calibrators[0]
        values = np.atleast_1d(np.asarray(log_odds, dtype=float))
        return np.clip(calibrator.predict(values), 0.0, 1.0)


class RiskModel(_CalibratedScores, ClassifierMixin, BaseEstimator):
    """Calibrated, monotone LightGBM risk model following scikit-learn conventions.

    Parameters
    ----------
    n_estimators, learning_rate, max_depth, num_leaves, min_child_samples, reg_lambda,
    subsample, colsample_bytree : LightGBM hyper-parameters. Shallow trees (depth 4, at
        least 200 families per leaf) generalised better than depth 6 on the synthetic estate
        (test AUC-PR 0.109 vs 0.102 at 100k people) and keep TreeSHAP fast.
    monotone : bool, default True
        Apply the feature dictionary's directions as monotone constraints, so e.g. more
        domestic-abuse incidents can never lower the indicator.
    calibration : {"isotonic", "sigmoid"}, default "sigmoid"
        Calibrator fitted on the held-out calibration slice. Sigmoid (Platt scaling of the
        log-odds) by default: on the 100k estate isotonic steps gave a calibration slope of
        0.80 on later test dates against 0.85 for sigmoid (probabilities too extreme).
    random_state : int, default 0
        Seed; with ``deterministic=True`` the same data and seed give the same model.
    n_jobs : int, default 1
        LightGBM threads. One by default: on a shared two-core machine under load, two OpenMP
        threads made a 10k-row fit ~40x slower (11 s vs 0.3 s); raise it on a dedicated host.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        max_depth: int = 4,
        num_leaves: int = 15,
        min_child_samples: int = 200,
        reg_lambda: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        monotone: bool = True,
        calibration: Literal["isotonic", "sigmoid"] = "sigmoid",
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.monotone = monotone
        self.calibration = calibration
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _trees(self, feature_names: Sequence[str]) -> LogOddsLGBMClassifier:
        constraints = monotone_constraints(feature_names) if self.monotone else None
        return LogOddsLGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            reg_lambda=self.reg_lambda,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            colsample_bytree=self.colsample_bytree,
            monotone_constraints=constraints,
            monotone_constraints_method="advanced" if constraints else "basic",
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        X_calib: pd.DataFrame | None = None,
        y_calib: Any = None,
    ) -> RiskModel:
        """Fit the trees on ``X, y`` and the calibrator on ``X_calib, y_calib``.

        The calibration slice should be later in time than the training rows (see
        ``safeguard.features.outcomes.time_ordered_split``). Without one, the last 20% of rows are held
        out, which is only time-ordered if ``X`` is sorted by as-of date.

        Raises
        ------
        safeguard.features.dictionary.ProtectedFeatureError
            If a protected characteristic is among the columns of ``X``.
        """
        if not isinstance(X, pd.DataFrame):
            raise TypeError("RiskModel.fit needs a DataFrame so feature names can be checked")
        names = [str(c) for c in X.columns]
        assert_no_protected(names)
        y_arr = np.asarray(y, dtype=int)
        if X_calib is None:
            cut = int(len(X) * 0.8)
            X, X_calib = X.iloc[:cut], X.iloc[cut:]
            y_arr, y_cal = y_arr[:cut], y_arr[cut:]
        else:
            assert_no_protected([str(c) for c in X_calib.columns])
            y_cal = np.asarray(y_calib, dtype=int)
        if len(np.unique(y_arr)) < 2 or len(np.unique(y_cal)) < 2:
            raise ValueError("training and calibration slices each need both outcomes (0 and 1)")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.trees_ = self._trees(names).fit(as_matrix(X, names), y_arr)
        self.calibrator_ = CalibratedClassifierCV(
            FrozenEstimator(self.trees_), method=self.calibration
        ).fit(as_matrix(X_calib, names), y_cal)
        self.classes_ = self.trees_.classes_
        return self

    @property
    def booster_(self) -> lgb.Booster:
        """The fitted LightGBM booster (for TreeSHAP: ``booster_.predict(X, pred_contrib=True)``)."""
        check_is_fitted(self, "trees_")
        return self.trees_.booster_

    def _X(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "trees_")
        return as_matrix(X, list(self.feature_names_in_))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Booster log-odds before calibration: the ranking score (strictly ordered, no ties)."""
        return np.asarray(self.trees_.decision_function(self._X(X)), dtype=float)


class LogisticRiskModel(_CalibratedScores, ClassifierMixin, BaseEstimator):
    """The logistic baseline as a full risk model: calibrated, explained, persisted like the trees.

    A council whose trees are not better than the baseline may approve this simpler model
    (``flagging.approved_model: logistic_baseline``). It has the same interface as
    :class:`RiskModel` (log-odds ``decision_function``, calibrated ``predict_proba``,
    ``calibrate_log_odds``) and exact linear attributions instead of TreeSHAP.

    Parameters
    ----------
    calibration : {"isotonic", "sigmoid"}, default "sigmoid"
    random_state : int, default 0
    """

    def __init__(
        self, *, calibration: Literal["isotonic", "sigmoid"] = "sigmoid", random_state: int = 0
    ) -> None:
        self.calibration = calibration
        self.random_state = random_state

    def fit(
        self, X: pd.DataFrame, y: Any, *, X_calib: pd.DataFrame, y_calib: Any
    ) -> LogisticRiskModel:
        """Fit the standardised logistic regression on ``X, y``, the calibrator on the later slice."""
        names = [str(c) for c in X.columns]
        assert_no_protected(names)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.pipeline_ = make_logistic_baseline(random_state=self.random_state).fit(
            as_matrix(X, names), np.asarray(y, dtype=int)
        )
        self.calibrator_ = CalibratedClassifierCV(
            FrozenEstimator(self.pipeline_), method=self.calibration
        ).fit(as_matrix(X_calib, names), np.asarray(y_calib, dtype=int))
        self.classes_ = self.pipeline_.classes_
        return self

    def _X(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "pipeline_")
        return as_matrix(X, list(self.feature_names_in_))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of the logistic regression (the ranking score)."""
        return np.asarray(self.pipeline_.decision_function(self._X(X)), dtype=float)

    def log_odds_contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Exact attributions on the log-odds: ``(phi (n, features), base)``.

        For a linear model on standardised inputs the SHAP value of a feature against the
        training mean is its coefficient times its standardised value (plus the same for its
        missing-value indicator); the base is the intercept.
        """
        impute, scale, logit = (self.pipeline_.named_steps[k] for k in ("impute", "scale", "logit"))
        z = scale.transform(impute.transform(self._X(X)))
        terms = z * logit.coef_[0]
        n = self.n_features_in_
        phi = terms[:, :n].copy()
        indicators = getattr(impute.indicator_, "features_", np.array([], dtype=int))
        for k, feature in enumerate(indicators):
            phi[:, feature] += terms[:, n + k]
        return phi, float(logit.intercept_[0])


ScoringModel = RiskModel | LogisticRiskModel
"""Either approved model: scored, explained and persisted the same way."""


def make_logistic_baseline(*, random_state: int = 0) -> Pipeline:
    """Standardised logistic regression: the simple model the trees must beat.

    Missing values (e.g. attendance for a family without school-age children) are imputed
    with the median and marked with indicator columns.
    """
    return Pipeline(
        [
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(max_iter=2000, random_state=random_state)),
        ]
    )


def fit_logistic_baseline(X: pd.DataFrame, y: Any, *, random_state: int = 0) -> Pipeline:
    """Fit :func:`make_logistic_baseline` after the same protected-column check as the model."""
    names = [str(c) for c in X.columns]
    assert_no_protected(names)
    return make_logistic_baseline(random_state=random_state).fit(
        as_matrix(X, names), np.asarray(y, dtype=int)
    )
