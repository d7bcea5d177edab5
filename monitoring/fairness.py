"""Realised fairness: each group's recall and observed / expected ratios, month after month.

One month holds too few outcomes to say anything about a group, so each judgement pools the
last few complete months (families resampled whole, as in the release audit) and applies the
release gate's own rule to the realised outcomes: the ratio of a group's recall at capacity to
the recall the model's probabilities promised it, against the rest, and its observed / expected
outcomes against the rest. Only an *established* disparity (the gate's FAIL) counts towards
a decommission rule; the rest is reported.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd

from safeguard.features.protected import UNKNOWN
from safeguard.models.evaluation import distinct_outcome_factor
from safeguard.models.fairness import DEFAULT_DIMENSIONS, AuditDimension
from safeguard.models.fairness_gate import NOT_ASSESSABLE, FairnessGate, RatioEvidence, decide
from safeguard.models.fairness_stats import GroupSums, replicate_sums
from safeguard.models.metrics import Bootstrap, single_threaded_blas

FAIRNESS_COLUMNS = (
    "window_end", "window_start", "n_months", "dimension", "group", "metric", "ratio",
    "lower_95", "upper_95", "expected_group", "expected_rest", "verdict", "note",
)  # fmt: skip


def complete_windows(months: list[pd.Timestamp], window: int) -> list[list[pd.Timestamp]]:
    """Every run of ``window`` consecutive calendar months among ``months`` (sorted), by end."""
    months = sorted(pd.Timestamp(d) for d in months)
    out = []
    for end_index in range(window - 1, len(months)):
        run = months[end_index - window + 1 : end_index + 1]
        steps = [(b.year - a.year) * 12 + b.month - a.month for a, b in itertools.pairwise(run)]
        if all(s == 1 for s in steps):
            out.append(run)
    return out


def _recall_ratio(g: dict[str, np.ndarray], r: dict[str, np.ndarray]) -> np.ndarray:
    """Realised recall over the recall the probabilities promised, group / rest.

    Flagged outcomes get half an outcome added (Haldane-Anscombe) so a resample in which a
    group's flagged families have no outcome gives a small ratio, not an undefined one: the
    spread stays defined exactly when the recall collapses.
    """

    def ratio(q: dict[str, np.ndarray]) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((q["tp"] + 0.5) / (q["pos"] + 1.0)) / (q["prob_sel"] / q["prob"])

    return ratio(g) / ratio(r)


def _oe_ratio(g: dict[str, np.ndarray], r: dict[str, np.ndarray]) -> np.ndarray:
    """Observed over expected outcomes, group / rest (half an outcome added to each)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((g["pos"] + 0.5) / g["prob"]) / ((r["pos"] + 0.5) / r["prob"])


_RATIOS = {"recall_ratio": _recall_ratio, "oe_ratio": _oe_ratio}


def fairness_windows(
    frame: pd.DataFrame,
    gate: FairnessGate,
    *,
    window_months: int = 6,
    n_boot: int = 200,
    seed: int = 0,
    horizon_months: int = 12,
    min_group_size: int = 100,
    min_expected_flagged: float = 10.0,
) -> pd.DataFrame:
    """The gate's verdict per group and metric for each window of complete months.

    Parameters
    ----------
    frame : :func:`safeguard.monitoring.performance.monitoring_frame` with the audit attributes.
    gate : the council's fairness gate (band, confidences, minimum expected outcomes).
    min_group_size : groups with fewer family-months in the window are left out.
    min_expected_flagged : a recall ratio is judged only when the group's flagged families
        are expected (by the model's own probabilities) to hold at least this many distinct
        outcomes in the window, otherwise it is "not assessable": a recall measured on a
        handful of flagged outcomes says nothing.

    Returns
    -------
    pandas.DataFrame
        :data:`FAIRNESS_COLUMNS`, one row per window, group and metric (aggregates only).
    """
    dimensions = [d for d in DEFAULT_DIMENSIONS if d.gated and d.name in frame.columns]
    complete = frame.loc[frame["label_complete"]]
    if not dimensions or complete.empty:
        return _empty()
    judge = replace(gate, metrics=("recall_ratio", "oe_ratio"), sign_offs=())
    parts = []
    with single_threaded_blas():
        for run in complete_windows(list(complete["as_of_date"].unique()), window_months):
            rows = complete.loc[complete["as_of_date"].isin(run)].reset_index(drop=True)
            evidence = _window_evidence(rows, dimensions, n_boot=n_boot, seed=seed,
                                        horizon_months=horizon_months, min_group_size=min_group_size,
                                        min_expected_flagged=min_expected_flagged)  # fmt: skip
            # Holm within each metric: the rule reads recall alone; observed / expected is reported
            table = pd.concat(
                [decide([e for e in evidence if e.metric == metric], judge) for metric in _RATIOS],
                ignore_index=True,
            )
            thin = table["verdict"].eq(NOT_ASSESSABLE) & table["metric"].eq("recall_ratio")
            table.loc[thin & table["note"].str.startswith("no outcomes"), "note"] = (
                f"fewer than {min_expected_flagged:g} expected outcomes among its flagged "
                "families (or the rest's): recall cannot be judged"
            )
            parts.append(table.assign(window_end=run[-1], window_start=run[0], n_months=len(run)))
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)[list(FAIRNESS_COLUMNS)]
    return out.astype({"window_end": "datetime64[ns]", "window_start": "datetime64[ns]"})


def _window_evidence(
    rows: pd.DataFrame,
    dimensions: list[AuditDimension],
    *,
    n_boot: int,
    seed: int,
    horizon_months: int,
    min_group_size: int,
    min_expected_flagged: float,
) -> list[RatioEvidence]:
    """Group-to-rest ratios of one window, with the log spread of the clustered bootstrap."""
    y = rows["label"].to_numpy(dtype=float)
    prob = rows["probability"].to_numpy(dtype=float)
    sel = rows["flagged"].to_numpy(dtype=float)
    boot = Bootstrap(
        len(rows), n_boot=n_boot, seed=seed, clusters=rows["family_key"].astype(str).to_numpy()
    )
    factor = distinct_outcome_factor(rows["as_of_date"].to_numpy(), horizon_months)
    evidence: list[RatioEvidence] = []
    for dim in dimensions:
        values = rows[dim.name].astype("string").fillna(UNKNOWN)
        inside = ~values.isin(dim.not_compared).to_numpy()
        sizes = values[inside].value_counts()
        reported = sorted(str(g) for g, n in sizes.items() if n >= min_group_size)
        if not reported or inside.sum() == 0:
            continue
        inner = values[inside].reset_index(drop=True)
        codes = np.full(len(inner), -1)
        for j, g in enumerate(reported):
            codes[(inner == g).to_numpy()] = j
        sums = GroupSums(codes, len(reported), y[inside], sel[inside], prob[inside])
        sub = boot if inside.all() else boot.subset(inside)
        reps = replicate_sums(sums, sub)
        group, rest = sums.sums(np.ones((1, int(inside.sum())), dtype=np.float32))
        for metric, fn in _RATIOS.items():
            point = fn(group, rest)[0]
            with np.errstate(invalid="ignore", divide="ignore"):
                logs = np.log(np.concatenate([fn(g, r) for g, r in reps], axis=0))
            for j, g in enumerate(reported):
                expected = (float(group["prob"][0, j]) * factor, float(rest["prob"][0, j]) * factor)
                flagged = (
                    min(float(group["prob_sel"][0, j]), float(rest["prob_sel"][0, j])) * factor
                )
                column = logs[:, j][np.isfinite(logs[:, j])]
                se = float(np.std(column, ddof=1)) if column.size >= 10 else float("nan")
                ratio = float(point[j])
                if metric == "recall_ratio" and flagged < min_expected_flagged:
                    ratio = float("nan")  # judged "not assessable" by the gate's rule
                evidence.append(RatioEvidence(dim.name, g, metric, ratio, se, *expected))
    return evidence


def _empty() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="object") for c in FAIRNESS_COLUMNS})
    for c in ("window_end", "window_start"):
        out[c] = out[c].astype("datetime64[ns]")
    for c in ("ratio", "lower_95", "upper_95", "expected_group", "expected_rest"):
        out[c] = out[c].astype(np.float64)
    return out
