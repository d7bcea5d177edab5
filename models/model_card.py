"""Model card (Markdown and HTML) generated from the measured figures, never typed by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from features.dictionary import FEATURE_DICTIONARY
from models.evaluation import ModelEvaluation
from models.fairness import FairnessAudit
from models.training import FittedRisk

_METRIC_ROWS = (
    ("auc_roc", "AUC-ROC"),
    ("auc_pr", "AUC-PR (average precision)"),
    ("brier", "Brier score"),
    ("precision_at_capacity", "Precision at capacity"),
    ("recall_at_capacity", "Recall at capacity"),
    ("precision_at_threshold", "Precision at threshold"),
    ("recall_at_threshold", "Recall at threshold"),
)


def _ci(est: dict[str, float] | None) -> str:
    if not est:
        return "-"
    value, lo, hi = est["value"], est.get("lower"), est.get("upper")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return f"{value:.3f}"
    return f"{value:.3f} ({lo:.3f}-{hi:.3f})"


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
) -> tuple[str, str]:
    """Return the model card as (Markdown, HTML) text."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    perf = evaluation.summary()
    context = {
        "title": title,
        "version": version,
        "generated": (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "perf": {**perf, "oracle": perf.get("oracle")},
        "fair": audit.summary(),
        "train": fitted.summary(),
        "window": fitted.training_window(),
        "features": [s for s in FEATURE_DICTIONARY if s.name in set(fitted.feature_names)],
        "metric_rows": _METRIC_ROWS,
        "equal_need": _equal_need_rows(audit),
        "n_boot": evaluation.n_boot,
        "ci": _ci,
    }
    markdown = env.get_template("model_card.md.j2").render(**context)
    html = env.get_template("model_card.html.j2").render(**context)
    return markdown, html


def write_model_card(
    fitted: FittedRisk,
    evaluation: ModelEvaluation,
    audit: FairnessAudit,
    out_dir: Path,
    *,
    version: str,
    title: str = "safeguard family risk indicator",
) -> tuple[Path, Path]:
    """Write ``model_card.md`` and ``model_card.html`` into ``out_dir``; return their paths."""
    markdown, html = render_model_card(fitted, evaluation, audit, version=version, title=title)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out_dir / "model_card.md", out_dir / "model_card.html"
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(html, encoding="utf-8")
    return md_path, html_path
