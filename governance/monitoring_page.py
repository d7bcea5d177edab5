"""The monitoring page: is the model card's promise still kept, and may the model still flag?

Built from the monitoring tables (aggregates only) and the chart files the pipeline wrote, in
the same document model as every governance artefact, so the HTML a reviewer opens in the
portal and the Markdown kept with the reports say the same thing. Every chart has alt text
and the numbers it plots in a table beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from safeguard.governance.document import (
    Bullets,
    Document,
    Fields,
    Image,
    Paragraph,
    Section,
    Table,
)

__all__ = ["ChartFile", "build_monitoring_page", "build_status_page"]


@dataclass(frozen=True)
class ChartFile:
    """A chart the page shows: its path relative to the page, title, alt text and numbers."""

    src: str
    title: str
    alt: str


def _num(value: object, digits: int = 3) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return f"{number:.{digits}f}" if np.isfinite(number) else "-"


def _ci(row: pd.Series, digits: int = 3) -> str:
    if pd.isna(row.get("lower")) or pd.isna(row.get("upper")):
        return _num(row.get("value"), digits)
    return (
        f"{_num(row['value'], digits)} ({_num(row['lower'], digits)}-{_num(row['upper'], digits)})"
    )


def _month(value: object) -> str:
    return pd.Timestamp(value).strftime("%Y-%m")


def _figure(charts: Mapping[str, ChartFile], key: str) -> tuple[Image, ...]:
    chart = charts.get(key)
    return (Image(chart.src, chart.alt, chart.title),) if chart else ()


def _realised_rows(performance: pd.DataFrame) -> tuple[tuple[str, ...], ...]:
    real = performance.loc[performance["kind"] == "realised"]
    rows = []
    for month, part in real.groupby("as_of_date"):
        by = part.set_index("metric")
        prec = by.loc["precision_at_capacity"] if "precision_at_capacity" in by.index else None
        if prec is None:
            continue
        cells = [
            _month(month),
            f"{int(prec['k'])}",
            f"{int(prec['n_outcomes'])}",
            _ci(prec),
            "-"
            if pd.isna(prec["promised_lower"])
            else f"{_num(prec['promised_lower'])}-{_num(prec['promised_upper'])}",
            str(prec["status"]),
        ]
        for metric in ("recall_at_capacity", "observed_over_expected", "auc_roc"):
            cells.append(_ci(by.loc[metric]) if metric in by.index else "-")
        rows.append(tuple(cells))
    return tuple(rows)


def _estimated_rows(performance: pd.DataFrame) -> tuple[tuple[str, ...], ...]:
    est = performance.loc[performance["kind"] == "estimated"]
    real = performance.loc[performance["kind"] == "realised"].set_index(["as_of_date", "metric"])
    rows = []
    for month, part in est.groupby("as_of_date"):
        by = part.set_index("metric")
        prec, rec = by.loc["precision_at_capacity"], by.loc["recall_at_capacity"]
        key = (month, "precision_at_capacity")
        realised = _num(real.loc[key, "value"]) if key in real.index else "outcomes not complete"
        rows.append((_month(month), _ci(prec), _ci(rec), realised, str(prec["status"])))
    return tuple(rows)


def _harm_rows(performance: pd.DataFrame) -> tuple[tuple[str, ...], ...]:
    real = performance.loc[performance["kind"] == "realised"]
    rows = []
    for month, part in real.groupby("as_of_date"):
        by = part.set_index("metric")
        if "true_harm_recall_at_capacity" not in by.index:
            continue
        rows.append(
            (
                _month(month),
                _ci(by.loc["recall_at_capacity"]),
                _ci(by.loc["true_harm_recall_at_capacity"]),
                _ci(by.loc["auc_roc"]),
                _ci(by.loc["true_harm_auc_roc"]) if "true_harm_auc_roc" in by.index else "-",
            )
        )
    return tuple(rows)


def _fairness_blocks(fairness: pd.DataFrame, charts: Mapping[str, ChartFile]) -> tuple:
    if fairness.empty:
        return (Paragraph("No window of complete months yet: realised fairness needs outcomes."),)
    latest = fairness["window_end"].max()
    now = fairness.loc[fairness["window_end"] == latest].sort_values(
        ["metric", "dimension", "group"], ascending=[False, True, True]
    )  # recall first: the ratio the rule reads
    table = Table(
        (
            "Characteristic",
            "Group",
            "Ratio (group / rest)",
            "Value",
            "95% interval",
            "Verdict",
            "Note",
        ),
        tuple(
            (
                str(r.dimension),
                str(r.group),
                str(r.metric),
                _num(r.ratio, 2),
                f"{_num(r.lower_95, 2)}-{_num(r.upper_95, 2)}",
                str(r.verdict),
                str(r.note),
            )
            for r in now.itertuples()
        ),
        caption=f"Window of {int(now['n_months'].iloc[0])} complete months ending {_month(latest)}",
    )
    fails = fairness.loc[fairness["verdict"] == "fail"]
    history = Table(
        ("Window ending", "Characteristic", "Group", "Ratio", "Value", "95% interval"),
        tuple(
            (
                _month(r.window_end),
                str(r.dimension),
                str(r.group),
                str(r.metric),
                _num(r.ratio, 2),
                f"{_num(r.lower_95, 2)}-{_num(r.upper_95, 2)}",
            )
            for r in fails.itertuples()
        ),
        caption="Every window in which a group's ratio was established outside the band",
        empty="None: no group's realised ratio was established outside the band.",
    )
    return (*_figure(charts, "fairness"), table, history)


def _drift_blocks(drift: pd.DataFrame, charts: Mapping[str, ChartFile]) -> tuple:
    if drift.empty:
        return (Paragraph("No drift measured (no reference window)."),)
    vol = drift.loc[drift["kind"] == "source_volume"]
    cell = {}
    for r in vol.itertuples():
        text = _num(r.drift, 2)
        if r.severity == "not yet delivered":
            text = "not yet delivered"
        elif r.severity == "severe":
            text += " (severe)"
        cell[(pd.Timestamp(r.as_of_date), str(r.name))] = text
    psi = drift.loc[drift["kind"].isin(["feature", "score"])]
    worst = (
        psi.groupby(["as_of_date", "kind"])["drift"].max().unstack("kind")
        if len(psi)
        else pd.DataFrame()
    )
    sources = sorted({str(n) for n in vol["name"]})
    rows = []
    for month in sorted({pd.Timestamp(d) for d in drift["as_of_date"]}):
        cells = [_month(month)] + [cell.get((month, s), "-") for s in sources]
        for kind in ("feature", "score"):
            cells.append(
                _num(worst.loc[month, kind], 3)
                if kind in worst.columns and month in worst.index
                else "-"
            )
        rows.append(tuple(cells))
    monthly = Table(
        ("Month", *[f"{s} volume ratio" for s in sources], "Largest feature PSI", "Score PSI"),
        tuple(rows),
        caption="Recording volume per agency (x the training window's) and distribution shift",
    )
    latest = drift["as_of_date"].max()
    top = psi.loc[(psi["as_of_date"] == latest) & (psi["kind"] == "feature")].nlargest(10, "drift")
    features = Table(
        ("Feature", "Agency", "Training-window mean", "Mean this month", "PSI", "Reading"),
        tuple(
            (
                str(r.name),
                str(r.agency),
                _num(r.reference),
                _num(r.value),
                _num(r.drift),
                str(r.severity),
            )
            for r in top.itertuples()
        ),
        caption=f"Features that moved most by {_month(latest)}",
    )
    missing = drift.loc[(drift["kind"] == "source_missing") & (drift["as_of_date"] == latest)]
    coverage = Table(
        (
            "Agency",
            "Share of families with children without a record in 12 months: training window",
            f"{_month(latest)}",
            "Difference",
        ),
        tuple(
            (str(r.name), _num(r.reference), _num(r.value), _num(r.drift))
            for r in missing.itertuples()
        ),
        caption="Missing sources",
    )
    return (*_figure(charts, "drift"), monthly, features, coverage)


def _override_blocks(overrides: pd.DataFrame, charts: Mapping[str, ChartFile]) -> tuple:
    if overrides.empty:
        return (Paragraph("No practitioner judgements recorded yet (the portal has none)."),)

    def share_table(view: str, key: str, caption: str, label: str) -> Table:
        part = overrides.loc[overrides["view"] == view]
        return Table(
            (label, *(["Group"] if view == "by_group" else []), "Judgement", "Judgements", "Share"),
            tuple(
                (
                    (_month(getattr(r, key)) if key == "month" else str(getattr(r, key))),
                    *([str(r.group)] if view == "by_group" else []),
                    str(r.decision),
                    "suppressed" if pd.isna(r.judgements) else f"{int(r.judgements)}",
                    "-" if pd.isna(r.share) else f"{r.share:.0%}",
                )
                for r in part.itertuples()
            ),
            caption=caption,
        )

    out = overrides.loc[overrides["view"] == "outcome_by_decision"]
    outcomes = Table(
        (
            "Judgement",
            "Flags judged",
            "12-month window closed",
            "Went on to the outcome",
            "Rate (95% interval)",
        ),
        tuple(
            (
                str(r.decision),
                f"{int(r.judgements)}",
                f"{int(r.outcomes_known)}",
                f"{int(r.with_outcome)}",
                f"{_num(r.outcome_rate, 2)} ({_num(r.lower, 2)}-{_num(r.upper, 2)})"
                if r.outcomes_known
                else r.note,
            )
            for r in out.itertuples()
        ),
        caption="Realised outcomes of the flags, by the practitioner's judgement (a disagreed flag "
        "that went on to an enquiry or plan is a miss by the practitioner; one that did not may be "
        "a model error the practitioner caught)",
    )
    return (
        *_figure(charts, "overrides"),
        outcomes,
        share_table("by_month", "month", "Judgements by month", "Month"),
        share_table("by_band", "band", "Judgements by risk band", "Band"),
        share_table(
            "by_group",
            "dimension",
            "Judgements by fairness group (groups with few judgements suppressed)",
            "Characteristic",
        ),
    )


def build_monitoring_page(
    *,
    status: Sequence[str],
    blocked: bool,
    meta: Sequence[tuple[str, str]],
    rules: Sequence[tuple[str, str]],
    decisions: Sequence[str],
    performance: pd.DataFrame,
    fairness: pd.DataFrame,
    drift: pd.DataFrame,
    overrides: pd.DataFrame,
    triggers: pd.DataFrame,
    charts: Mapping[str, ChartFile],
    notes: Sequence[str] = (),
) -> Document:
    """The monitoring page as a :class:`~safeguard.governance.document.Document`.

    Parameters
    ----------
    status : the decommission check's sentences (first: PASS or DECOMMISSIONED).
    blocked : whether flagging is stopped.
    meta : label/value pairs for the page header (council, model version, months).
    rules : (rule, its settings in words) for every configured rule.
    decisions : the council's recorded resume decisions, one sentence each.
    performance, fairness, drift, overrides, triggers : the monitoring tables.
    charts : chart files by key (``precision_at_capacity``, ``recall_at_capacity``,
        ``observed_over_expected``, ``fairness``, ``drift``, ``overrides``).
    notes : anything the reader must know (e.g. months left out).
    """
    fired = (
        triggers.loc[triggers["fired"].fillna(False).astype(bool)] if len(triggers) else triggers
    )
    rule_rows = tuple(
        (
            name,
            setting,
            f"{int((fired['trigger'] == name).sum())}" if len(fired) else "0",
            _month(fired.loc[fired["trigger"] == name, "as_of_date"].min())
            if len(fired) and (fired["trigger"] == name).any()
            else "-",
        )
        for name, setting in rules
    )
    realised = performance.loc[performance["kind"] == "realised"]
    harm = _harm_rows(performance)
    sections = [
        Section(
            "decision",
            "Decision: may the model flag?",
            (
                Fields((("Flagging", "STOPPED by a decommission rule" if blocked else "allowed"),)),
                Bullets(tuple(status)),
                *((Bullets(tuple(notes)),) if notes else ()),
            ),
        ),
        Section(
            "rules",
            "Decommission rules (council configuration)",
            (
                Table(("Rule", "Fires when", "Months fired", "First fired at"), rule_rows),
                Table(
                    ("Recorded decisions to resume",),
                    tuple((d,) for d in decisions),
                    empty="None recorded.",
                ),
            ),
        ),
        Section(
            "realised",
            "Realised performance against the model card's promise",
            (
                Paragraph(
                    "Each row is one past run: the families the approved model scored at that "
                    "as-of month, the top k flagged under the operating rule, and what happened "
                    "in the 12 months after it. A month appears once its window has closed. "
                    "Intervals: 95%, families resampled."
                ),
                *_figure(charts, "precision_at_capacity"),
                Table(
                    (
                        "Month",
                        "Flags (k)",
                        "Families with the outcome",
                        "Precision at capacity",
                        "Promised (95%)",
                        "Against the promise",
                        "Recall at capacity",
                        "Observed / expected",
                        "AUC-ROC",
                    ),
                    _realised_rows(performance),
                    empty="No month's outcome window has closed yet.",
                ),
                *_figure(charts, "recall_at_capacity"),
                *_figure(charts, "observed_over_expected"),
            ),
        ),
        Section(
            "estimated",
            "Estimated performance before the outcomes are known",
            (
                Paragraph(
                    "Confidence-based performance estimation: from the calibrated probabilities "
                    "alone, the precision and recall at capacity each month's flags should reach "
                    "if the model is still calibrated for the families now scored. It reacts to "
                    "a change in who is scored (e.g. an agency recording less), never to a "
                    "change in what the scores mean; months with closed windows show the "
                    "realised figure beside it."
                ),
                Table(
                    (
                        "Month",
                        "Estimated precision (95%)",
                        "Estimated recall (95%)",
                        "Realised precision",
                        "Against the promise",
                    ),
                    _estimated_rows(performance),
                ),
            ),
        ),
        Section(
            "fairness",
            "Realised fairness by group",
            (
                Paragraph(
                    "Each group's realised recall at capacity over the recall the model's "
                    "probabilities promised it, and its observed / expected outcomes, each "
                    "relative to the rest of the families where the characteristic is recorded, "
                    "pooled over windows of complete months."
                ),
                *_fairness_blocks(fairness, charts),
            ),
        ),
        Section("drift", "Drift against the training window", _drift_blocks(drift, charts)),
        Section(
            "overrides",
            "Practitioners' judgements (override analytics)",
            _override_blocks(overrides, charts),
        ),
    ]
    if harm:
        sections.insert(
            3,
            Section(
                "harm",
                "Validation against true harm (synthetic ground truth)",
                (
                    Paragraph(
                        "On synthetic estates the generator records true harm to children, which no "
                        "agency records as such: recall and AUC for it beside the recorded label show "
                        "how much of the label's recording practice the model follows."
                    ),
                    Table(
                        (
                            "Month",
                            "Recall at capacity: recorded label",
                            "Recall at capacity: true harm",
                            "AUC-ROC: recorded label",
                            "AUC-ROC: true harm",
                        ),
                        harm,
                    ),
                ),
            ),
        )
    months = sorted(realised["as_of_date"].unique()) if len(realised) else []
    summary = (
        "Flagging is STOPPED: a decommission rule fired (see the decision section)."
        if blocked
        else f"Flagging is allowed: no decommission rule has an open firing; {len(months)} past "
        "run(s) have complete outcomes."
    )
    return Document(
        "monitoring",
        "Model monitoring",
        summary,
        Fields(tuple(meta)),
        tuple(sections),
    )


def build_status_page(
    *, status: Sequence[str], blocked: bool, meta: Sequence[tuple[str, str]]
) -> Document:
    """The monitoring page when no past run could be judged this time (no approved model, or
    no month scored by it yet): the decision and why, so a stale page is never left behind."""
    return Document(
        "monitoring", "Model monitoring",
        "Flagging is STOPPED: a decommission rule fired earlier and no decision has resumed it."
        if blocked else "No past run could be judged this time.",
        Fields(tuple(meta)),
        (Section("decision", "Decision: may the model flag?", (
            Fields((("Flagging", "STOPPED by a decommission rule" if blocked else "allowed"),)),
            Bullets(tuple(status)),
        )),),
    )  # fmt: skip
