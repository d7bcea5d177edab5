"""Fairness audit of the risk model over pooled test dates, with a blocking fairness gate.

Groups are compared on who is flagged (selection rate, precision, FPR, recall) and on the
calibrated score itself (observed / expected outcomes), by ethnicity, sex, disability, the
youngest child's age band, area deprivation and intersections. Each characteristic is compared
only among the families in which it is *recorded* by the test date ("Unknown" is reported with
its coverage, never used as the comparison group): disability, which only children's social
care records, would otherwise stand for "known to social care".

Rows are family-dates: several monthly test dates are pooled and families, not rows, are
resampled (a family's overlapping outcome windows are not independent evidence). Point values
come from fairlearn's ``MetricFrame`` where it is affordable; intervals from the vectorised
group bootstrap of :mod:`safeguard.models.fairness_stats`; the gate from :mod:`safeguard.models.fairness_gate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from sklearn.metrics import precision_score

from safeguard.contracts.gates import DEFAULT_GATES, DEFAULT_THRESHOLD
from safeguard.models.evaluation import (
    GateResult,
    distinct_outcome_factor,
    operating_ks,
    per_date_top_k,
)
from safeguard.models.fairness_gate import (
    FairnessDecision,
    FairnessGate,
    RatioEvidence,
    SignOff,
    evaluate_fairness_gate,
)
from safeguard.models.fairness_stats import (
    GROUP_METRICS,
    GroupSums,
    between_groups,
    group_estimates,
    replicate_sums,
)
from safeguard.models.fairness_truth import at_equal_need, need_strata, proxy_check
from safeguard.models.metrics import Bootstrap, single_threaded_blas
from safeguard.models.training import FittedRisk, labels

UNKNOWN = "Unknown"

__all__ = [
    "AuditDimension",
    "FairnessAudit",
    "FairnessConfig",
    "FairnessGate",
    "SignOff",
    "audit_fairness",
    "audit_predictions",
]

# Which group-level metric needs which count to be meaningful.
_NEEDS = {
    "precision": "sel", "false_negative_rate": "pos", "recall": "pos",
    "observed_over_expected": "pos", "recall_vs_expected": "pos",
}  # fmt: skip


@dataclass(frozen=True)
class AuditDimension:
    """One audited characteristic and the population it is compared within.

    Attributes
    ----------
    name : column of the sensitive-features frame.
    not_compared : groups reported (with their coverage) but left out of every comparison:
        "Unknown" (not recorded by the test date) and, for the sex of the children, families
        with both girls and boys (a statement about family size, not about sex).
    recorded_by : which agencies record it (shown beside its coverage).
    gated : False for report-only dimensions.
    """

    name: str
    recorded_by: str
    not_compared: tuple[str, ...] = (UNKNOWN,)
    gated: bool = True


DEFAULT_DIMENSIONS: tuple[AuditDimension, ...] = (
    AuditDimension("ethnicity_group", "children's social care and schools (children)"),
    AuditDimension("sex_children", "children's social care and schools (children)",
                   not_compared=(UNKNOWN, "mixed")),
    AuditDimension("sex_lead_adult", "police (adults)"),
    AuditDimension("disability", "children's social care only"),
    AuditDimension("youngest_child_age_band", "any agency recording a date of birth"),
    AuditDimension("deprivation_quintile", "any agency recording an address (IMD of district)"),
    AuditDimension("ethnicity", "children's social care and schools (children)", gated=False),
)  # fmt: skip


@dataclass(frozen=True)
class FairnessConfig:
    """What the audit covers and how flags are decided for it.

    Attributes
    ----------
    total_capacity : families practitioners can review per run (per test date).
    dimensions : audited characteristics (gated or report-only).
    intersections : pairs of dimensions audited jointly (reported, not gated).
    min_group_size : groups with fewer family-dates are suppressed: "suppressed (n < N)".
    min_cell : a group's precision / recall / observed-over-expected is shown only with at
        least this many selected families / outcomes.
    fairlearn_max_rows : point values come from fairlearn's ``MetricFrame`` up to this many
        rows; above it from the same sums the bootstrap uses (tests check they agree).
    selection : "capacity": the operating rule (each test date's top families up to the
        capacity, never below ``threshold``); "threshold": every family at or above it.
    horizon_months : outcome window, to count distinct outcome events over pooled dates.
    max_leakage_share : the audit is invalid (and the gate fails) when more than this share
        of a group's outcomes carry an attribute first recorded after the as-of date.
    """

    total_capacity: int
    population_size: int | None = None
    selection: Literal["capacity", "threshold"] = "capacity"
    threshold: float = DEFAULT_THRESHOLD
    dimensions: tuple[AuditDimension, ...] = DEFAULT_DIMENSIONS
    intersections: tuple[tuple[str, str], ...] = (
        ("ethnicity_group", "deprivation_quintile"),
        ("ethnicity_group", "disability"),
        ("ethnicity_group", "sex_children"),
    )
    min_group_size: int = 100
    min_cell: int = 10
    n_boot: int = 200
    seed: int = 0
    proxy_flag_auc: float = 0.7
    fairlearn_max_rows: int = 50_000
    horizon_months: int = 12
    max_leakage_share: float = DEFAULT_GATES.fairness.max_leakage_share
    gate: FairnessGate = field(default_factory=FairnessGate)


@dataclass(frozen=True)
class FairnessAudit:
    """Audit tables (aggregates only, no family identifiers) and the gate decision."""

    groups: pd.DataFrame  # dimension, group, n, n_families, n_outcomes, expected..., status
    group_metrics: pd.DataFrame  # dimension, group, metric, value(+CI), ratio/difference to rest
    disparities: pd.DataFrame  # dimension, metric, difference(+CI), ratio(+CI), n_groups
    decisions: pd.DataFrame  # the gate's verdict per (dimension, group, metric)
    coverage: pd.DataFrame  # dimension, by, by_group, n, recorded, coverage
    need_adjusted: pd.DataFrame | None  # dimension, group, measure, value, lower, upper
    proxy: pd.DataFrame | None
    leakage: pd.DataFrame | None
    gate: GateResult
    n: int
    n_selected: int
    n_test_dates: int
    verdict_counts: dict[str, int] = field(default_factory=dict)
    settings: FairnessGate = field(default_factory=FairnessGate)
    max_leakage_share: float = DEFAULT_GATES.fairness.max_leakage_share

    def summary(self) -> dict[str, Any]:
        """Plain JSON-able aggregates for Dagster metadata and the model card."""
        suppressed = self.groups.loc[self.groups["status"].str.startswith("suppressed")]
        out: dict[str, Any] = {
            "gate_passed": self.gate.passed,
            "gate_reasons": list(self.gate.reasons),
            "n_family_dates": self.n,
            "n_test_dates": self.n_test_dates,
            "n_selected": self.n_selected,
            "groups_reported": int((self.groups["status"] != "not compared").sum()),
            "groups_suppressed": len(suppressed),
            "verdicts": dict(self.verdict_counts),
        }
        if self.proxy is not None:
            out["proxy_auc"] = {
                r.dimension: (None if np.isnan(r.auc) else round(float(r.auc), 3))
                for r in self.proxy.itertuples()
            }
        if self.leakage is not None and len(self.leakage):
            out["max_leakage_share"] = round(float(self.leakage["share"].max()), 4)
        shown = ["selection_rate", "recall", "observed_over_expected"]
        rows = (
            self.disparities.loc[self.disparities["metric"].isin(shown)]
            if "metric" in self.disparities.columns
            else self.disparities
        )
        out["disparities"] = [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            for r in rows.to_dict("records")
        ]
        return out


def _precision(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    return float(precision_score(y_true, y_pred, sample_weight=sample_weight, zero_division=0))


def _count(y_true: Any, y_pred: Any, sample_weight: Any = None) -> int:
    """Rows in the group (fairlearn's ``count`` would count the distinct combinations)."""
    return len(y_true) if sample_weight is None else int(np.sum(sample_weight))


_HEADLINE = {
    "count": _count,
    "selection_rate": selection_rate,
    "precision": _precision,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
}


def metric_frame(y: np.ndarray, selected: np.ndarray, groups: pd.Series) -> MetricFrame:
    """fairlearn MetricFrame of the audit's headline metrics for one grouping.

    The headline metrics depend on a row only through its group, outcome and flag, so
    fairlearn is given each distinct ``(group, outcome, flag)`` once, weighted by how many rows
    have it: at most four rows per group instead of every family-date. The counts are exact
    integers, so every value is the same float fairlearn gives on the rows themselves (pinned
    by tests/models/test_models_fairness.py); fairlearn's per-row work (it ``np.stack``s each
    group's columns element by element) made the unweighted call 60% of the whole audit.
    """
    y, selected = np.asarray(y), np.asarray(selected)
    labels, codes = np.unique(np.asarray(groups, dtype=object), return_inverse=True)
    y_values, y_codes = np.unique(y, return_inverse=True)
    s_values, s_codes = np.unique(selected, return_inverse=True)
    key = (codes.astype(np.int64) * len(y_values) + y_codes) * len(s_values) + s_codes
    combos, weight = np.unique(key, return_counts=True)
    combos, s_at = np.divmod(combos, len(s_values))
    g_at, y_at = np.divmod(combos, len(y_values))
    weights = {"sample_weight": weight}
    return MetricFrame(
        metrics=_HEADLINE,
        y_true=y_values[y_at],
        y_pred=s_values[s_at],
        sensitive_features=labels[g_at],
        sample_params={name: weights for name in _HEADLINE},
    )


@dataclass
class _Grouping:
    name: str
    values: pd.Series
    gated: bool
    not_compared: tuple[str, ...]
    recorded_by: str = ""


def _groupings(sensitive: pd.DataFrame, cfg: FairnessConfig) -> list[_Grouping]:
    def col(name: str) -> pd.Series:
        return sensitive[name].astype("string").fillna(UNKNOWN).reset_index(drop=True)

    out = [
        _Grouping(d.name, col(d.name), d.gated, d.not_compared, d.recorded_by)
        for d in cfg.dimensions
        if d.name in sensitive.columns
    ]
    excluded = {d.name: d.not_compared for d in cfg.dimensions}
    for a, b in cfg.intersections:
        joint = col(a) + " & " + col(b)
        drop = tuple(
            f"{x} & {y}" for x in [*excluded.get(a, ()), "*"] for y in [*excluded.get(b, ()), "*"]
        )
        out.append(_Grouping(f"{a} & {b}", joint, False, drop))
    return out


def _outside(values: pd.Series, not_compared: tuple[str, ...]) -> np.ndarray:
    """Rows whose group is outside the comparison population (wildcards ``*`` per part)."""

    def matches(label: str) -> bool:
        for pattern in not_compared:
            parts, labels = pattern.split(" & "), label.split(" & ")
            if all(p == "*" for p in parts) or len(parts) != len(labels):
                continue
            if all(p in ("*", x) for p, x in zip(parts, labels, strict=True)):
                return True
        return False

    text = values.astype(str)
    outside = {u for u in text.unique() if matches(u)}
    return text.isin(outside).to_numpy()


def audit_predictions(
    y: np.ndarray,
    prob: np.ndarray,
    selected: np.ndarray,
    sensitive: pd.DataFrame,
    *,
    config: FairnessConfig,
    clusters: np.ndarray | None = None,
    dates: np.ndarray | None = None,
    need: np.ndarray | None = None,
    truth_groups: pd.DataFrame | None = None,
    X: pd.DataFrame | None = None,
    strata: np.ndarray | None = None,
    leakage: pd.DataFrame | None = None,
) -> FairnessAudit:
    """Audit given outcomes, calibrated probabilities and flags (rows aligned).

    Parameters
    ----------
    clusters : family key per row; families are resampled whole (default: rows).
    dates : as-of date per row, to count distinct outcome events over pooled dates.
    need : true latent need (ground truth) for the equal-need comparison, within ``strata``
        if given (see ``fairness_truth.need_strata``).
    truth_groups : grouping columns known only from the ground truth (e.g. a planted
        recording-bias group): gated on the equal-need comparison.
    X : model inputs, for the proxy check.
    leakage : from ``safeguard.features.protected.attribute_leakage``: per group, the share of outcomes
        whose attribute was first recorded after the as-of date. Above
        ``config.max_leakage_share`` the audit is invalid and the gate fails.
    """
    with single_threaded_blas():
        return _audit(y, prob, selected, sensitive, config, clusters, dates, need, truth_groups,
                      X, strata, leakage)  # fmt: skip


def _audit(
    y: np.ndarray,
    prob: np.ndarray,
    selected: np.ndarray,
    sensitive: pd.DataFrame,
    config: FairnessConfig,
    clusters: np.ndarray | None,
    dates: np.ndarray | None,
    need: np.ndarray | None,
    truth_groups: pd.DataFrame | None,
    X: pd.DataFrame | None,
    strata: np.ndarray | None,
    leakage: pd.DataFrame | None,
) -> FairnessAudit:
    y, prob, selected = (np.asarray(a, dtype=float) for a in (y, prob, selected))
    boot = Bootstrap(len(y), n_boot=config.n_boot, seed=config.seed, clusters=clusters)
    factor = distinct_outcome_factor(dates, config.horizon_months)
    sensitive = sensitive.reset_index(drop=True)
    groupings = _groupings(sensitive, config)
    if truth_groups is not None:
        groupings += [_Grouping(c, truth_groups[c].astype("string").fillna(UNKNOWN).reset_index(drop=True),
                                True, (UNKNOWN,), "ground truth") for c in truth_groups.columns]  # fmt: skip
    tables: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("groups", "metrics", "disparities", "need")
    }
    evidence: list[RatioEvidence] = []
    for grouping in groupings:
        _grouping_rows(grouping, y, prob, selected, boot, config, factor, need, strata, tables,
                       evidence, truth_only=truth_groups is not None and grouping.name in truth_groups.columns)  # fmt: skip
    need_adjusted = pd.DataFrame(tables["need"]) if need is not None else None
    proxy = None
    if X is not None:
        gated = [d.name for d in config.dimensions if d.gated and d.name in sensitive.columns]
        proxy = proxy_check(
            X.reset_index(drop=True), sensitive[gated],
            min_group_size=config.min_group_size, flag_auc=config.proxy_flag_auc, seed=config.seed,
        )  # fmt: skip
    gated_metrics = set(config.gate.metrics)
    evidence = [e for e in evidence if e.metric in gated_metrics]
    not_compared = [
        f"{g.name} = {label}: reported with its coverage, outside the comparison ({g.recorded_by} records it)"
        for g in groupings if g.gated and " & " not in g.name
        for label in g.not_compared if label in set(g.values.astype(str))
    ]  # fmt: skip
    decision: FairnessDecision = evaluate_fairness_gate(config.gate, evidence, proxy,
                                                        not_compared=not_compared)  # fmt: skip
    gate = decision.result
    if leakage is not None and len(leakage):
        bad = leakage.loc[leakage["share"] > config.max_leakage_share]
        if len(bad):
            lines = [
                f"AUDIT INVALID: {r.dimension} = {r.group}: {r.share:.1%} of its outcomes "
                f"({r.n_leaked} of {r.n_outcomes}) carry an attribute first recorded after the "
                f"as-of date (limit {config.max_leakage_share:.0%})"
                for r in bad.itertuples()
            ]
            gate = GateResult(
                passed=False,
                reasons=["The fairness audit is invalid: group attributes leak from after the "
                         "as-of date, so no flags will be produced.", *lines, *gate.reasons],
            )  # fmt: skip
    return FairnessAudit(
        groups=pd.DataFrame(tables["groups"]), group_metrics=pd.DataFrame(tables["metrics"]),
        disparities=pd.DataFrame(tables["disparities"]), decisions=decision.table,
        coverage=coverage_table(sensitive, config), need_adjusted=need_adjusted, proxy=proxy,
        leakage=leakage, gate=gate, n=len(y), n_selected=int(selected.sum()),
        n_test_dates=len(np.unique(dates)) if dates is not None else 1,
        verdict_counts=decision.counts, settings=config.gate,
        max_leakage_share=config.max_leakage_share,
    )  # fmt: skip


def coverage_table(sensitive: pd.DataFrame, config: FairnessConfig) -> pd.DataFrame:
    """How often each characteristic is recorded, overall and within each group of the others.

    Recording coverage matters as much as the metrics: a characteristic recorded for few
    families of one group says more about which agencies saw them than about the group.
    """
    rows = []
    dims = [d for d in config.dimensions if d.gated and d.name in sensitive.columns]
    for d in dims:
        recorded = sensitive[d.name].astype("string").fillna(UNKNOWN) != UNKNOWN
        rows.append({"dimension": d.name, "recorded_by": d.recorded_by, "by": "all", "by_group": "all",
                     "n": len(sensitive), "recorded": int(recorded.sum()),
                     "coverage": float(recorded.mean()) if len(sensitive) else np.nan})  # fmt: skip
        for other in dims:
            if other.name == d.name:
                continue
            values = sensitive[other.name].astype("string").fillna(UNKNOWN)
            for g, part in recorded.groupby(values.to_numpy()):
                rows.append({"dimension": d.name, "recorded_by": d.recorded_by, "by": other.name,
                             "by_group": str(g), "n": len(part), "recorded": int(part.sum()),
                             "coverage": float(part.mean())})  # fmt: skip
    return pd.DataFrame(rows)


def _grouping_rows(
    grouping: _Grouping,
    y: np.ndarray,
    prob: np.ndarray,
    selected: np.ndarray,
    boot: Bootstrap,
    config: FairnessConfig,
    factor: float,
    need: np.ndarray | None,
    strata: np.ndarray | None,
    tables: dict[str, list[dict[str, Any]]],
    evidence: list[RatioEvidence],
    *,
    truth_only: bool = False,
) -> None:
    """Rows of the audit tables (and the gate's evidence) for one grouping."""
    dim, values = grouping.name, grouping.values
    joint = " & " in dim
    outside = _outside(values, grouping.not_compared)
    sizes = values.value_counts()
    reportable = {str(g) for g in sizes.index[sizes >= config.min_group_size]}
    for g, n in sizes.sort_index().items():
        mask = (values == g).to_numpy()
        compared = not outside[mask].any()
        ok = str(g) in reportable
        status = (
            ("reported" if ok else f"suppressed (n < {config.min_group_size})")
            if compared
            else "not compared"
        )
        tables["groups"].append({
            "dimension": dim, "group": str(g), "n": int(n), "gated": grouping.gated and ok and compared,
            "n_outcomes": int(y[mask].sum()) if ok else None,
            "expected_outcomes": round(float(prob[mask].sum()) * factor, 1) if ok else None,
            "n_selected": int(selected[mask].sum()) if ok else None, "status": status,
        })  # fmt: skip
    inside = ~outside
    reported = sorted(g for g in reportable if not outside[(values == g).to_numpy()].any())
    if not reported:
        return
    sub = boot.subset(inside) if not inside.all() else boot
    values_in = values[inside].reset_index(drop=True)
    y_in, prob_in, sel_in = y[inside], prob[inside], selected[inside]
    use_fairlearn = not joint and len(y_in) <= config.fairlearn_max_rows
    mf = metric_frame(y_in, sel_in, values_in).by_group if use_fairlearn else pd.DataFrame()
    codes = np.full(len(values_in), -1)
    for j, g in enumerate(reported):
        codes[(values_in == g).to_numpy()] = j
    sums = GroupSums(codes, len(reported), y_in, sel_in, prob_in)
    counts, rest_counts = sums.sums(np.ones((1, len(y_in)), dtype=np.float32))
    if not truth_only:
        reps = replicate_sums(sums, sub)
        est = group_estimates(sums, sub, reps)
        for metric in GROUP_METRICS:
            needed = _NEEDS.get(metric)
            for j, g in enumerate(reported):
                few = needed is not None and counts[needed][0, j] < config.min_cell
                v, r, d = (
                    est[metric][k][j] for k in ("value", "ratio_to_rest", "difference_to_rest")
                )
                point = float(mf.loc[g, metric]) if metric in mf.columns else v.value
                nan = np.nan
                tables["metrics"].append({
                    "dimension": dim, "group": g, "metric": metric, "gated": grouping.gated,
                    "value": nan if few else point, "lower": nan if few else v.lower,
                    "upper": nan if few else v.upper,
                    "ratio_to_rest": nan if few else r.value, "ratio_lower": nan if few else r.lower,
                    "ratio_upper": nan if few else r.upper,
                    "difference_to_rest": nan if few else d.value,
                    "difference_lower": nan if few else d.lower,
                    "difference_upper": nan if few else d.upper,
                    "note": f"too few (< {config.min_cell} {needed})" if few else "",
                })  # fmt: skip
        if grouping.gated and not joint:
            for metric, source in (
                ("recall_ratio", "recall_vs_expected"),
                ("oe_ratio", "observed_over_expected"),
            ):
                for j, g in enumerate(reported):
                    r = est[source]["ratio_to_rest"][j]
                    evidence.append(RatioEvidence(
                        dim, g, metric, float(r.value), float(r.se_log),
                        float(counts["prob"][0, j]) * factor, float(rest_counts["prob"][0, j]) * factor,
                    ))  # fmt: skip
        if len(reported) >= 2:
            for metric in ("selection_rate", "false_positive_rate", "recall",
                           "observed_over_expected", "negative_mean_score"):  # fmt: skip
                diff, ratio = between_groups(sums, sub, metric, reps)
                tables["disparities"].append({
                    "dimension": dim, "metric": metric, "n_groups": len(reported),
                    "difference": diff.value, "difference_lower": diff.lower, "difference_upper": diff.upper,
                    "ratio": ratio.value, "ratio_lower": ratio.lower, "ratio_upper": ratio.upper,
                })  # fmt: skip
    if need is not None and not joint:
        need_in = np.asarray(need, float)[inside]
        strata_in = None if strata is None else np.asarray(strata)[inside]
        adj = at_equal_need(codes, len(reported), need_in, prob_in, sel_in, sub, strata=strata_in)
        for measure, ests in adj.items():
            for j, g in enumerate(reported):
                e = ests[j]
                tables["need"].append({"dimension": dim, "group": g, "measure": measure,
                                       "gated": grouping.gated, "value": e.value, "lower": e.lower,
                                       "upper": e.upper})  # fmt: skip
        if grouping.gated:
            for j, g in enumerate(reported):
                e = adj["selection_ratio_at_equal_need"][j]
                evidence.append(RatioEvidence(
                    dim, g, "selection_ratio_at_equal_need", float(e.value), float(e.se_log),
                    float(counts["prob"][0, j]) * factor, float(rest_counts["prob"][0, j]) * factor,
                ))  # fmt: skip


def select_flags(
    score: np.ndarray, prob: np.ndarray, config: FairnessConfig, dates: np.ndarray | None = None
) -> np.ndarray:
    """0/1 flags under the operating rule: each date's top families by score up to capacity,
    never below the probability threshold (``selection="threshold"``: threshold only)."""
    if config.selection == "threshold":
        return (np.asarray(prob) >= config.threshold).astype(float)
    dates = np.zeros(len(score)) if dates is None else np.asarray(dates)
    ks = operating_ks(prob, dates, config.total_capacity, threshold=config.threshold,
                      population_size=config.population_size)  # fmt: skip
    return per_date_top_k(score, dates, ks)


def audit_fairness(
    fitted: FittedRisk,
    training_frame: pd.DataFrame,
    sensitive_features: pd.DataFrame,
    *,
    config: FairnessConfig,
    truth: pd.DataFrame | None = None,
    truth_group_columns: Sequence[str] = (),
    leakage: pd.DataFrame | None = None,
) -> FairnessAudit:
    """Audit the fitted model on its pooled test dates.

    Parameters
    ----------
    sensitive_features : pandas.DataFrame
        From ``safeguard.features.protected.build_sensitive_features_many`` at the test dates, with
        columns ``as_of_date, family_key`` and the attributes; joined here and never given to
        the model.
    truth : pandas.DataFrame, optional
        ``as_of_date, family_key, latent_need`` and any ``truth_group_columns`` (synthetic
        estates): adds the equal-need separation of recording bias from need.
    """
    _, _, test = fitted.split.frames(training_frame)
    test = test.reset_index(drop=True)
    names = list(fitted.feature_names)
    keys = test[["as_of_date", "family_key"]].astype({"family_key": "string"})
    attrs = sensitive_features.astype({"family_key": "string"})
    sensitive = keys.merge(attrs, on=["as_of_date", "family_key"], how="left", validate="1:1")
    missing = int(sensitive.drop(columns=["as_of_date", "family_key"]).isna().all(axis=1).sum())
    if missing == len(sensitive) and len(sensitive):
        raise KeyError(
            "no test family has a row in sensitive_features (keys as_of_date, family_key)"
        )
    sensitive = sensitive.drop(columns=["as_of_date", "family_key"])
    score = fitted.model.decision_function(test[names])
    prob = fitted.model.calibrate_log_odds(score)
    dates = test["as_of_date"].to_numpy()
    need, truth_groups, strata = None, None, None
    if truth is not None:
        aligned = keys.merge(truth.astype({"family_key": "string"}), on=["as_of_date", "family_key"],
                             how="left")  # fmt: skip
        need = (
            aligned["latent_need"].astype(float).fillna(aligned["latent_need"].median()).to_numpy()
        )
        if truth_group_columns:
            truth_groups = aligned[list(truth_group_columns)].reset_index(drop=True)
        strata = need_strata(need, *_make_up(test))
    return audit_predictions(
        labels(test), prob, select_flags(score, prob, config, dates), sensitive, config=config,
        clusters=test["family_key"].astype(str).to_numpy(), dates=dates, need=need,
        truth_groups=truth_groups, X=test[names], strata=strata, leakage=leakage,
    )  # fmt: skip


def _make_up(test: pd.DataFrame) -> list[np.ndarray]:
    """Family make-up strata for the equal-need comparison: children (1, 2, 3+), youngest age band."""
    parts = []
    if "fam_children" in test.columns:
        parts.append(np.minimum(test["fam_children"].astype(float).fillna(1).to_numpy(), 3))
    if "fam_youngest_child_age" in test.columns:
        age = test["fam_youngest_child_age"].astype(float).fillna(-1).to_numpy()
        parts.append(np.digitize(age, [0, 5, 11, 16]))
    return parts
