"""Decommission rules: when the evidence says the model no longer works, flagging stops.

Every rule is evaluated at every monitored month from the monitoring tables; a rule *fires*
at a month when its condition has held for the required run of consecutive months. A firing
stops flagging (the pipeline's blocking check reads :attr:`TriggerReport.blocked`) until the
council records a named decision in its configuration accepting that evidence
(:class:`~safeguard.monitoring.settings.ResumeDecision`); a later firing stops flagging again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from safeguard.monitoring.performance import ESTIMATED, REALISED
from safeguard.monitoring.settings import (
    ESTIMATED_PRECISION,
    FAIRNESS_RECALL,
    REALISED_PRECISION,
    SEVERE_DRIFT,
    MonitoringSettings,
    ResumeDecision,
)

TRIGGER_COLUMNS = ("as_of_date", "trigger", "condition_met", "fired", "covered_by", "reason")
RESUME_HINT = (
    "To resume, the council records a named decision in its configuration file "
    "(monitoring.resume_decisions: trigger, covers_through, decided_by, decided_on, reason) "
    "after reviewing the monitoring page."
)


def _month(ts: Any) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m")


def _gap(a: pd.Timestamp, b: pd.Timestamp) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def trailing_runs(months: list[pd.Timestamp], met: list[bool]) -> list[int]:
    """For each month, how many consecutive calendar months up to it met the condition."""
    runs, previous = [], None
    for month, ok in zip(months, met, strict=True):
        if not ok:
            runs.append(0)
        elif previous is not None and runs and runs[-1] > 0 and _gap(previous, month) == 1:
            runs.append(runs[-1] + 1)
        else:
            runs.append(1)
        previous = month
    return runs


@dataclass(frozen=True)
class Firing:
    """A rule firing at one month, with its plain-English reason and any covering decision."""

    trigger: str
    as_of_date: pd.Timestamp
    reason: str
    covered_by: ResumeDecision | None = None


@dataclass(frozen=True)
class TriggerReport:
    """Every rule at every month, the firings, and whether flagging must stop."""

    table: pd.DataFrame
    firings: tuple[Firing, ...]
    enabled: tuple[str, ...]
    decisions: tuple[ResumeDecision, ...] = ()
    months: tuple[pd.Timestamp, ...] = field(default_factory=tuple)

    @property
    def open_firings(self) -> list[Firing]:
        """Firings no recorded decision covers."""
        return [f for f in self.firings if f.covered_by is None]

    @property
    def blocked(self) -> bool:
        """True when flagging must stop."""
        return bool(self.open_firings)

    def reasons(self) -> list[str]:
        """Sentences for the blocking check, the review pack and the Dagster UI."""
        latest: dict[str, Firing] = {}
        first: dict[str, Firing] = {}
        for f in self.open_firings:
            latest[f.trigger] = f
            first.setdefault(f.trigger, f)
        span = (
            f"{_month(self.months[0])} to {_month(self.months[-1])}"
            if self.months
            else "none this run"
        )
        if not latest:
            if not self.months:
                return ["No scored months to judge yet: run the history backfill "
                        "(safeguard monitor) so monitoring has past runs to compare."]  # fmt: skip
            head = (f"PASS: no decommission rule has an open firing over {len(self.months)} "
                    f"monitored months ({span}); rules checked: {', '.join(self.enabled) or 'none'}.")  # fmt: skip
            covered = [f"ACCEPTED: {d.describe()}" for d in self.decisions
                       if any(f.covered_by == d for f in self.firings)]  # fmt: skip
            return [head, *covered]
        lines = [
            f"DECOMMISSIONED: {len(latest)} rule(s) fired (monitored months: {span}); "
            "no new flags are produced until the council records a decision to resume."
        ]
        lines += [
            f"FIRED {t} at {_month(first[t].as_of_date)}"
            + (f" (and every later firing to {_month(f.as_of_date)})" if f is not first[t] else "")
            + f": {f.reason}"
            for t, f in latest.items()
        ]
        lines.append(RESUME_HINT)
        return lines

    def summary(self) -> dict[str, Any]:
        """Aggregates for Dagster metadata and the reports."""
        return {
            "blocked": self.blocked,
            "months": len(self.months),
            "rules_enabled": list(self.enabled),
            "firings": len(self.firings),
            "open_firings": len(self.open_firings),
            "fired_rules": sorted({f.trigger for f in self.open_firings}),
            "first_open_firing": _month(self.open_firings[0].as_of_date)
            if self.open_firings
            else "none",
        }


def _rule_rows(
    trigger: str,
    months: list[pd.Timestamp],
    met: list[bool],
    needed: int,
    describe: Callable[[int], str],
) -> list[dict]:
    """Rows of one rule: the condition per month, fired after ``needed`` in a row."""
    rows = []
    runs = trailing_runs(months, met)
    for i, month in enumerate(months):
        fired = runs[i] >= needed
        rows.append({"as_of_date": month, "trigger": trigger, "condition_met": bool(met[i]),
                     "fired": fired, "reason": describe(i) if fired else ""})  # fmt: skip
    return rows


def _realised_rows(performance: pd.DataFrame, settings: MonitoringSettings) -> list[dict]:
    rule = settings.realised_precision
    rows = performance.loc[(performance["kind"] == REALISED)
                           & (performance["metric"] == "precision_at_capacity")]  # fmt: skip
    rows = rows.sort_values("as_of_date").reset_index(drop=True)
    if rows.empty:
        return []
    bound = rows["upper_one_sided"] if rule.confidence > 0 else rows["value"]
    met = list((bound < rows["promised_lower"]).fillna(False).astype(bool))
    months = [pd.Timestamp(d) for d in rows["as_of_date"]]
    n = rule.consecutive_months

    def describe(i: int) -> str:
        part = rows.iloc[i - n + 1 : i + 1]
        detail = "; ".join(
            f"{_month(r.as_of_date)}: {r.value:.3f}"
            + (f" (its {rule.confidence:.0%} upper bound {r.upper_one_sided:.3f})" if rule.confidence > 0 else "")
            + f", {r.value * r.k:.0f} of {r.k} flagged families went on to the outcome"
            for r in part.itertuples()
        )  # fmt: skip
        return (f"realised precision at capacity fell short of the model card's promised lower "
                f"bound {part['promised_lower'].iloc[-1]:.3f} for {n} consecutive months whose "
                f"outcomes are complete ({detail}).")  # fmt: skip

    return _rule_rows(REALISED_PRECISION, months, met, n, describe)


def _estimated_rows(performance: pd.DataFrame, settings: MonitoringSettings) -> list[dict]:
    rule = settings.estimated_precision
    rows = performance.loc[(performance["kind"] == ESTIMATED)
                           & (performance["metric"] == "precision_at_capacity")]  # fmt: skip
    rows = rows.sort_values("as_of_date").reset_index(drop=True)
    if rows.empty:
        return []
    met = list((rows["value"] < rows["promised_lower"]).fillna(False).astype(bool))
    months = [pd.Timestamp(d) for d in rows["as_of_date"]]
    n = rule.consecutive_months

    def describe(i: int) -> str:
        part = rows.iloc[i - n + 1 : i + 1]
        detail = "; ".join(f"{_month(r.as_of_date)}: {r.value:.3f}" for r in part.itertuples())
        return (f"estimated precision at capacity (from the calibrated probabilities, before the "
                f"outcomes are known) stayed below the promised lower bound "
                f"{part['promised_lower'].iloc[-1]:.3f} for {n} consecutive months ({detail}): "
                "the families now scored look unlike those the promise was measured on.")  # fmt: skip

    return _rule_rows(ESTIMATED_PRECISION, months, met, n, describe)


def _fairness_rows(fairness: pd.DataFrame, settings: MonitoringSettings) -> list[dict]:
    rule = settings.fairness_recall
    if fairness.empty:
        return []
    ends = sorted(pd.Timestamp(d) for d in fairness["window_end"].unique())
    failing: list[set[tuple[str, str]]] = []
    for end in ends:
        w = fairness.loc[(fairness["window_end"] == end) & fairness["metric"].isin(rule.metrics)
                         & (fairness["verdict"] == "fail")]  # fmt: skip
        failing.append({(r.dimension, r.group) for r in w.itertuples()})
    rows = []
    n = rule.consecutive_windows
    for i, end in enumerate(ends):
        # the same group must fail in every window of the run
        common, length, j = set(failing[i]), 0, i
        while j >= 0 and length < n:
            if j < i and _gap(ends[j], ends[j + 1]) != 1:
                break
            if not common & failing[j]:
                break
            common &= failing[j]
            length += 1
            j -= 1
        fired = length >= n
        reason = ""
        if fired:
            w = fairness.loc[(fairness["window_end"] == end) & fairness["metric"].isin(rule.metrics)
                             & (fairness["verdict"] == "fail")]  # fmt: skip
            detail = "; ".join(
                f"{r.dimension} = {r.group}: {r.metric} {r.ratio:.2f} (95% CI {r.lower_95:.2f}-{r.upper_95:.2f})"
                for r in w.itertuples() if (r.dimension, r.group) in common
            )  # fmt: skip
            reason = (f"a group's realised ratio to the rest was established outside the fairness "
                      f"band in {n} consecutive windows of {rule.window_months} complete months "
                      f"(window ending {_month(end)}: {detail}).")  # fmt: skip
        rows.append({"as_of_date": end, "trigger": FAIRNESS_RECALL, "condition_met": bool(failing[i]),
                     "fired": fired, "reason": reason})  # fmt: skip
    return rows


def _drift_rows(drift: pd.DataFrame, settings: MonitoringSettings) -> list[dict]:
    rule = settings.severe_drift
    if drift.empty:
        return []
    months = sorted(pd.Timestamp(d) for d in drift["as_of_date"].unique())
    findings: list[list[str]] = []
    for month in months:
        d = drift.loc[drift["as_of_date"] == month]
        found = []
        vol = d.loc[(d["kind"] == "source_volume") & (d["severity"] == "severe")]
        found += [f"{r.name} recorded {r.value:.0f} events in the month before {month.date()}, "
                  f"{r.drift:.2f} x the training window's {r.reference:.0f} for that month"
                  for r in vol.itertuples()]  # fmt: skip
        feats = d.loc[(d["kind"] == "feature") & (d["drift"] >= rule.psi_severe)]
        if len(feats) >= rule.min_severe_features:
            top = feats.sort_values("drift", ascending=False).head(5)
            found.append(f"{len(feats)} features shifted severely (PSI >= {rule.psi_severe:g}): "
                         + ", ".join(f"{r.name} {r.drift:.2f}" for r in top.itertuples()))  # fmt: skip
        score = d.loc[(d["kind"] == "score") & (d["drift"] >= rule.psi_severe)]
        found += [
            f"the score distribution shifted severely (PSI {r.drift:.2f})"
            for r in score.itertuples()
        ]
        findings.append(found)
    n = rule.consecutive_months

    def describe(i: int) -> str:
        parts = [f"{_month(months[j])}: " + "; ".join(findings[j]) for j in range(i - n + 1, i + 1)]
        return f"severe drift for {n} consecutive months ({' | '.join(parts)})."

    return _rule_rows(SEVERE_DRIFT, months, [bool(f) for f in findings], n, describe)


def evaluate_triggers(
    performance: pd.DataFrame,
    fairness: pd.DataFrame,
    drift: pd.DataFrame,
    settings: MonitoringSettings,
) -> TriggerReport:
    """Evaluate every enabled rule at every month; apply the council's resume decisions."""
    builders = {
        REALISED_PRECISION: (settings.realised_precision.enabled, lambda: _realised_rows(performance, settings)),
        ESTIMATED_PRECISION: (settings.estimated_precision.enabled, lambda: _estimated_rows(performance, settings)),
        FAIRNESS_RECALL: (settings.fairness_recall.enabled, lambda: _fairness_rows(fairness, settings)),
        SEVERE_DRIFT: (settings.severe_drift.enabled, lambda: _drift_rows(drift, settings)),
    }  # fmt: skip
    rows: list[dict] = []
    enabled = []
    for name, (on, build) in builders.items():
        if on:
            enabled.append(name)
            rows += build()
    firings = []
    for row in rows:
        decision = None
        if row["fired"]:
            decision = next((d for d in settings.resume_decisions
                             if d.covers(row["trigger"], row["as_of_date"])), None)  # fmt: skip
            firings.append(
                Firing(row["trigger"], pd.Timestamp(row["as_of_date"]), row["reason"], decision)
            )
        row["covered_by"] = decision.describe() if decision else ""
    table = pd.DataFrame(rows, columns=list(TRIGGER_COLUMNS))
    table = table.astype({"as_of_date": "datetime64[ns]", "trigger": "string",
                          "condition_met": "boolean", "fired": "boolean",
                          "covered_by": "string", "reason": "string"}).sort_values(
        ["as_of_date", "trigger"]).reset_index(drop=True)  # fmt: skip
    months = sorted(
        {pd.Timestamp(d) for d in performance["as_of_date"]} if len(performance) else set()
    )
    firings.sort(key=lambda f: (f.as_of_date, f.trigger))
    return TriggerReport(table=table, firings=tuple(firings), enabled=tuple(enabled),
                         decisions=tuple(settings.resume_decisions), months=tuple(months))  # fmt: skip


def with_earlier_firings(
    report: TriggerReport, earlier: pd.DataFrame | None, settings: MonitoringSettings
) -> TriggerReport:
    """Keep every firing an earlier monitoring run recorded open until a decision covers it.

    A decommission must not lift itself: a newly trained model (whose past months have not
    been scored yet), a shorter backfill, or months ageing out of the window would otherwise
    make the evidence disappear. Only a recorded resume decision closes a firing.
    """
    if (
        earlier is None
        or earlier.empty
        or not {"fired", "trigger", "as_of_date"} <= set(earlier.columns)
    ):
        return report
    known = {(f.trigger, f.as_of_date) for f in report.firings}
    carried, rows = [], []
    for r in earlier.loc[earlier["fired"].fillna(False).astype(bool)].itertuples():
        key = (str(r.trigger), pd.Timestamp(r.as_of_date))
        if key in known:
            continue
        decision = next((d for d in settings.resume_decisions if d.covers(*key)), None)
        reason = str(r.reason)
        if "(recorded by an earlier monitoring run)" not in reason:
            reason += " (recorded by an earlier monitoring run)"
        carried.append(Firing(key[0], key[1], reason, decision))
        rows.append({"as_of_date": key[1], "trigger": key[0], "condition_met": True, "fired": True,
                     "covered_by": decision.describe() if decision else "", "reason": reason})  # fmt: skip
    if not carried:
        return report
    table = pd.concat([report.table, pd.DataFrame(rows).astype(report.table.dtypes.to_dict())],
                      ignore_index=True).sort_values(["as_of_date", "trigger"]).reset_index(drop=True)  # fmt: skip
    firings = tuple(sorted([*report.firings, *carried], key=lambda f: (f.as_of_date, f.trigger)))
    return TriggerReport(table=table, firings=firings, enabled=report.enabled,
                         decisions=report.decisions, months=report.months)  # fmt: skip


def empty_report(settings: MonitoringSettings) -> TriggerReport:
    """No month judged this run (the earlier firings are added by :func:`with_earlier_firings`)."""
    table = pd.DataFrame({c: pd.Series(dtype="object") for c in TRIGGER_COLUMNS})
    table = table.astype({"as_of_date": "datetime64[ns]", "trigger": "string", "condition_met": "boolean",
                          "fired": "boolean", "covered_by": "string", "reason": "string"})  # fmt: skip
    return TriggerReport(
        table=table, firings=(), enabled=(), decisions=tuple(settings.resume_decisions)
    )


def first_firing(report: TriggerReport, trigger: str) -> pd.Timestamp | None:
    """The first month at which ``trigger`` fired (None if it never did)."""
    dates = [f.as_of_date for f in report.firings if f.trigger == trigger]
    return min(dates) if dates else None
