"""Evaluate the model on pooled test dates and apply the blocking performance gate.

What matters operationally is precision and recall among the families practitioners can
actually review each run (the capacity), so those lead, beside the logistic baseline and, when
the ground truth is known (synthetic estates), two oracles: ranking by true latent need, and
ranking by the true chance of the outcome itself (the *label oracle*, a real ceiling). Several
monthly test dates are pooled and families, not rows, are resampled for the intervals.

Calibration is checked so that it can fail: observed / expected outcomes in the large and the
calibration slope, each with an interval that must lie inside its band. (ECE at a 2% base rate
is passed by a model predicting 0 for everyone; it is reported relative to the base rate.)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit

from safeguard.contracts.gates import DEFAULT_GATES, DEFAULT_THRESHOLD
from safeguard.models import metrics as m
from safeguard.models.estimator import as_matrix
from safeguard.models.harm_validation import validate_against_harm
from safeguard.models.training import FittedRisk, labels

WWCSC_PRECISION = 0.65  # What Works for Children's Social Care (2020) bar, set in advance


@dataclass(frozen=True)
class PerformanceGate:
    """Blocking thresholds; a council sets them in its configuration file.

    Attributes
    ----------
    min_precision_lift : float, default 3.0
        The lower 95% bound of precision at capacity must be at least this multiple of the
        test base rate.
    baseline_metric : {"precision_at_capacity", "auc_pr", "auc_roc"}
        Metric compared with the logistic baseline: by default the one that decides who is
        flagged. The model fails when the whole 95% paired-bootstrap interval of
        (model - baseline) lies below ``-baseline_margin``. All three differences are reported.
    baseline_margin : float, default 0.0
    calibration_band : (lower, upper), default (0.75, 1.33)
        Observed / expected outcomes over the pooled test dates: its 90% interval must lie
        inside. The all-zero predictor (infinite), probabilities doubled (~0.5) or halved (~2)
        all fail. Not tighter by default: the test dates lie 12 to 23 months after the
        calibration dates, and one council's yearly outcome count moves by 10-15% on its own
        (measured on the synthetic estate's true outcomes), which the family resampling
        cannot see.
    slope_band : (lower, upper), default (0.75, 1.33)
        Calibration slope: its 90% interval must lie inside (NaN for a constant predictor).
    calibration_confidence : float, default 0.90
    require_wwcsc : bool, default False
        Also block unless precision at capacity reaches the WWCSC bar of 0.65 (always reported).
    """

    # defaults: safeguard.contracts.gates (the council configuration's defaults too)
    min_precision_lift: float = DEFAULT_GATES.performance.min_precision_lift
    baseline_metric: Literal["precision_at_capacity", "auc_pr", "auc_roc"] = (
        DEFAULT_GATES.performance.baseline_metric
    )
    baseline_margin: float = DEFAULT_GATES.performance.baseline_margin
    calibration_band: tuple[float, float] = DEFAULT_GATES.performance.calibration_band
    slope_band: tuple[float, float] = DEFAULT_GATES.performance.slope_band
    calibration_confidence: float = 0.90
    require_wwcsc: bool = DEFAULT_GATES.performance.require_wwcsc


@dataclass(frozen=True)
class EvaluationConfig:
    """How the test dates are evaluated.

    Attributes
    ----------
    total_capacity : int
        Sum of workers' capacities: families practitioners can review per run (per date).
    population_size : int, optional
        Families scored in a real run; by default each test date is one run (k = capacity).
    threshold : float, default ``safeguard.contracts.gates.DEFAULT_THRESHOLD``
        Operating threshold on the calibrated probability.
    horizon_months : int, default 12
        Outcome window, used to count distinct outcome events over pooled dates.
    """

    total_capacity: int
    population_size: int | None = None
    threshold: float = DEFAULT_THRESHOLD
    n_boot: int = 200
    seed: int = 0
    n_bins: int = 10
    horizon_months: int = 12
    gate: PerformanceGate = field(default_factory=PerformanceGate)


@dataclass(frozen=True)
class GateResult:
    """Outcome of a blocking gate, with one plain-English reason per check."""

    passed: bool
    reasons: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"passed": self.passed, "reasons": list(self.reasons)}


def capacity_k(total_capacity: int, n_test: int, population_size: int | None = None) -> int:
    """Number of families of one run practitioners could review (see :class:`EvaluationConfig`)."""
    k = total_capacity if population_size is None else total_capacity * n_test / population_size
    return int(min(max(round(k), 1), n_test))


def operating_ks(
    prob: np.ndarray,
    dates: np.ndarray,
    total_capacity: int,
    *,
    threshold: float | None = None,
    population_size: int | None = None,
) -> dict[Any, int]:
    """Families flagged per run under the operating rule: capacity, within the threshold.

    Flags go to the highest-scored families of each run up to the practitioners' capacity,
    and never below the probability ``threshold`` (the council's proportionality floor), so a
    run flags ``min(capacity, families at or above the threshold)``.
    """
    dates = np.asarray(dates)
    prob = np.asarray(prob, float)
    ks = {}
    for d in np.unique(dates):
        mask = dates == d
        k = capacity_k(total_capacity, int(mask.sum()), population_size)
        if threshold is not None:
            k = min(k, int((prob[mask] >= threshold).sum()))
        ks[d] = k
    return ks


def per_date_top_k(score: np.ndarray, dates: np.ndarray, ks: Mapping[Any, int]) -> np.ndarray:
    """0/1 flags: the ``ks[date]`` highest scores within each date (ties by row order)."""
    flags = np.zeros(len(score))
    dates = np.asarray(dates)
    for d in np.unique(dates):
        idx = np.flatnonzero(dates == d)
        top = idx[np.argsort(-np.asarray(score)[idx], kind="stable")[: int(ks[d])]]
        flags[top] = 1.0
    return flags


def distinct_outcome_factor(dates: np.ndarray | None, horizon_months: int) -> float:
    """Share of pooled expected outcomes that are distinct outcome events.

    Monthly test dates with a 12-month outcome window count one outcome up to 12 times; the
    pooled windows span ``horizon + (last - first)`` months, so the distinct outcome time is
    that span over ``n_dates x horizon``. Used to decide whether a group has enough outcomes to
    be assessed, not for any estimate.
    """
    if dates is None:
        return 1.0
    stamps = pd.to_datetime(pd.Series(np.unique(dates)))
    if len(stamps) <= 1:
        return 1.0
    span = (stamps.max().year - stamps.min().year) * 12 + stamps.max().month - stamps.min().month
    return min(1.0, (horizon_months + span) / (horizon_months * len(stamps)))


@dataclass(frozen=True)
class ModelEvaluation:
    """Measured figures on the pooled test dates and the gate decision."""

    n_test: int
    n_test_dates: int
    n_families: int
    base_rate: float
    k: int
    threshold: float
    metrics: dict[str, dict[str, m.Estimate]]
    versus_baseline: dict[str, m.Estimate]
    ece_uncalibrated: m.Estimate
    calibration_curve: pd.DataFrame
    calibration_curve_uncalibrated: pd.DataFrame
    wwcsc_met: bool
    gate: GateResult
    test_dates: tuple[str, ...]
    n_boot: int
    baseline_better: bool = False
    model_better: bool = True
    by_age: pd.DataFrame | None = None
    true_harm: dict[str, m.Estimate] | None = None
    true_harm_counts: dict[str, float] | None = None
    # Precision and recall against the number of families reviewed per run (for the chart).
    review_curve: pd.DataFrame | None = None

    @property
    def test_date(self) -> str:
        """The latest test date."""
        return self.test_dates[-1]

    def summary(self) -> dict[str, Any]:
        """Aggregates only, JSON-able, for Dagster metadata and the model card."""
        out: dict[str, Any] = {
            "test_date": self.test_date,
            "test_dates": list(self.test_dates),
            "n_test_dates": self.n_test_dates,
            "n_test": self.n_test,
            "n_families": self.n_families,
            "n_boot": self.n_boot,
            "base_rate": round(self.base_rate, 5),
            "capacity_k": self.k,
            "threshold": self.threshold,
            "wwcsc_precision_bar_met": self.wwcsc_met,
            "gate_passed": self.gate.passed,
            "gate_reasons": list(self.gate.reasons),
            "ece_uncalibrated": self.ece_uncalibrated.as_dict(),
            "baseline_better": self.baseline_better,
            "model_better_than_baseline": self.model_better,
        }
        for model, figures in self.metrics.items():
            out[model] = {name: est.as_dict() for name, est in figures.items()}
        out["model_minus_baseline"] = {k: v.as_dict() for k, v in self.versus_baseline.items()}
        model_p = self.metrics["model"]["precision_at_capacity"].value
        for oracle in ("oracle", "label_oracle"):
            if oracle in self.metrics:
                ref = self.metrics[oracle]["precision_at_capacity"].value
                out[f"precision_at_capacity_ratio_to_{oracle}"] = round(
                    model_p / max(ref, 1e-12), 4
                )
        if self.base_rate > 0:
            out["lift_at_capacity"] = round(model_p / self.base_rate, 3)
        if self.by_age is not None and len(self.by_age):
            out["by_model_age"] = self.by_age.to_dict("records")
        if self.true_harm_counts is not None:
            out["true_harm"] = {
                **{k: v.as_dict() for k, v in (self.true_harm or {}).items()},
                **{k: round(v, 5) for k, v in self.true_harm_counts.items()},
            }
        return out


def _ranking_metrics(
    boot: m.Bootstrap,
    y: np.ndarray,
    score: np.ndarray,
    dates: np.ndarray,
    ks: Mapping[Any, int],
) -> dict[str, m.Estimate]:
    return {
        "auc_roc": boot.estimate(m.auc_roc(y, score)),
        "auc_pr": boot.estimate(m.average_precision(y, score)),
        "precision_at_capacity": boot.estimate(m.pooled_top_k(y, score, dates, ks)),
        "recall_at_capacity": boot.estimate(m.pooled_top_k(y, score, dates, ks, what="recall")),
    }


def _probability_metrics(
    boot: m.Bootstrap, y: np.ndarray, prob: np.ndarray, cfg: EvaluationConfig
) -> dict[str, m.Estimate]:
    t = cfg.threshold
    base_rate = float(np.mean(y)) if len(y) else np.nan
    ece = boot.estimate(m.ece(y, prob, cfg.n_bins))
    return {
        "brier": boot.estimate(m.brier(y, prob)),
        "ece": ece,
        "ece_relative_to_base_rate": m.Estimate(
            ece.value / base_rate, ece.lower / base_rate, ece.upper / base_rate
        ),
        "observed_over_expected": boot.estimate(m.observed_over_expected(y, prob)),
        # 100 replicates: each is a Newton fit over every row
        "calibration_slope": boot.estimate(m.calibration_slope(y, prob), max_reps=100),
        "precision_at_threshold": boot.estimate(m.at_threshold(y, prob, t, what="precision")),
        "recall_at_threshold": boot.estimate(m.at_threshold(y, prob, t, what="recall")),
        "share_above_threshold": m.Estimate(float((prob >= t).mean()), np.nan, np.nan),
    }


def _metric_fn(name: str, y: np.ndarray, score: np.ndarray, dates: np.ndarray,
               ks: Mapping[Any, int]) -> m.ArrayFn:  # fmt: skip
    if name == "auc_pr":
        return m.average_precision(y, score)
    if name == "auc_roc":
        return m.auc_roc(y, score)
    return m.pooled_top_k(y, score, dates, ks)


def _interval(est: m.Estimate, confidence: float, *, log: bool) -> tuple[float, float]:
    """Normal interval from the bootstrap's spread: on the log scale for a ratio (``log``), on
    the natural scale otherwise (a calibration slope can be near or below zero). NaN when the
    spread is undefined."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    if log:
        if not (est.value > 0 and np.isfinite(est.value) and np.isfinite(est.se_log)):
            return (float("nan"), float("nan"))
        return (float(np.exp(np.log(est.value) - z * est.se_log)),
                float(np.exp(np.log(est.value) + z * est.se_log)))  # fmt: skip
    if not (np.isfinite(est.value) and np.isfinite(est.se)):
        return (float("nan"), float("nan"))
    return (est.value - z * est.se, est.value + z * est.se)


def calibration_verdicts(
    gate: PerformanceGate, oe: m.Estimate, slope: m.Estimate
) -> list[tuple[bool, str]]:
    """The two calibration checks: (passed, sentence) each."""
    out = []
    for name, est, band, meaning, log in (
        ("observed / expected outcomes", oe, gate.calibration_band,
         "below 1: the model over-states risk; above 1: under-states it", True),
        ("calibration slope", slope, gate.slope_band,
         "below 1: probabilities too extreme; above 1: too timid", False),
    ):  # fmt: skip
        lo, hi = _interval(est, gate.calibration_confidence, log=log)
        ok = bool(np.isfinite(lo) and band[0] <= lo and hi <= band[1])
        value = f"{est.value:.3f}" if np.isfinite(est.value) else "undefined"
        interval = (
            f" ({gate.calibration_confidence:.0%} CI {lo:.3f}-{hi:.3f})" if np.isfinite(lo) else ""
        )
        out.append((ok, f"{'PASS' if ok else 'FAIL'}: {name} is {value}{interval}; the interval must "
                        f"lie inside {band[0]:g}-{band[1]:g} ({meaning})."))  # fmt: skip
    return out


def evaluate_gate(
    gate: PerformanceGate,
    *,
    base_rate: float,
    k: int,
    precision_at_capacity: m.Estimate,
    versus_baseline: m.Estimate,
    observed_over_expected: m.Estimate,
    calibration_slope: m.Estimate,
    n_test_dates: int = 1,
) -> GateResult:
    """Apply ``gate`` to measured figures; every check gives a PASS/FAIL sentence."""
    reasons: list[str] = []
    ok = True
    p = precision_at_capacity
    need = gate.min_precision_lift * base_rate
    passed = bool(p.lower >= need)
    ok &= passed
    per_run = f" per run, {n_test_dates} monthly runs pooled" if n_test_dates > 1 else ""
    reasons.append(
        f"{'PASS' if passed else 'FAIL'}: precision among the top {k} families (practitioner "
        f"capacity{per_run}) is {p.value:.3f} (95% CI {p.lower:.3f}-{p.upper:.3f}); its lower bound "
        f"must be at least {gate.min_precision_lift:g} x the base rate {base_rate:.3f} = {need:.3f}."
    )
    d = versus_baseline
    passed = not (d.upper < -gate.baseline_margin)
    ok &= passed
    reasons.append(
        f"{'PASS' if passed else 'FAIL'}: {gate.baseline_metric} of the model minus the logistic "
        f"baseline is {d.value:+.3f} (95% CI {d.lower:+.3f} to {d.upper:+.3f}); the model fails only "
        + (
            f"if the whole interval is below {-gate.baseline_margin:g}."
            if gate.baseline_margin
            else "if the whole interval is below zero."
        )
    )
    for passed, sentence in calibration_verdicts(gate, observed_over_expected, calibration_slope):
        ok &= passed
        reasons.append(sentence)
    met = p.value >= WWCSC_PRECISION
    if gate.require_wwcsc:
        ok &= met
    reasons.append(
        f"{'MET' if met else 'NOT MET'}: the WWCSC bar (precision >= {WWCSC_PRECISION}) at capacity; "
        f"measured {p.value:.3f}"
        + ("" if gate.require_wwcsc else " (reported, not part of the gate).")
    )
    if not ok:
        reasons.append("The performance gate failed: no flags will be produced from this model.")
    return GateResult(passed=bool(ok), reasons=reasons)


def evaluate_risk_model(
    fitted: FittedRisk,
    training_frame: pd.DataFrame,
    *,
    config: EvaluationConfig,
    truth: pd.DataFrame | None = None,
) -> ModelEvaluation:
    """Measure the model on the split's pooled test dates against the baseline (and oracles).

    Parameters
    ----------
    fitted : FittedRisk
    training_frame : pandas.DataFrame
        The same frame the model was fitted on; only the test-date rows are used.
    config : EvaluationConfig
    truth : pandas.DataFrame, optional
        Synthetic estates only: ``as_of_date, family_key, latent_need`` and optionally
        ``label_oracle`` (the true probability of the outcome in the window). Adds the need
        oracle and the label oracle, which rank the test families by those.
    """
    with m.single_threaded_blas():
        return _evaluate(fitted, training_frame, config, truth)


def _evaluate(
    fitted: FittedRisk,
    training_frame: pd.DataFrame,
    config: EvaluationConfig,
    truth: pd.DataFrame | None,
) -> ModelEvaluation:
    _, _, test = fitted.split.frames(training_frame)
    if test.empty:
        raise ValueError(f"no rows at the test dates {[d.date() for d in fitted.split.test_dates]}")
    test = test.reset_index(drop=True)
    y = labels(test)
    names = list(fitted.feature_names)
    dates = test["as_of_date"].to_numpy()
    n_dates = len(np.unique(dates))
    families = test["family_key"].astype(str).to_numpy()
    boot = m.Bootstrap(len(test), n_boot=config.n_boot, seed=config.seed, clusters=families)
    score = fitted.model.decision_function(test[names])  # the trees, evaluated once
    prob = fitted.model.calibrate_log_odds(score)
    raw_prob = expit(score)
    base_prob = fitted.baseline.predict_proba(as_matrix(test, names))[:, 1]
    # The operating rule (capacity within the threshold) decides how many each run flags;
    # the baseline and the oracles are compared at the same numbers of flags.
    ks = operating_ks(prob, dates, config.total_capacity, threshold=config.threshold,
                      population_size=config.population_size)  # fmt: skip

    results = {
        "model": {
            **_ranking_metrics(boot, y, score, dates, ks),
            **_probability_metrics(boot, y, prob, config),
        },
        "baseline": {
            **_ranking_metrics(boot, y, base_prob, dates, ks),
            **_probability_metrics(boot, y, base_prob, config),
        },
    }
    if truth is not None:
        aligned = (
            test[["as_of_date", "family_key"]]
            .astype({"family_key": "string"})
            .merge(
                truth.astype({"family_key": "string"}), on=["as_of_date", "family_key"], how="left"
            )
        )
        for oracle, column in (("oracle", "latent_need"), ("label_oracle", "label_oracle")):
            if column in aligned.columns and aligned[column].notna().any():
                ranking = aligned[column].astype(float).fillna(-np.inf).to_numpy()
                results[oracle] = _ranking_metrics(boot, y, ranking, dates, ks)
    harm, harm_counts = None, None
    if truth is not None and "true_harm" in truth.columns:
        aligned = (
            test[["as_of_date", "family_key"]].astype({"family_key": "string"})
            .merge(truth.astype({"family_key": "string"})[["as_of_date", "family_key", "true_harm",
                   "true_harm_referred"]], on=["as_of_date", "family_key"], how="left")
        )  # fmt: skip
        harm, harm_counts = validate_against_harm(
            boot, y, aligned["true_harm"].astype("boolean").fillna(False).to_numpy(dtype=float),
            score, dates, ks,
            referred=aligned["true_harm_referred"].astype("boolean").fillna(False).to_numpy(dtype=float),
        )  # fmt: skip
    versus = {
        metric: boot.difference(
            _metric_fn(metric, y, score, dates, ks), _metric_fn(metric, y, base_prob, dates, ks)
        )
        for metric in ("auc_roc", "auc_pr", "precision_at_capacity")
    }
    base_rate = float(y.mean())
    k = round(float(np.mean(list(ks.values()))))
    model = results["model"]
    gate = evaluate_gate(
        config.gate,
        base_rate=base_rate,
        k=k,
        precision_at_capacity=model["precision_at_capacity"],
        versus_baseline=versus[config.gate.baseline_metric],
        observed_over_expected=model["observed_over_expected"],
        calibration_slope=model["calibration_slope"],
        n_test_dates=n_dates,
    )
    return ModelEvaluation(
        n_test=len(test),
        n_test_dates=n_dates,
        n_families=len(np.unique(families)),
        base_rate=base_rate,
        k=k,
        threshold=config.threshold,
        metrics=results,
        versus_baseline=versus,
        ece_uncalibrated=boot.estimate(m.ece(y, raw_prob, config.n_bins)),
        calibration_curve=m.calibration_table(y, prob, config.n_bins),
        calibration_curve_uncalibrated=m.calibration_table(y, raw_prob, config.n_bins),
        wwcsc_met=model["precision_at_capacity"].value >= WWCSC_PRECISION,
        gate=gate,
        test_dates=tuple(pd.Timestamp(d).date().isoformat() for d in fitted.split.test_dates),
        n_boot=config.n_boot,
        baseline_better=bool(versus["precision_at_capacity"].upper < 0),
        model_better=bool(versus["precision_at_capacity"].lower > 0),
        by_age=_by_model_age(test, y, score, prob, ks, fitted, config),
        true_harm=harm,
        true_harm_counts=harm_counts,
        review_curve=review_curve(boot, y, score, dates, ks),
    )


REVIEW_MULTIPLES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)


def review_curve(
    boot: m.Bootstrap,
    y: np.ndarray,
    score: np.ndarray,
    dates: np.ndarray,
    ks: Mapping[Any, int],
    multiples: Sequence[float] = REVIEW_MULTIPLES,
) -> pd.DataFrame:
    """Pooled precision and recall if each run reviewed ``multiple`` x its capacity, with
    family-clustered bootstrap intervals (100 resamples each): how much is gained or lost by
    reviewing more or fewer families than capacity. Aggregates only."""
    sizes = {d: int((np.asarray(dates) == d).sum()) for d in ks}
    rows = []
    for multiple in multiples:
        scaled = {d: min(sizes[d], max(1, round(k * multiple))) for d, k in ks.items()}
        prec = boot.estimate(m.pooled_top_k(y, score, dates, scaled), max_reps=100)
        rec = boot.estimate(m.pooled_top_k(y, score, dates, scaled, what="recall"), max_reps=100)
        rows.append({
            "multiple_of_capacity": multiple,
            "families_reviewed_per_run": float(np.mean(list(scaled.values()))),
            "precision": prec.value, "precision_lower": prec.lower, "precision_upper": prec.upper,
            "recall": rec.value, "recall_lower": rec.lower, "recall_upper": rec.upper,
        })  # fmt: skip
    return pd.DataFrame(rows)


def months_between(earlier: pd.Timestamp, later: pd.Timestamp) -> int:
    """Whole calendar months from ``earlier`` to ``later``."""
    a, b = pd.Timestamp(earlier), pd.Timestamp(later)
    return (b.year - a.year) * 12 + b.month - a.month


def _by_model_age(
    test: pd.DataFrame,
    y: np.ndarray,
    score: np.ndarray,
    prob: np.ndarray,
    ks: Mapping[Any, int],
    fitted: FittedRisk,
    config: EvaluationConfig,
    bands: int = 3,
) -> pd.DataFrame:
    """Performance by model age: months from the last calibration date to the test date.

    The pooled test dates are 12 to 23 months after the calibration data (the embargo and
    then a year of runs), so splitting them into a few bands shows how the same model ages
    without fitting it again.
    """
    last = max(fitted.split.calibration_dates)
    dates = test["as_of_date"].to_numpy()
    ages = np.array([months_between(last, d) for d in dates])
    edges = np.unique(np.quantile(np.unique(ages), np.linspace(0, 1, bands + 1)))
    rows = []
    for lo, hi in itertools.pairwise(edges):
        mask = (ages >= lo) & ((ages <= hi) if hi == edges[-1] else (ages < hi))
        if not mask.any():
            continue
        families = test["family_key"].astype(str).to_numpy()[mask]
        boot = m.Bootstrap(int(mask.sum()), n_boot=min(config.n_boot, 100), seed=config.seed,
                           clusters=families)  # fmt: skip
        d, yy = dates[mask], y[mask]
        sub_ks = {k: v for k, v in ks.items() if k in set(d)}
        ests = {
            "precision_at_capacity": boot.estimate(m.pooled_top_k(yy, score[mask], d, sub_ks)),
            "recall_at_capacity": boot.estimate(m.pooled_top_k(yy, score[mask], d, sub_ks, what="recall")),
            "auc_roc": boot.estimate(m.auc_roc(yy, score[mask])),
            "observed_over_expected": boot.estimate(m.observed_over_expected(yy, prob[mask])),
        }  # fmt: skip
        row: dict[str, Any] = {"age_months": f"{int(ages[mask].min())}-{int(ages[mask].max())}",
                               "n_dates": len(np.unique(d)), "n": int(mask.sum())}  # fmt: skip
        row.update({k: v.as_dict() for k, v in ests.items()})
        rows.append(row)
    return pd.DataFrame(rows)
