"""Global explanations for reviewers: which features move the indicator, across families.

Mean |SHAP| per dictionary feature (log-odds and probability points) and a SHAP summary
(beeswarm) plot, computed on a random sample of the current families with the same native
TreeSHAP path as the practitioners' reasons, written as PNG + a small HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from safeguard.features.dictionary import feature_spec
from safeguard.flags.reasons import attribute
from safeguard.models.estimator import ScoringModel

DEFAULT_SAMPLE = 5000
"""Families sampled: the standard error of a mean |SHAP| is then about 1.4% of its spread, so
the order of the features is stable, and TreeSHAP on 5,000 rows takes well under a second."""

_PAGE = jinja2.Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}
td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}</style></head>
<body><h1>{{ title }}</h1>
<p>Model version {{ model_version }}; {{ n_sample }} families sampled at random from
{{ n_population }} scored; generated {{ generated }}.</p>
<p>Each dot in the plot is one family: how much a feature moved its indicator on the
<strong>log-odds</strong> scale (the trees' native SHAP values; right = raised). The table also gives
the average size in <strong>probability points</strong> (1 point = 1 percentage point) after the
calibrator, the scale practitioners see. A typical family (the average score) has an
indicator of {{ "%.1f" | format(100 * base_probability) }}%. These are associations the model learned, not
causes.</p>
<img src="{{ png }}" alt="{{ alt }}">
<table><thead><tr><th>Feature</th><th>Agency</th><th>Mean |SHAP| (log-odds)</th>
<th>Mean |contribution| (points)</th><th>Mean contribution (points)</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{{ r.label }}</td><td>{{ r.agency }}</td>
<td class="n">{{ "%.4f" | format(r.mean_abs_log_odds) }}</td>
<td class="n">{{ "%.2f" | format(100 * r.mean_abs_points) }}</td>
<td class="n">{{ "%+.2f" | format(100 * r.mean_points) }}</td></tr>
{% endfor %}</tbody></table></body></html>
""",
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class GlobalExplanation:
    """Mean |SHAP| per feature (``table``, largest first) and where the plot and page are."""

    table: pd.DataFrame
    png: Path
    html: Path
    n_sample: int
    n_population: int
    base_probability: float

    def summary(self) -> dict[str, Any]:
        """Aggregates for run metadata: the sample size and the five strongest features."""
        top = self.table.head(5)
        return {
            "n_sample": self.n_sample,
            "n_population": self.n_population,
            "base_probability": round(self.base_probability, 5),
            "top_features": dict(
                zip(top["feature"], top["mean_abs_log_odds"].round(4), strict=True)
            ),
        }


def _plot(log_odds: pd.DataFrame, values: pd.DataFrame, path: Path, seed: int) -> None:
    """The SHAP beeswarm through the current ``shap.plots`` API (log-odds, 20 features)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    labels = [feature_spec(c).label for c in log_odds.columns]
    explanation = shap.Explanation(
        values=log_odds.to_numpy(), data=values.to_numpy(), feature_names=labels
    )
    state = np.random.get_state()  # the beeswarm jitters dots with numpy's global generator
    np.random.seed(seed)
    try:
        shap.plots.beeswarm(explanation, max_display=20, show=False, plot_size=(10, 8))
        figure = plt.gcf()
        figure.suptitle("Features' effect on the indicator (SHAP, log-odds)", y=1.0)
        figure.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    finally:
        np.random.set_state(state)
        plt.close("all")


def _alt(table: pd.DataFrame, n_sample: int) -> str:
    top = ", ".join(table["label"].head(3))
    return (
        f"SHAP beeswarm of {n_sample:,} sampled families: each dot is a family, placed by how "
        f"much a feature moved its indicator (log-odds); the strongest features are {top}. "
        "The numbers are in the table below."
    )


def global_explanations(
    model: ScoringModel,
    family_features_sample: pd.DataFrame,
    out_dir: Path,
    *,
    sample_size: int = DEFAULT_SAMPLE,
    seed: int = 0,
    model_version: str = "",
    now: datetime | None = None,
) -> GlobalExplanation:
    """Mean |SHAP| table, ``shap_summary.png`` and ``global_explanations.html`` in ``out_dir``.

    Parameters
    ----------
    model : ScoringModel
    family_features_sample : pandas.DataFrame
        Family features (all current families, or already a sample); at most ``sample_size``
        rows are drawn from it at random with ``seed``.
    out_dir : Path
        Created if needed, e.g. ``artefacts/global_explanations/``.
    """
    if family_features_sample.empty:
        raise ValueError("global_explanations needs at least one family_features row")
    n_population = len(family_features_sample)
    sample = family_features_sample
    if n_population > sample_size:  # drawn in content order: family keys are keyed pseudonyms
        by = [c for c in sample.columns if c != "family_key"] + ["family_key"]
        sample = sample.sort_values([c for c in by if c in sample.columns], ignore_index=True)
        sample = sample.sample(n=sample_size, random_state=seed)
    attrs = attribute(model, sample)
    points, logit = attrs.contributions, attrs.log_odds
    table = pd.DataFrame(
        {
            "feature": list(points.columns),
            "label": [feature_spec(c).label for c in points.columns],
            "agency": [feature_spec(c).agency for c in points.columns],
            "mean_abs_log_odds": np.abs(logit.to_numpy()).mean(axis=0),
            "mean_abs_points": np.abs(points.to_numpy()).mean(axis=0),
            "mean_points": points.to_numpy().mean(axis=0),
        }
    )
    table = table.sort_values(["mean_abs_log_odds", "feature"], ascending=[False, True])
    table = table.reset_index(drop=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    png, html = out_dir / "shap_summary.png", out_dir / "global_explanations.html"
    _plot(logit, attrs.values, png, seed)
    html.write_text(
        _PAGE.render(
            title="What drives the family risk indicator",
            model_version=model_version or "(not given)",
            n_sample=len(sample),
            n_population=n_population,
            generated=(now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            base_probability=attrs.base_probability,
            png=png.name,
            alt=_alt(table, len(sample)),
            rows=table.to_dict("records"),
        ),
        encoding="utf-8",
    )
    return GlobalExplanation(
        table=table,
        png=png,
        html=html,
        n_sample=len(sample),
        n_population=n_population,
        base_probability=attrs.base_probability,
    )
