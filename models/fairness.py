"""Fairness audit of the risk model with a blocking fairness gate.

Groups are compared on who is flagged (selection rate, precision, FPR, FNR) and on the
calibrated score itself (calibration within group, mean score of families without the outcome),
by ethnicity, sex, disability, youngest child's age band, area deprivation and intersections.
Small groups are suppressed and reported as such, never as "fair". Point values come from
fairlearn's ``MetricFrame``; intervals from a vectorised group bootstrap (fairness_stats).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from sklearn.metrics import precision_score

from models.evaluation import GateResult, capacity_k
from models.fairness_gate import FairnessGate, evaluate_fairness_gate
from models.fairness_stats import GROUP_METRICS, GroupSums, between_groups, group_estimates
from models.fairness_truth import at_equal_need, need_strata, proxy_check
from models.metrics import Bootstrap, single_threaded_blas
from models.training import FittedRisk, labels

UNKNOWN = "Unknown"

__all__ = ["FairnessAudit", "FairnessConfig", "FairnessGate", "audit_fairness", "audit_predictions"]

# Which group-level metric needs which count to be meaningful.
_NEEDS = {"precision": "sel", "false_negative_rate": "pos", "calibration_ratio": "pos"}


@dataclass(frozen=True)
class FairnessConfig:
    """What the audit covers and how flags are decided for it.

    Attributes
    ----------
    dimensions : gated single characteristics (columns of ``sensitive_features``).
    report_only_dimensions : audited and shown, not gated (e.g. detailed ethnicity codes,
        whose many small groups make between-group figures noisy).
    intersections : pairs of dimensions audited jointly (reported; gated if the gate says so).
    min_group_size : groups with fewer families are suppressed: "suppressed (n < N)".
    min_cell : a group's precision / FNR / calibration is shown only with at least this many
        selected families / outcomes.
    fairlearn_max_rows : point values come from fairlearn's ``MetricFrame`` up to this many
        test rows; above it (MetricFrame costs ~0.5 s per grouping per 10k rows) from the
        same sums the bootstrap uses, which tests/models check equal to MetricFrame.
    selection : flags are the top ``capacity_k`` families ("capacity") or those at or above
        ``threshold`` on the calibrated probability.
    """

    total_capacity: int
    population_size: int | None = None
    selection: Literal["capacity", "threshold"] = "capacity"
    threshold: float = 0.2
    dimensions: tuple[str, ...] = (
        "ethnicity_group", "sex_children", "sex_lead_adult", "disability",
        "youngest_child_age_band", "deprivation_quintile",
    )  # fmt: skip
    report_only_dimensions: tuple[str, ...] = ("ethnicity",)
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
    gate: FairnessGate = field(default_factory=FairnessGate)


@dataclass(frozen=True)
class FairnessAudit:
    """Audit tables (aggregates only, no family identifiers) and the gate decision."""

    groups: pd.DataFrame  # dimension, group, n, n_outcomes, n_selected, status, gated
    group_metrics: pd.DataFrame  # dimension, group, metric, value(+CI), ratio/difference to rest
    disparities: pd.DataFrame  # dimension, metric, difference(+CI), ratio(+CI), n_groups
    need_adjusted: pd.DataFrame | None  # dimension, group, measure, value, lower, upper
    proxy: pd.DataFrame | None
    gate: GateResult
    n: int
    n_selected: int

    def summary(self) -> dict[str, Any]:
        """Plain JSON-able aggregates for Dagster metadata and the model card."""
        suppressed = self.groups.loc[self.groups["status"] != "reported"]
        out: dict[str, Any] = {
            "gate_passed": self.gate.passed,
            "gate_reasons": list(self.gate.reasons),
            "n_families": self.n,
            "n_selected": self.n_selected,
            "groups_reported": int((self.groups["status"] == "reported").sum()),
            "groups_suppressed": len(suppressed),
        }
        if self.proxy is not None:
            out["proxy_auc"] = {
                r.dimension: (None if np.isnan(r.auc) else round(float(r.auc), 3))
                for r in self.proxy.itertuples()
            }
        rows = self.disparities.loc[self.disparities["metric"].isin(
            ["selection_rate", "false_negative_rate", "negative_mean_score"])]  # fmt: skip
        out["disparities"] = [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            for r in rows.to_dict("records")
        ]
        return out


def _precision(y_true: Any, y_pred: Any) -> float:
    return float(precision_score(y_true, y_pred, zero_division=0))


def metric_frame(y: np.ndarray, selected: np.ndarray, groups: pd.Series) -> MetricFrame:
    """fairlearn MetricFrame of the audit's headline metrics for one grouping."""
    metrics = {
        "count": count,
        "selection_rate": selection_rate,
        "precision": _precision,
        "false_positive_rate": false_positive_rate,
        "false_negative_rate": false_negative_rate,
    }
    # Mean predicted probability comes from GroupSums: fairlearn's per-group sample_params
    # path cost ~1 s per grouping at 12k rows.
    return MetricFrame(
        metrics=metrics, y_true=y, y_pred=selected, sensitive_features=groups.to_numpy()
    )


def _groupings(sensitive: pd.DataFrame, cfg: FairnessConfig) -> list[tuple[str, pd.Series, bool]]:
    out = [(d, sensitive[d].astype("string").fillna("Unknown"), True) for d in cfg.dimensions]
    out += [(d, sensitive[d].astype("string").fillna("Unknown"), False)
            for d in cfg.report_only_dimensions if d in sensitive.columns]  # fmt: skip
    for a, b in cfg.intersections:
        joint = (
            sensitive[a].astype("string").fillna("Unknown")
            + " & "
            + sensitive[b].astype("string").fillna("Unknown")
        )
        out.append((f"{a} & {b}", joint, cfg.gate.gate_intersections))
    return out


def audit_predictions(
    y: np.ndarray,
    prob: np.ndarray,
    selected: np.ndarray,
    sensitive: pd.DataFrame,
    *,
    config: FairnessConfig,
    need: np.ndarray | None = None,
    truth_groups: pd.DataFrame | None = None,
    X: pd.DataFrame | None = None,
    strata: np.ndarray | None = None,
) -> FairnessAudit:
    """Audit given outcomes, calibrated probabilities and flags (rows aligned).

    ``need`` (true latent need) enables the equal-need analysis, within ``strata`` if given
    (see ``fairness_truth.need_strata``); ``truth_groups`` adds grouping columns known only
    from the ground truth (e.g. a planted recording-bias group); ``X`` enables the proxy check.
    """
    with single_threaded_blas():
        return _audit(y, prob, selected, sensitive, config, need, truth_groups, X, strata)


def _audit(
    y: np.ndarray,
    prob: np.ndarray,
    selected: np.ndarray,
    sensitive: pd.DataFrame,
    config: FairnessConfig,
    need: np.ndarray | None,
    truth_groups: pd.DataFrame | None,
    X: pd.DataFrame | None,
    strata: np.ndarray | None,
) -> FairnessAudit:
    y, prob, selected = (np.asarray(a, dtype=float) for a in (y, prob, selected))
    boot = Bootstrap(len(y), n_boot=config.n_boot, seed=config.seed)
    sensitive = sensitive.reset_index(drop=True)
    groupings = _groupings(sensitive, config)
    if truth_groups is not None:
        groupings += [(c, truth_groups[c].astype("string").fillna("Unknown").reset_index(drop=True), True)
                      for c in truth_groups.columns]  # fmt: skip
    group_rows: list[dict[str, Any]] = []
    metric_rows: list[dict[str, Any]] = []
    disparity_rows: list[dict[str, Any]] = []
    need_rows: list[dict[str, Any]] = []
    for dim, values, gated in groupings:
        rows = _grouping_rows(dim, values, gated, y, prob, selected, boot, config, need, strata)
        for store, part in zip(
            (group_rows, metric_rows, disparity_rows, need_rows), rows, strict=True
        ):
            store.extend(part)
    groups = pd.DataFrame(group_rows)
    group_metrics = pd.DataFrame(metric_rows)
    need_adjusted = pd.DataFrame(need_rows) if need is not None else None
    proxy = None
    if X is not None:
        proxy = proxy_check(
            X.reset_index(drop=True), sensitive[list(config.dimensions)],
            min_group_size=config.min_group_size, flag_auc=config.proxy_flag_auc, seed=config.seed,
        )  # fmt: skip
    gate = evaluate_fairness_gate(config.gate, groups, group_metrics, need_adjusted, proxy)
    return FairnessAudit(
        groups=groups, group_metrics=group_metrics, disparities=pd.DataFrame(disparity_rows),
        need_adjusted=need_adjusted, proxy=proxy, gate=gate, n=len(y), n_selected=int(selected.sum()),
    )  # fmt: skip


def _grouping_rows(
    dim: str,
    values: pd.Series,
    gated: bool,
    y: np.ndarray,
    prob: np.ndarray,
    selected: np.ndarray,
    boot: Bootstrap,
    config: FairnessConfig,
    need: np.ndarray | None,
    strata: np.ndarray | None,
) -> tuple[list[dict[str, Any]], ...]:
    """Rows of the four audit tables for one grouping (a characteristic or intersection)."""
    group_rows: list[dict[str, Any]] = []
    metric_rows: list[dict[str, Any]] = []
    disparity_rows: list[dict[str, Any]] = []
    need_rows: list[dict[str, Any]] = []
    sizes = values.value_counts()
    reported = sorted(str(g) for g in sizes.index[sizes >= config.min_group_size])
    joint = " & " in dim
    for g, n in sizes.sort_index().items():
        mask = (values == g).to_numpy()
        ok = str(g) in reported
        group_rows.append({
            "dimension": dim, "group": str(g), "n": int(n), "gated": gated and ok,
            "n_outcomes": int(y[mask].sum()) if ok else None,
            "n_selected": int(selected[mask].sum()) if ok else None,
            "status": "reported" if ok else f"suppressed (n < {config.min_group_size})",
        })  # fmt: skip
    # Groups are compared with the rest of the families whose characteristic is RECORDED.
    # "Unknown" (no record of it) is not a population to compare against: with it in "the
    # rest", a characteristic that one agency alone records (disability: social care) turns
    # into a proxy for contact with that agency. Unknown groups keep their sizes above.
    known = ~values.astype(str).str.contains(UNKNOWN, regex=False).to_numpy()
    reported = [g for g in reported if UNKNOWN not in g]
    if not known.all():
        values, y, prob, selected = (
            values[known].reset_index(drop=True),
            y[known],
            prob[known],
            selected[known],
        )
        need = None if need is None else np.asarray(need)[known]
        strata = None if strata is None else np.asarray(strata)[known]
        boot = Bootstrap(int(known.sum()), n_boot=config.n_boot, seed=config.seed)
    if not reported:
        return group_rows, metric_rows, disparity_rows, need_rows
    # fairlearn is the reference for single characteristics; intersections (many small
    # groups) and large test sets use the same definitions computed by GroupSums.
    use_fairlearn = not joint and len(y) <= config.fairlearn_max_rows
    mf = metric_frame(y, selected, values).by_group if use_fairlearn else pd.DataFrame()
    codes = np.full(len(values), -1)
    for j, g in enumerate(reported):
        codes[(values == g).to_numpy()] = j
    sums = GroupSums(codes, len(reported), y, selected, prob)
    est = group_estimates(sums, boot)
    counts, _ = sums.sums(np.ones((1, len(y)), dtype=np.float32))
    for metric in GROUP_METRICS:
        needed = _NEEDS.get(metric)
        for j, g in enumerate(reported):
            few = needed is not None and counts[needed][0, j] < config.min_cell
            v, r, d = (est[metric][k][j] for k in ("value", "ratio_to_rest", "difference_to_rest"))
            point = float(mf.loc[g, metric]) if metric in mf.columns else v.value
            metric_rows.append({
                "dimension": dim, "group": g, "metric": metric, "gated": gated,
                "value": np.nan if few else point, "lower": np.nan if few else v.lower,
                "upper": np.nan if few else v.upper,
                "ratio_to_rest": np.nan if few else r.value, "ratio_lower": np.nan if few else r.lower,
                "ratio_upper": np.nan if few else r.upper,
                "difference_to_rest": np.nan if few else d.value,
                "difference_lower": np.nan if few else d.lower,
                "difference_upper": np.nan if few else d.upper,
                "note": f"too few (< {config.min_cell} {needed})" if few else "",
            })  # fmt: skip
    if len(reported) >= 2:
        for metric in ("selection_rate", "false_positive_rate", "false_negative_rate",
                       "negative_mean_score", "mean_predicted"):  # fmt: skip
            diff, ratio = between_groups(sums, boot, metric)
            disparity_rows.append({
                "dimension": dim, "metric": metric, "n_groups": len(reported),
                "difference": diff.value, "difference_lower": diff.lower, "difference_upper": diff.upper,
                "ratio": ratio.value, "ratio_lower": ratio.lower, "ratio_upper": ratio.upper,
            })  # fmt: skip
    if need is not None and not joint:
        adj = at_equal_need(
            codes, len(reported), np.asarray(need, float), prob, selected, boot, strata=strata
        )
        for measure, ests in adj.items():
            for j, g in enumerate(reported):
                e = ests[j]
                need_rows.append({"dimension": dim, "group": g, "measure": measure, "gated": gated,
                                  "value": e.value, "lower": e.lower, "upper": e.upper})  # fmt: skip
    return group_rows, metric_rows, disparity_rows, need_rows


def select_flags(score: np.ndarray, prob: np.ndarray, config: FairnessConfig) -> np.ndarray:
    """0/1 flags: the top ``capacity_k`` by score, or probability at or above the threshold."""
    if config.selection == "threshold":
        return (prob >= config.threshold).astype(float)
    k = capacity_k(config.total_capacity, len(score), config.population_size)
    flags = np.zeros(len(score))
    flags[np.argsort(-score, kind="stable")[:k]] = 1.0
    return flags


def audit_fairness(
    fitted: FittedRisk,
    training_frame: pd.DataFrame,
    sensitive_features: pd.DataFrame,
    *,
    config: FairnessConfig,
    truth: pd.DataFrame | None = None,
    truth_group_columns: Sequence[str] = (),
) -> FairnessAudit:
    """Audit the fitted model on its test date.

    Parameters
    ----------
    sensitive_features : pandas.DataFrame
        From ``features.protected.build_sensitive_features`` at the test date, indexed by
        ``family_key``; joined here by key and never given to the model.
    truth : pandas.DataFrame, optional
        Indexed by ``family_key`` with ``latent_need`` and any ``truth_group_columns``
        (synthetic estates): adds the equal-need separation of recording bias from need.
    """
    _, _, test = fitted.split.frames(training_frame)
    names = list(fitted.feature_names)
    keys = test["family_key"].astype("string")
    missing = int((~keys.isin(sensitive_features.index)).sum())
    if missing:
        raise KeyError(
            f"{missing} test families have no row in sensitive_features (key family_key)"
        )
    sensitive = sensitive_features.loc[keys.to_numpy()].reset_index(drop=True)
    score = fitted.model.decision_function(test[names])
    prob = fitted.model.predict_proba(test[names])[:, 1]
    need, truth_groups, strata = None, None, None
    if truth is not None:
        aligned = truth.reindex(keys.to_numpy())
        need = (
            aligned["latent_need"].astype(float).fillna(aligned["latent_need"].median()).to_numpy()
        )
        if truth_group_columns:
            truth_groups = aligned[list(truth_group_columns)].reset_index(drop=True)
        strata = need_strata(need, *_make_up(test))
    return audit_predictions(
        labels(test), prob, select_flags(score, prob, config), sensitive, config=config,
        need=need, truth_groups=truth_groups, X=test[names], strata=strata,
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
