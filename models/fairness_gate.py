"""The blocking fairness gate: thresholds in config, decisions in plain English.

A check fails only when the whole 95% interval lies beyond its threshold, i.e. the disparity is
established, not just possible; a point estimate beyond the threshold with an interval that
reaches back inside is reported as "REVIEW" (inconclusive) without blocking. Each group is
compared with the rest of the population rather than max-versus-min over many small groups,
whose noise alone would look like disparity.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from models.evaluation import GateResult


@dataclass(frozen=True)
class FairnessGate:
    """Thresholds of the fairness gate (a council may tighten them).

    Attributes
    ----------
    max_fnr_difference : float, default 0.2
        A group's false negative rate may not exceed the rest's by more than this (either way).
    min_negative_score_ratio : float, default 0.8
        Mean calibrated score of families *without* the outcome, group / rest, must lie within
        [r, 1/r] -- applied only when ``gate_negative_score``. Off by default: when groups'
        outcome rates differ, a calibrated model cannot also balance this (Kleinberg et al.,
        2016), so it would block for legitimate differences (e.g. families of older teenagers);
        with ground truth the equal-need check asks the same question without that conflict.
    min_calibration_ratio : float, default 0.67
        Expected / observed outcomes within a group must lie within [c, 1/c].
    min_equal_need_ratio : float, default 0.8
        With ground truth: the group's mean score over what the rest's scores at the same true
        need predict must lie within [e, 1/e]; outside it, recording differences (not need)
        drive the scores.
    gate_unknown : bool, default False
        Groups labelled ``Unknown`` (missing data, e.g. no located record so no deprivation
        quintile) are reported, and gated only when True: their disparity measures how little
        the agencies record about them, which the model card states as a limitation.
    gate_intersections : bool, default False
        Intersections are always reported; gated only when True.
    block_on_proxy : bool, default False
        Also block when a protected characteristic is predictable from X (AUC >= flag).
    """

    max_fnr_difference: float = 0.2
    min_negative_score_ratio: float = 0.8
    min_calibration_ratio: float = 0.67
    min_equal_need_ratio: float = 0.8
    gate_negative_score: bool = False
    gate_unknown: bool = False
    gate_intersections: bool = False
    block_on_proxy: bool = False


def _band(lo: float, hi: float, ratio: float) -> str:
    """Verdict for an interval [lo, hi] of a ratio against the band [ratio, 1/ratio].

    'fail': wholly outside; 'review': straddles an edge; 'note': inside but excluding 1 (a
    disparity is established, within tolerance); 'pass' otherwise.
    """
    inner, outer = ratio, 1.0 / ratio
    if hi < inner or lo > outer:
        return "fail"
    if lo < inner or hi > outer:
        return "review"
    return "note" if lo > 1.0 or hi < 1.0 else "pass"


def _difference(lo: float, hi: float, limit: float) -> str:
    """As :func:`_band` for a difference against [-limit, +limit] (no disparity = 0)."""
    if lo > limit or hi < -limit:
        return "fail"
    if hi > limit or lo < -limit:
        return "review"
    return "note" if lo > 0.0 or hi < 0.0 else "pass"


def _check(
    rows: pd.DataFrame,
    *,
    label: str,
    lo_col: str,
    hi_col: str,
    value_col: str,
    judge: object,
    limit_text: str,
    notes: bool = False,
) -> tuple[list[str], list[str]]:
    fails, reviews = [], []
    for r in rows.itertuples():
        lo, hi, v = getattr(r, lo_col), getattr(r, hi_col), getattr(r, value_col)
        if pd.isna(lo) or pd.isna(hi):
            continue
        verdict = judge(lo, hi)  # type: ignore[operator]
        text = f"{r.dimension} = {r.group}: {label} {v:.3f} (95% CI {lo:.3f} to {hi:.3f}); {limit_text}"
        if verdict == "fail":
            fails.append(f"FAIL: {text}")
        elif verdict == "review":
            reviews.append(f"REVIEW (inconclusive, not blocking): {text}")
        elif verdict == "note" and notes:
            reviews.append(f"NOTE (established but within tolerance, not blocking): {text}")
    return fails, reviews


def evaluate_fairness_gate(
    gate: FairnessGate,
    groups: pd.DataFrame,
    group_metrics: pd.DataFrame,
    need_adjusted: pd.DataFrame | None,
    proxy: pd.DataFrame | None,
) -> GateResult:
    """Apply ``gate`` to the audit tables; every failure names the group and the figures."""
    known = gate.gate_unknown | ~group_metrics["group"].astype(str).str.contains("Unknown")
    gated = group_metrics.loc[group_metrics["gated"] & known]
    fails: list[str] = []
    reviews: list[str] = []
    d = gate.max_fnr_difference
    checks = [
        (
            gated.loc[gated["metric"] == "false_negative_rate"],
            dict(label="false negative rate minus the rest's", lo_col="difference_lower",
                 hi_col="difference_upper", value_col="difference_to_rest",
                 judge=lambda lo, hi: _difference(lo, hi, d), limit_text=f"limit +/-{d:g}"),
        ),
        (
            gated.loc[(gated["metric"] == "negative_mean_score") & gate.gate_negative_score],
            dict(label="mean score of families without the outcome, ratio to the rest",
                 lo_col="ratio_lower", hi_col="ratio_upper", value_col="ratio_to_rest",
                 judge=lambda lo, hi: _band(lo, hi, gate.min_negative_score_ratio),
                 limit_text=f"allowed {gate.min_negative_score_ratio:g} to {1 / gate.min_negative_score_ratio:.2f}"),
        ),
        (
            gated.loc[gated["metric"] == "calibration_ratio"],
            dict(label="expected / observed outcomes within the group", lo_col="lower",
                 hi_col="upper", value_col="value",
                 judge=lambda lo, hi: _band(lo, hi, gate.min_calibration_ratio),
                 limit_text=f"allowed {gate.min_calibration_ratio:g} to {1 / gate.min_calibration_ratio:.2f}"),
        ),
    ]  # fmt: skip
    if need_adjusted is not None:
        known_need = gate.gate_unknown | ~need_adjusted["group"].astype(str).str.contains("Unknown")
        rows = need_adjusted.loc[
            need_adjusted["gated"]
            & known_need
            & (need_adjusted["measure"] == "score_ratio_at_equal_need")
        ]
        checks.append(
            (
                rows,
                dict(
                    label="score ratio to the rest at equal true need",
                    lo_col="lower",
                    hi_col="upper",
                    value_col="value",
                    judge=lambda lo, hi: _band(lo, hi, gate.min_equal_need_ratio),
                    notes=True,
                    limit_text=f"allowed {gate.min_equal_need_ratio:g} to {1 / gate.min_equal_need_ratio:.2f}",
                ),
            )
        )
    for rows, kwargs in checks:
        f, r = _check(rows, **kwargs)  # type: ignore[arg-type]
        fails += f
        reviews += r
    if proxy is not None:
        for p in proxy.loc[proxy["flagged"]].itertuples():
            text = (f"the features predict {p.dimension} with AUC {p.auc:.2f}: they can act as a "
                    "proxy for it; review which features carry it")  # fmt: skip
            (fails if gate.block_on_proxy else reviews).append(
                f"{'FAIL' if gate.block_on_proxy else 'REVIEW'}: {text}"
            )
    suppressed = groups.loc[groups["status"] != "reported"]
    notes = [
        f"NOT ASSESSED: {r.dimension} = {r.group} ({r.status}); small groups are not shown as fair."
        for r in suppressed.itertuples()
        if " & " not in str(r.dimension)
    ]
    n_inter = int(suppressed["dimension"].astype(str).str.contains(" & ").sum())
    if n_inter:
        notes.append(f"NOT ASSESSED: {n_inter} intersectional group(s) below the minimum size.")
    if not gate.gate_unknown:
        notes.append(
            "Groups labelled Unknown (missing data) are reported in the tables, not gated."
        )
    n_checked = int(gated["group"].nunique()) if not gated.empty else 0
    head = (
        f"PASS: no gated disparity is established beyond its threshold across {n_checked} group "
        "label(s) checked against the rest of the population."
        if not fails
        else "The fairness gate failed: no flags will be produced from this model."
    )
    return GateResult(passed=not fails, reasons=[head, *fails, *reviews, *notes])
