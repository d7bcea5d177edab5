"""Realised performance of past months' scores, and its estimate before the outcomes are known.

Each monitored month is one past run: the families the approved model scored at that as-of
date (``family_scores_history``), the top ``k`` of them flagged under the operating rule
(capacity, never below the threshold), and, once the 12-month window has closed, what
happened. Realised figures are measured exactly as the model card measured its promise
(``safeguard.models.metrics``: top-k precision and recall, observed / expected, AUC) with a bootstrap
interval over the month's families.

Before the window closes, confidence-based performance estimation (CBPE; NannyML's name for
it) estimates the same figures from the calibrated probabilities alone: expected precision at
capacity is the mean probability of the flagged families, expected recall their share of the
expected outcomes, with intervals from simulating outcomes from those probabilities. It sees a
change in *who* is scored (covariate shift: e.g. an agency recording less lowers the scores of
the families it knows), never a change in what the scores mean (concept shift): only realised
outcomes can show that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from safeguard.models import metrics as m
from safeguard.models.evaluation import capacity_k
from safeguard.monitoring.promise import Promise

KEYS = ["as_of_date", "family_key"]
REALISED = "realised"
ESTIMATED = "estimated"
PERFORMANCE_COLUMNS = (
    "as_of_date", "kind", "metric", "value", "lower", "upper", "upper_one_sided", "promised",
    "promised_lower", "promised_upper", "status", "n_families", "k", "n_outcomes",
    "label_complete", "model_version",
)  # fmt: skip


class MonitoringInputError(ValueError):
    """A table given to monitoring lacks a column or a month cannot be judged."""


def _require(frame: pd.DataFrame, name: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MonitoringInputError(f"{name} lacks column(s) {missing}")


def monitoring_frame(
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    capacity: int,
    threshold: float,
    sensitive: pd.DataFrame | None = None,
    harm: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per scored family and month, with the flag the operating rule gave it.

    Parameters
    ----------
    scores : ``as_of_date, family_key, probability, rank, model_version`` (the history).
    outcomes : ``as_of_date, family_key, label, label_complete``
        (``safeguard.features.outcomes.outcome_labels``). A scored family without a row has no outcome.
    capacity : families practitioners can review per run.
    threshold : the council's probability floor: a run flags
        ``min(capacity, families at or above it)``, highest rank first.
    sensitive : ``as_of_date, family_key`` + audit attributes (never model inputs).
    harm : ``as_of_date, family_key, true_harm`` (synthetic estates only).

    Returns
    -------
    pandas.DataFrame
        The score columns plus ``flagged, label, label_complete`` and any attribute columns,
        sorted by date and rank. Held in memory only: it is never written anywhere.
    """
    _require(scores, "family_scores_history", ("as_of_date", "family_key", "probability", "rank"))
    _require(outcomes, "outcomes", ("as_of_date", "family_key", "label", "label_complete"))
    frame = scores.astype({"family_key": "string"}).assign(
        as_of_date=pd.to_datetime(scores["as_of_date"]).astype("datetime64[ns]")
    )
    frame = frame.sort_values(["as_of_date", "rank"]).reset_index(drop=True)
    flagged = np.zeros(len(frame), dtype=bool)
    for _, idx in frame.groupby("as_of_date").indices.items():
        k = min(
            capacity_k(capacity, len(idx)),
            int((frame["probability"].to_numpy()[idx] >= threshold).sum()),
        )
        flagged[idx[:k]] = True  # rows are in rank order within each date
    frame["flagged"] = flagged
    labels = outcomes[[*KEYS, "label", "label_complete"]].astype(
        {"family_key": "string", "as_of_date": "datetime64[ns]"}
    )
    frame = frame.merge(labels, on=KEYS, how="left", validate="1:1")
    frame["label"] = frame["label"].fillna(False).astype(bool)
    complete = frame.groupby("as_of_date")["label_complete"].transform(
        lambda s: bool(s.dropna().astype(bool).all()) if s.notna().any() else False
    )
    frame["label_complete"] = complete.astype(bool)
    for extra in (sensitive, harm):
        if extra is not None:
            extra = extra.astype({"family_key": "string", "as_of_date": "datetime64[ns]"})
            frame = frame.merge(extra, on=KEYS, how="left", validate="1:1")
    if harm is not None:
        frame["true_harm"] = frame["true_harm"].fillna(False).astype(bool)
    return frame


@dataclass(frozen=True)
class _Measure:
    value: float
    lower: float
    upper: float
    upper_one_sided: float


def _measure(boot: m.Bootstrap, fn: m.ArrayFn, one_sided: float) -> _Measure:
    point = float(fn(np.ones((1, boot.n), dtype=np.float32))[0])
    reps = boot.replicates(fn)
    finite = reps[np.isfinite(reps)]
    if finite.size == 0:
        return _Measure(point, np.nan, np.nan, np.nan)
    lo, hi = np.quantile(finite, [0.025, 0.975])
    upper = float(np.quantile(finite, one_sided)) if one_sided > 0 else point
    return _Measure(point, float(lo), float(hi), upper)


def _status(value: float, promised: m.Estimate | None) -> str:
    if promised is None or not np.isfinite(value):
        return "no promise"
    if value < promised.lower:
        return "below promise"
    if value > promised.upper:
        return "above promise"
    return "within promise"


def _row(as_of, kind: str, metric: str, est: _Measure, promise: Promise | None, **extra) -> dict:
    fig = promise.figure(metric) if promise is not None else None
    promised = m.Estimate(fig.value, fig.lower, fig.upper) if fig is not None else None
    return {
        "as_of_date": pd.Timestamp(as_of), "kind": kind, "metric": metric, "value": est.value,
        "lower": est.lower, "upper": est.upper, "upper_one_sided": est.upper_one_sided,
        "promised": promised.value if promised else np.nan,
        "promised_lower": promised.lower if promised else np.nan,
        "promised_upper": promised.upper if promised else np.nan,
        "status": _status(est.value, promised), **extra,
    }  # fmt: skip


def realised_performance(
    frame: pd.DataFrame,
    promise: Promise | None,
    *,
    n_boot: int = 200,
    seed: int = 0,
    one_sided: float = 0.8,
) -> pd.DataFrame:
    """Realised figures of every month whose outcome window is complete, beside the promise.

    Precision and recall at capacity, observed / expected outcomes and AUC-ROC (and, on
    synthetic estates with ground truth, recall and AUC for true harm), each with a 95%
    bootstrap interval over the month's families and the upper bound at ``one_sided``
    confidence used by the decommission rule.
    """
    rows: list[dict] = []
    for as_of, month in frame.loc[frame["label_complete"]].groupby("as_of_date"):
        month = month.sort_values("rank")
        y = month["label"].to_numpy(dtype=float)
        prob = month["probability"].to_numpy(dtype=float)
        score = -month["rank"].to_numpy(dtype=float)  # the run's own order, ties included
        k = int(month["flagged"].sum())
        boot = m.Bootstrap(len(month), n_boot=n_boot, seed=seed)
        extra = {"n_families": len(month), "k": k, "n_outcomes": int(y.sum()),
                 "label_complete": True,
                 "model_version": str(month["model_version"].iloc[0]) if "model_version" in month else ""}  # fmt: skip
        with m.single_threaded_blas():
            measures = {
                "precision_at_capacity": _measure(boot, m.top_k(y, score, max(k, 1)), one_sided),
                "recall_at_capacity": _measure(boot, m.top_k(y, score, max(k, 1), what="recall"), one_sided),
                "observed_over_expected": _measure(boot, m.observed_over_expected(y, prob), one_sided),
                "auc_roc": _measure(boot, m.auc_roc(y, score), one_sided),
            }  # fmt: skip
            if "true_harm" in month.columns and month["true_harm"].any():
                harm = month["true_harm"].to_numpy(dtype=float)
                measures["true_harm_recall_at_capacity"] = _measure(
                    boot, m.top_k(harm, score, max(k, 1), what="recall"), one_sided
                )
                measures["true_harm_auc_roc"] = _measure(boot, m.auc_roc(harm, score), one_sided)
        for metric, est in measures.items():
            rows.append(_row(as_of, REALISED, metric, est, promise, **extra))
    return _table(rows)


def estimated_performance(
    frame: pd.DataFrame,
    promise: Promise | None,
    *,
    n_simulations: int = 400,
    seed: int = 0,
) -> pd.DataFrame:
    """CBPE: precision and recall at capacity of every month, from the probabilities alone.

    Valid while the model stays calibrated on the month's families; intervals are the 2.5 and
    97.5 percentiles of outcomes simulated from the probabilities (sampling noise only).
    """
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for as_of, month in frame.groupby("as_of_date"):
        prob = month["probability"].to_numpy(dtype=float).clip(0, 1)
        flagged = month["flagged"].to_numpy(dtype=bool)
        k = int(flagged.sum())
        hits = _simulate_sum(rng, prob[flagged], n_simulations)
        rest = _simulate_sum(rng, prob[~flagged], n_simulations)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = hits / max(k, 1)
            recall = np.where(hits + rest > 0, hits / (hits + rest), np.nan)
        expected = {
            "precision_at_capacity": float(prob[flagged].sum() / max(k, 1)),
            "recall_at_capacity": float(prob[flagged].sum() / max(prob.sum(), 1e-12)),
        }
        extra = {"n_families": len(month), "k": k, "n_outcomes": np.nan,
                 "label_complete": bool(month["label_complete"].all()) if "label_complete" in month else False,
                 "model_version": str(month["model_version"].iloc[0]) if "model_version" in month else ""}  # fmt: skip
        for metric, sims in (("precision_at_capacity", precision), ("recall_at_capacity", recall)):
            finite = sims[np.isfinite(sims)]
            lo, hi = np.quantile(finite, [0.025, 0.975]) if finite.size else (np.nan, np.nan)
            est = _Measure(expected[metric], float(lo), float(hi), expected[metric])
            rows.append(_row(as_of, ESTIMATED, metric, est, promise, **extra))
    return _table(rows)


def _simulate_sum(
    rng: np.random.Generator, prob: np.ndarray, n: int, chunk: int = 50
) -> np.ndarray:
    """Simulated totals of independent Bernoulli(``prob``) outcomes, ``n`` times."""
    out = np.zeros(n)
    for start in range(0, n, chunk):
        b = min(chunk, n - start)
        out[start : start + b] = (rng.random((b, len(prob))) < prob).sum(axis=1)
    return out


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(PERFORMANCE_COLUMNS))
    return table.astype(
        {"as_of_date": "datetime64[ns]", "kind": "string", "metric": "string", "status": "string",
         "model_version": "string", "value": "float64", "lower": "float64", "upper": "float64",
         "upper_one_sided": "float64", "promised": "float64", "promised_lower": "float64",
         "promised_upper": "float64", "n_families": "Int64", "k": "Int64", "n_outcomes": "float64",
         "label_complete": "boolean"}
    )  # fmt: skip
