"""Model card (Markdown and HTML) generated from the measured figures, never typed by hand.

One Markdown template is the source; the HTML is rendered from it (CommonMark with tables), so
the two can never say different things.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markdown_it import MarkdownIt

from safeguard.features.dictionary import FEATURE_DICTIONARY
from safeguard.features.outcomes import NEWBORN_LOOKBACK_MONTHS
from safeguard.models.evaluation import ModelEvaluation
from safeguard.models.fairness import FairnessAudit
from safeguard.models.training import FittedRisk

_METRIC_ROWS = (
    ("auc_roc", "AUC-ROC"),
    ("auc_pr", "AUC-PR (average precision)"),
    ("precision_at_capacity", "Precision at capacity"),
    ("recall_at_capacity", "Recall at capacity"),
    ("brier", "Brier score"),
    ("observed_over_expected", "Observed / expected outcomes"),
    ("calibration_slope", "Calibration slope"),
    ("precision_at_threshold", "Precision at threshold"),
    ("recall_at_threshold", "Recall at threshold"),
)
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; line-height: 1.45; color: #1b1b1b; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left; font-size: 0.9rem; }
blockquote { padding: 0.5rem 1rem; border-left: 6px solid #555; background: #f5f5f5; margin: 0; }
code { background: #f0f0f0; padding: 0 0.2rem; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


def _ci(est: dict[str, float] | None, signed: bool = False) -> str:
    if not est:
        return "-"
    value, lo, hi = est["value"], est.get("lower"), est.get("upper")
    fmt = "{:+.3f}" if signed else "{:.3f}"
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return fmt.format(value)
    return f"{fmt.format(value)} ({fmt.format(lo)} to {fmt.format(hi)})"


def _num(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.2f}"


def _equal_need_rows(audit: FairnessAudit) -> list[dict[str, Any]]:
    if audit.need_adjusted is None or audit.need_adjusted.empty:
        return []
    table = audit.need_adjusted.loc[audit.need_adjusted["gated"]]
    rows = []
    for (dim, group), part in table.groupby(["dimension", "group"], sort=True):
        row: dict[str, Any] = {"dimension": dim, "group": group}
        for r in part.itertuples():
            row[r.measure] = f"{r.value:.2f} ({r.lower:.2f}-{r.upper:.2f})"
        rows.append(row)
    return rows


def render_model_card(
    fitted: FittedRisk,
    evaluation: ModelEvaluation,
    audit: FairnessAudit,
    *,
    version: str,
    title: str = "safeguard family risk indicator",
    now: datetime | None = None,
    sign_offs: Sequence[str] = (),
    council: str = "",
    scoring_as_of: str | None = None,
    charts: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """Return the model card as (Markdown, HTML) text.

    ``scoring_as_of`` is the run's as-of date: the card states how old the model is when it
    scores it, beside the ages its test dates measured. ``charts`` (from :func:`draw_charts`)
    are linked by file name, so the card must be written beside them.
    """
    context = _context(fitted, evaluation, audit, version=version, title=title, now=now,
                       sign_offs=sign_offs, council=council, scoring_as_of=scoring_as_of,
                       charts=charts)  # fmt: skip
    markdown = _ENV.get_template("model_card.md.j2").render(**context)
    return markdown, markdown_to_html(markdown, title=f"Model card: {title}")


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    autoescape=False,  # Markdown source: escaped below when rendered to HTML
    undefined=jinja2.ChainableUndefined,
)
_FAIRNESS_REPORT = """# Fairness report: {{ title }}

*Generated from measured figures on {{ generated }} for model version `{{ version }}`; the same
section as in the model card, published whether or not the fairness gate passed.*

> **Fairness gate: {{ "PASSED" if fair.gate_passed else "FAILED" }}.**
{%- if not fair.gate_passed %} Flags are **not** produced from this model.{% endif %}

{% include "fairness_audit.md.j2" %}"""


def render_fairness_report(
    fitted: FittedRisk, evaluation: ModelEvaluation, audit: FairnessAudit, *, version: str,
    title: str = "safeguard family risk indicator", now: datetime | None = None,
    sign_offs: Sequence[str] = (), council: str = "", charts: Mapping[str, Any] | None = None,
) -> tuple[str, str]:  # fmt: skip
    """The model card's fairness section on its own (Markdown, HTML): the reviewers' report."""
    context = _context(fitted, evaluation, audit, version=version, title=title, now=now,
                       sign_offs=sign_offs, council=council, scoring_as_of=None, charts=charts)  # fmt: skip
    markdown = _ENV.from_string(_FAIRNESS_REPORT).render(**context)
    return markdown, markdown_to_html(markdown, title=f"Fairness report: {title}")


def draw_charts(evaluation: ModelEvaluation, audit: FairnessAudit, out_dir: Path) -> dict[str, Any]:
    """Draw the card's charts into ``out_dir``: calibration, families reviewed, fairness."""
    from safeguard.models.charts import (
        calibration_chart,
        fairness_charts,
        review_chart,
        write_index,
    )

    charts: dict[str, Any] = {"fairness": []}
    if len(evaluation.calibration_curve):
        charts["calibration"] = calibration_chart(evaluation.calibration_curve, out_dir)
    if evaluation.review_curve is not None and len(evaluation.review_curve):
        charts["review"] = review_chart(evaluation.review_curve, float(evaluation.k), out_dir)
    low, high = audit.settings.band
    charts["fairness"] = fairness_charts(audit.decisions, (float(low), float(high)), out_dir)
    drawn = [c for c in (charts.get("calibration"), charts.get("review")) if c is not None]
    write_index(drawn + charts["fairness"], out_dir / "charts.json")
    return charts


def _context(
    fitted: FittedRisk,
    evaluation: ModelEvaluation,
    audit: FairnessAudit,
    *,
    version: str,
    title: str,
    now: datetime | None,
    sign_offs: Sequence[str],
    council: str,
    scoring_as_of: str | None,
    charts: Mapping[str, Any] | None,
) -> dict[str, Any]:
    from safeguard.models.charts import calibration_intervals

    perf = evaluation.summary()
    fair = audit.summary()
    coverage = (
        audit.coverage.loc[audit.coverage["by"] == "all"] if len(audit.coverage) else audit.coverage
    )
    leakage_max = (
        float(audit.leakage["share"].max())
        if audit.leakage is not None and len(audit.leakage)
        else 0.0
    )
    gate = audit_gate(audit)
    context = {
        "title": title,
        "version": version,
        "council": council,
        "generated": (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "perf": perf,
        "fair": fair,
        "train": fitted.summary(),
        "window": fitted.training_window(),
        "features": [s for s in FEATURE_DICTIONARY if s.name in set(fitted.feature_names)],
        "metric_rows": _METRIC_ROWS,
        "equal_need": _equal_need_rows(audit),
        "n_boot": evaluation.n_boot,
        "ci": _ci,
        "num": _num,
        "calibration": calibration_intervals(evaluation.calibration_curve).to_dict("records"),
        "review": (
            evaluation.review_curve.to_dict("records")
            if evaluation.review_curve is not None
            else []
        ),
        "charts": dict(charts or {"fairness": []}),
        "decisions": audit.decisions.to_dict("records"),
        "coverage": coverage.to_dict("records"),
        "leakage": audit.leakage is not None and len(audit.leakage) > 0,
        "leakage_max": leakage_max,
        "max_leakage": gate["max_leakage"],
        "band": gate["band"],
        "min_expected": gate["min_expected"],
        "sign_offs": list(sign_offs),
        "newborn_months": NEWBORN_LOOKBACK_MONTHS,
        "scoring_as_of": scoring_as_of,
        "approved_kind": fitted.config.kind,
        "scoring_age": _scoring_age(fitted, scoring_as_of),
        "perf_max_age": max(
            (int(str(r["age_months"]).split("-")[-1]) for r in perf.get("by_model_age", [])),
            default=0,
        ),
    }
    return context


def _scoring_age(fitted: FittedRisk, scoring_as_of: str | None) -> int | None:
    if not scoring_as_of:
        return None
    from safeguard.models.evaluation import months_between

    return months_between(max(fitted.split.calibration_dates), pd.Timestamp(scoring_as_of))


def audit_gate(audit: FairnessAudit) -> dict[str, Any]:
    """The gate settings the audit was judged by (for the card's method sentence)."""
    gate = audit.settings
    return {"band": gate.band, "min_expected": f"{gate.min_expected_outcomes:g}",
            "max_leakage": audit.max_leakage_share}  # fmt: skip


def markdown_to_html(markdown: str, *, title: str) -> str:
    """A standalone HTML page from Markdown (raw HTML in the source is escaped, not passed)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )


def write_model_card(
    fitted: FittedRisk,
    evaluation: ModelEvaluation,
    audit: FairnessAudit,
    out_dir: Path,
    *,
    version: str,
    title: str = "safeguard family risk indicator",
    sign_offs: Sequence[str] = (),
    council: str = "",
    scoring_as_of: str | None = None,
) -> tuple[Path, Path]:
    """Write ``model_card.md`` and ``model_card.html`` into ``out_dir`` with their charts, and
    the fairness report (``fairness_report.md``/``.html``, the reviewers' "Fairness report",
    written whether or not the gate passed); return the card's paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = draw_charts(evaluation, audit, out_dir)
    markdown, html = render_model_card(
        fitted, evaluation, audit, version=version, title=title, sign_offs=sign_offs,
        council=council, scoring_as_of=scoring_as_of, charts=charts,
    )  # fmt: skip
    md_path, html_path = out_dir / "model_card.md", out_dir / "model_card.html"
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    fair_md, fair_html = render_fairness_report(
        fitted, evaluation, audit, version=version, title=title, sign_offs=sign_offs,
        council=council, charts=charts,
    )  # fmt: skip
    (out_dir / "fairness_report.md").write_text(fair_md, encoding="utf-8")
    (out_dir / "fairness_report.html").write_text(fair_html, encoding="utf-8")
    return md_path, html_path
