"""The blocking fairness gate: each group against the rest, decided with equivalence tests.

Every gated comparison is a ratio of a group to the rest of the families in which the
characteristic is recorded, judged against a tolerance band (default 0.8 to 1.25).

Recall at capacity is compared *against the recall the model's calibrated probabilities
promise* for each group (expected flagged outcomes / expected outcomes). Raw recall parity
cannot hold for a calibrated model when groups' outcome rates differ (Kleinberg, Mullainathan
and Raghavan, 2016): a group with more need has more of its at-risk families near the top, so
a fair model would "fail" it on every estate where need differs by area or family type. The
raw recall ratio is reported beside it; with ground truth, selection at equal true need asks
the raw question without that conflict. The decision for each comparison:

* **FAIL** when the disparity is *established*: the ratio lies beyond the band with 95%
  confidence after a Holm correction over every comparison the gate makes, so ~75 tests do not
  turn chance into a finding (Holm controls the family-wise error of declaring any disparity).
* **PASS** only when parity is *shown*: the 90% interval lies wholly inside the band (two
  one-sided tests at 5%). Requiring this of every comparison is an intersection-union test,
  so "every group is within the band" holds at the 5% level without further correction.
* **INCONCLUSIVE** otherwise: the data cannot tell. This blocks, unless the council's
  configuration records a named sign-off for that group (and metric) with a reason (shown in
  the DPIA and the model card). A sign-off never overrides a FAIL; with
  ``sign_off_needs_point_in_band`` it also refuses a result whose point estimate lies outside
  the band (accepting uncertainty, not a measured disparity).
* **NOT ASSESSABLE** when the group or the rest has fewer than ``min_expected_outcomes``
  expected outcomes: listed everywhere, never shown as fair.

Intervals are normal on the log scale with the standard error of the log ratio taken from the
family-clustered bootstrap, so any confidence level (the Holm-adjusted one included) can be
read from the same resamples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd

from safeguard.contracts.gates import DEFAULT_GATES
from safeguard.models.evaluation import GateResult

PASS, FAIL, INCONCLUSIVE, NOT_ASSESSABLE = "pass", "fail", "inconclusive", "not assessable"
SIGNED_OFF = "inconclusive, signed off"

#: Blocking metrics, with what each one protects against.
GATED_METRICS: dict[str, str] = {
    "recall_ratio": "recall at capacity against the recall the model's probabilities promise, "
    "group / rest (allocation: are the group's families who go on to need protection flagged "
    "as often as the model says they would be?)",
    "oe_ratio": "observed / expected outcomes, group / rest (quality of service: is the "
    "group's risk under- or over-stated?)",
    "selection_ratio_at_equal_need": "flagged at capacity at equal true need, group / rest "
    "(ground truth only: are groups flagged alike when their need is alike?)",
}

_Z = NormalDist()


@dataclass(frozen=True)
class SignOff:
    """A named acceptance of an inconclusive result for one group (and optionally one metric).

    Attributes
    ----------
    dimension, group : which group (e.g. ``ethnicity_group``, ``Black``); ``group="*"``
        covers every group of the characteristic.
    signed_by : the accountable person and role (e.g. "A. Patel, Data Protection Officer").
    signed_on : date of the decision.
    reason : why the council accepts that this group's parity cannot be shown yet.
    metric : one of :data:`GATED_METRICS`, or ``None`` for every metric of the group.
    expires : the sign-off lapses after this date (the gate then blocks again).
    """

    dimension: str
    group: str
    signed_by: str
    signed_on: date
    reason: str
    metric: str | None = None
    expires: date | None = None

    def covers(self, dimension: str, group: str, metric: str, today: date) -> bool:
        """True if this sign-off applies to ``dimension = group`` and ``metric`` on ``today``."""
        live = self.expires is None or today <= self.expires
        same_metric = self.metric is None or self.metric == metric
        same_group = self.group in ("*", group)
        return live and same_metric and self.dimension == dimension and same_group

    def describe(self) -> str:
        """One line for the gate output, the model card and the DPIA."""
        who = "every group" if self.group == "*" else self.group
        scope = f"{self.dimension} = {who}" + (f" ({self.metric})" if self.metric else "")
        until = f", until {self.expires.isoformat()}" if self.expires else ""
        return f"{scope}: signed off by {self.signed_by} on {self.signed_on.isoformat()}{until}: {self.reason}"


@dataclass(frozen=True)
class FairnessGate:
    """Settings of the fairness gate (a council sets them in its configuration file).

    Attributes
    ----------
    band : (lower, upper), default (0.8, 1.25)
        Tolerance for every group-to-rest ratio.
    fail_confidence : float, default 0.95
        A ratio fails when the Holm-adjusted interval at this confidence lies beyond the band.
    equivalence_confidence : float, default 0.90
        A ratio passes when its interval at this confidence lies inside the band.
    min_expected_outcomes : float, default 30
        Fewer expected outcomes (distinct outcome events over the pooled test period) in the
        group or in the rest: not assessable.
    metrics : the blocking metrics (keys of :data:`GATED_METRICS`); the equal-need metric is
        used only when ground truth is given.
    sign_offs : named acceptances of inconclusive results.
    sign_off_needs_point_in_band : bool, default False
        A sign-off then covers an inconclusive result only if its point estimate lies inside
        the band. Off by default: at one council's size the point estimates of small groups
        scatter by +/-20% on their own, so this would block unbiased estates by chance.
    block_on_proxy : bool, default False
        Also block when a protected characteristic is predictable from X (AUC >= flag).
    today : date used to decide whether a sign-off has expired (default: today).
    """

    # defaults: safeguard.contracts.gates (the council configuration's defaults too)
    band: tuple[float, float] = DEFAULT_GATES.fairness.band
    fail_confidence: float = DEFAULT_GATES.fairness.fail_confidence
    equivalence_confidence: float = DEFAULT_GATES.fairness.equivalence_confidence
    min_expected_outcomes: float = DEFAULT_GATES.fairness.min_expected_outcomes
    metrics: tuple[str, ...] = ("recall_ratio", "oe_ratio", "selection_ratio_at_equal_need")
    sign_offs: tuple[SignOff, ...] = ()
    block_on_proxy: bool = DEFAULT_GATES.fairness.block_on_proxy
    sign_off_needs_point_in_band: bool = DEFAULT_GATES.fairness.sign_off_needs_point_in_band
    today: date | None = None

    def __post_init__(self) -> None:
        lo, hi = self.band
        if not 0 < lo < 1 < hi:
            raise ValueError(f"fairness band must satisfy 0 < lower < 1 < upper, got {self.band}")
        unknown = set(self.metrics) - set(GATED_METRICS)
        if unknown:
            raise ValueError(
                f"unknown fairness metric(s) {sorted(unknown)}; use {sorted(GATED_METRICS)}"
            )


@dataclass(frozen=True)
class RatioEvidence:
    """One group-to-rest ratio with the spread of its log from the clustered bootstrap."""

    dimension: str
    group: str
    metric: str
    ratio: float
    se_log: float
    expected_group: float
    expected_rest: float

    def interval(self, confidence: float) -> tuple[float, float]:
        """Two-sided interval at ``confidence`` (normal on the log scale)."""
        if not (self.ratio > 0 and math.isfinite(self.ratio) and math.isfinite(self.se_log)):
            return (float("nan"), float("nan"))
        z = _Z.inv_cdf(0.5 + confidence / 2)
        centre = math.log(self.ratio)
        return (math.exp(centre - z * self.se_log), math.exp(centre + z * self.se_log))

    def p_beyond(self, band: tuple[float, float]) -> float:
        """One-sided p-value of "the true ratio lies beyond the nearer edge of ``band``"."""
        if not (self.ratio > 0 and math.isfinite(self.ratio)):
            return 1.0
        if not math.isfinite(self.se_log) or self.se_log <= 0:
            return 1.0  # no spread, no evidence: such a comparison is not assessable (decide)
        centre = math.log(self.ratio)
        if self.ratio < 1.0:
            return _Z.cdf((centre - math.log(band[0])) / self.se_log)
        return _Z.cdf((math.log(band[1]) - centre) / self.se_log)


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's step-down rejections at family-wise level ``alpha`` (input order kept)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    reject = [False] * m
    for rank, i in enumerate(order):
        if p_values[i] <= alpha / (m - rank):
            reject[i] = True
        else:
            break
    return reject


def decide(evidence: list[RatioEvidence], gate: FairnessGate) -> pd.DataFrame:
    """Verdict for every comparison: one row per (dimension, group, metric).

    Columns: ``dimension, group, metric, ratio, se_log, lower_90, upper_90, lower_95,
    upper_95, expected_group, expected_rest, p_beyond_band, verdict, signed_off_by, note``.
    """
    today = gate.today or date.today()
    lo, hi = gate.band
    tested = [
        e for e in evidence
        if e.expected_group >= gate.min_expected_outcomes
        and e.expected_rest >= gate.min_expected_outcomes
        and math.isfinite(e.ratio)
        and math.isfinite(e.se_log) and e.se_log > 0
    ]  # fmt: skip
    alpha = (1.0 - gate.fail_confidence) / 2.0  # one-sided: the two-sided 95% rule when m = 1
    p_values = [e.p_beyond(gate.band) for e in tested]
    rejected = dict(zip(map(id, tested), holm(p_values, alpha), strict=True))
    p_of = dict(zip(map(id, tested), p_values, strict=True))
    rows = []
    for e in evidence:
        l90, u90 = e.interval(gate.equivalence_confidence)
        l95, u95 = e.interval(gate.fail_confidence)
        signer, note = "", ""
        if id(e) not in p_of:
            verdict = NOT_ASSESSABLE
            few = (e.expected_group < gate.min_expected_outcomes
                   or e.expected_rest < gate.min_expected_outcomes)  # fmt: skip
            if not math.isfinite(e.ratio):
                note = ("no comparison possible: no outcomes or flags, or (at equal need) the "
                        "group is itself one of the strata compared within")  # fmt: skip
            elif few:
                note = (f"fewer than {gate.min_expected_outcomes:g} expected outcomes "
                        f"(group {e.expected_group:.0f}, rest {e.expected_rest:.0f})")  # fmt: skip
            else:
                note = "no interval: in some resamples the ratio is undefined (too few outcomes flagged)"
        elif rejected[id(e)]:
            verdict = FAIL
            note = (
                f"beyond {lo:g}-{hi:g} with {gate.fail_confidence:.0%} confidence (Holm-adjusted)"
            )
        elif lo <= l90 and u90 <= hi:
            verdict = PASS
        else:
            verdict = INCONCLUSIVE
            sign = next(
                (s for s in gate.sign_offs if s.covers(e.dimension, e.group, e.metric, today)),
                None,
            )
            inside = lo <= e.ratio <= hi
            if sign is not None and (inside or not gate.sign_off_needs_point_in_band):
                verdict, signer = SIGNED_OFF, sign.signed_by
                note = f"signed off on {sign.signed_on.isoformat()}" + (
                    "" if inside else f"; the point estimate {e.ratio:.2f} lies outside the band"
                )
            elif sign is not None:
                note = "sign-off does not cover a point estimate outside the band"
            else:
                note = "parity can be neither shown nor ruled out; needs a named sign-off"
        rows.append({
            "dimension": e.dimension, "group": e.group, "metric": e.metric, "ratio": e.ratio,
            "se_log": e.se_log, "lower_90": l90, "upper_90": u90, "lower_95": l95, "upper_95": u95,
            "expected_group": e.expected_group, "expected_rest": e.expected_rest,
            "p_beyond_band": p_of.get(id(e), np.nan), "verdict": verdict,
            "signed_off_by": signer, "note": note,
        })  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["dimension", "group", "metric", "ratio", "se_log", "lower_90", "upper_90",
                 "lower_95", "upper_95", "expected_group", "expected_rest", "p_beyond_band",
                 "verdict", "signed_off_by", "note"],
    )  # fmt: skip


@dataclass(frozen=True)
class FairnessDecision:
    """The gate's verdict table and its plain-English result."""

    table: pd.DataFrame
    result: GateResult
    counts: dict[str, int] = field(default_factory=dict)


def _line(r: pd.Series) -> str:
    what = GATED_METRICS[r["metric"]].split(" (")[0]
    if r["verdict"] == NOT_ASSESSABLE:
        return f"{r['dimension']} = {r['group']}: {what}: not assessable ({r['note']})"
    text = (
        f"{r['dimension']} = {r['group']}: {what} {r['ratio']:.2f} "
        f"(90% CI {r['lower_90']:.2f}-{r['upper_90']:.2f}; 95% CI {r['lower_95']:.2f}-{r['upper_95']:.2f})"
    )
    return text + (f": {r['note']}" if r["note"] else "")


def evaluate_fairness_gate(
    gate: FairnessGate,
    evidence: list[RatioEvidence],
    proxy: pd.DataFrame | None = None,
    *,
    not_compared: list[str] | None = None,
) -> FairnessDecision:
    """Decide every comparison and summarise the gate in sentences a reviewer can check.

    ``not_compared`` lists groups reported but outside every comparison (e.g. "disability =
    Unknown: not recorded, compared only within recorded families").
    """
    table = decide(evidence, gate)
    counts = table["verdict"].value_counts().to_dict()
    fails = [f"FAIL: {_line(r)}" for _, r in table.loc[table["verdict"] == FAIL].iterrows()]
    open_ = [
        f"INCONCLUSIVE (blocking): {_line(r)}"
        for _, r in table.loc[table["verdict"] == INCONCLUSIVE].iterrows()
    ]
    signed = [
        f"INCONCLUSIVE, SIGNED OFF by {r['signed_off_by']}: {_line(r)}"
        for _, r in table.loc[table["verdict"] == SIGNED_OFF].iterrows()
    ]
    unassessed = [
        f"NOT ASSESSABLE: {_line(r)}"
        for _, r in table.loc[table["verdict"] == NOT_ASSESSABLE].iterrows()
    ]
    proxies = []
    if proxy is not None:
        for p in proxy.loc[proxy["flagged"]].itertuples():
            text = (f"the features predict {p.dimension} with AUC {p.auc:.2f}: they can act as a "
                    "proxy for it; review which features carry it")  # fmt: skip
            proxies.append(f"{'FAIL' if gate.block_on_proxy else 'REVIEW'}: {text}")
    proxy_fail = gate.block_on_proxy and bool(proxies)
    passed = not fails and not open_ and not proxy_fail
    n_pass = int(counts.get(PASS, 0))
    lo, hi = gate.band
    head = (
        f"PASS: {n_pass} of {len(table)} comparisons shown within {lo:g}-{hi:g} (90% intervals), "
        f"{len(signed)} inconclusive and signed off, {len(unassessed)} not assessable; "
        "no disparity established."
        if passed
        else f"The fairness gate failed ({len(fails)} established disparit"
        f"{'y' if len(fails) == 1 else 'ies'}, {len(open_)} inconclusive without a sign-off"
        f"{', proxy' if proxy_fail else ''}): no flags will be produced from this model."
    )
    method = (
        f"Method: each group against the rest where the characteristic is recorded; FAIL if the "
        f"Holm-adjusted {gate.fail_confidence:.0%} interval lies beyond {lo:g}-{hi:g}, PASS if the "
        f"{gate.equivalence_confidence:.0%} interval lies inside it, otherwise INCONCLUSIVE "
        "(blocking unless signed off); family-clustered bootstrap over pooled test dates."
    )
    reasons = [head, *fails, *open_, *signed, *proxies, *unassessed,
               *[f"NOT COMPARED: {t}" for t in (not_compared or [])], method]  # fmt: skip
    return FairnessDecision(table=table, result=GateResult(passed=passed, reasons=reasons),
                            counts={str(k): int(v) for k, v in counts.items()})  # fmt: skip
