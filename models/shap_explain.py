"""Native TreeSHAP attributions that add up to the calibrated probability shown.

LightGBM's ``pred_contrib`` gives exact TreeSHAP values on the log-odds scale (the same numbers
as ``shap.TreeExplainer``, without the dependency on the hot path). The calibrator ``g`` is
monotone, so scaling every attribution of a row by ``(g(f) - g(f0)) / (f - f0)`` keeps their
sum equal to ``g(f) - g(f0)``: base value plus attributions is exactly the calibrated
probability. Issue 6 turns these into plain-English reasons via the feature dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from safeguard.models.estimator import LogisticRiskModel, RiskModel, as_matrix


@dataclass(frozen=True)
class Explanation:
    """Per-row attributions on both scales.

    Attributes
    ----------
    log_odds : pandas.DataFrame
        TreeSHAP values on the booster's log-odds; row sum + ``log_odds_base`` = raw score.
    probability : pandas.DataFrame
        Attributions scaled onto the calibrated probability; row sum + ``probability_base``
        = ``model.predict_proba(X)[:, 1]``.
    log_odds_base, probability_base : float
        Expected raw score f0 and its calibrated probability g(f0).
    """

    log_odds: pd.DataFrame
    probability: pd.DataFrame
    log_odds_base: float
    probability_base: float


def explain(model: RiskModel | LogisticRiskModel, X: pd.DataFrame) -> Explanation:
    """Attributions for each row of ``X`` (both scales, see :class:`Explanation`).

    TreeSHAP for the trees; the exact linear attributions for the logistic model.
    """
    names = list(model.feature_names_in_)
    matrix = as_matrix(X, names)
    if isinstance(model, LogisticRiskModel):
        phi, f0 = model.log_odds_contributions(X)
    else:
        contrib = np.asarray(model.booster_.predict(matrix, pred_contrib=True), dtype=float)
        phi, f0 = contrib[:, :-1], float(contrib[0, -1])
    f = f0 + phi.sum(axis=1)
    g_f, g_f0 = model.calibrate_log_odds(f), float(model.calibrate_log_odds(f0)[0])
    delta = f - f0
    safe = np.abs(delta) > 1e-12
    scale = np.where(safe, (g_f - g_f0) / np.where(safe, delta, 1.0), 0.0)
    return Explanation(
        log_odds=pd.DataFrame(phi, columns=names, index=X.index),
        probability=pd.DataFrame(phi * scale[:, None], columns=names, index=X.index),
        log_odds_base=f0,
        probability_base=g_f0,
    )
