"""Validation against an outcome the agencies do not record themselves: true harm.

The model learns a *recorded action* (an s47 enquiry or a CP plan), which carries the
referral and recording practice of the agencies. On synthetic estates the generator also
emits true harm to children (injuries from abuse or neglect, hospital-treated self-harm),
the analogue of the hospital-recorded injuries used to validate the Allegheny Family Screening
Tool: only a fraction of it is ever referred. Reporting the model's discrimination and recall
for true harm beside those for the recorded label shows how much of the label's recording bias
the model has learned. Synthetic estates only: no council has this column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from safeguard.models import metrics as m


def validate_against_harm(
    boot: m.Bootstrap,
    label: np.ndarray,
    harm: np.ndarray,
    score: np.ndarray,
    dates: np.ndarray,
    ks: Mapping[Any, int],
    *,
    referred: np.ndarray | None = None,
) -> tuple[dict[str, m.Estimate], dict[str, float]]:
    """The model's figures for true harm beside the recorded label, on the same resamples.

    Parameters
    ----------
    boot : the evaluation's family-clustered bootstrap (figures stay paired with the label's).
    label, harm : 0/1 per test family-date: recorded outcome, and true harm in the window.
    score : the model's ranking score; ``dates`` and ``ks``: the operating rule per run.
    referred : 0/1: the family's harm led to a social-care referral (``true_harm_referred``).

    Returns
    -------
    (estimates, counts)
        ``estimates``: AUC-ROC, recall and precision at capacity for harm and for the label,
        and the harm-minus-label differences (paired). ``counts``: family-dates with harm,
        how many of them also had the recorded outcome, and how many were referred.
    """
    y = np.asarray(label, dtype=float)
    h = np.asarray(harm, dtype=float)
    estimates: dict[str, m.Estimate] = {}
    if h.sum() > 0:
        for name, target in (("true_harm", h), ("recorded_label", y)):
            estimates[f"{name}_auc_roc"] = boot.estimate(m.auc_roc(target, score))
            estimates[f"{name}_recall_at_capacity"] = boot.estimate(
                m.pooled_top_k(target, score, dates, ks, what="recall")
            )
            estimates[f"{name}_precision_at_capacity"] = boot.estimate(
                m.pooled_top_k(target, score, dates, ks)
            )
        estimates["auc_roc_harm_minus_label"] = boot.difference(
            m.auc_roc(h, score), m.auc_roc(y, score)
        )
        estimates["recall_at_capacity_harm_minus_label"] = boot.difference(
            m.pooled_top_k(h, score, dates, ks, what="recall"),
            m.pooled_top_k(y, score, dates, ks, what="recall"),
        )
    counts = {
        "family_dates": float(len(h)),
        "with_harm": float(h.sum()),
        "harm_rate": float(h.mean()) if len(h) else float("nan"),
        "with_harm_and_label": float((h * y).sum()),
        "with_harm_referred": float(np.asarray(referred, float).sum())
        if referred is not None
        else float("nan"),
    }
    return estimates, counts
