"""Static linkage charts (PNG) for reviewers: they work offline, unlike Splink's HTML charts,
which load vega from a CDN.

Drawn with matplotlib from the numbers Splink's own chart methods compute (the trained model's
m and u probabilities, ``unlinkables_chart`` and ``parameter_estimate_comparisons_chart`` data)
and from aggregates of the run (the match-weight histogram of all scored pairs, the cluster-size
distribution). Each chart has alt text and its numbers as a table in ``charts.json`` beside it;
none shows a record, a name or a key: comparison levels, weights and counts only.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = [
    "cluster_size_chart",
    "draw_linkage_charts",
    "m_u_chart",
    "match_weight_histogram_chart",
    "parameter_estimates_chart",
    "unlinkables_chart",
]

log = logging.getLogger(__name__)
INDEX = "charts.json"


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _chart(file: str, alt: str, title: str, headers: list[str], rows: list[list[str]]) -> dict:
    return {"file": file, "alt": alt, "title": title, "headers": headers, "rows": rows}


def _levels(model: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for comparison in model.get("comparisons", []):
        name = comparison.get("output_column_name", "?")
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level") or "m_probability" not in level:
                continue
            rows.append({"comparison": name, "level": level.get("label_for_charts", ""),
                         "m": float(level["m_probability"]), "u": float(level["u_probability"])})  # fmt: skip
    return pd.DataFrame(rows, columns=["comparison", "level", "m", "u"])


def m_u_chart(model: dict[str, Any], out_dir: Path, name: str = "chart_linkage_m_u.png") -> dict:
    """Each comparison level's m (among true matches) and u (among non-matches) probability."""
    levels = _levels(model)
    labels = [f"{c}: {lvl}" for c, lvl in zip(levels["comparison"], levels["level"], strict=True)]
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.9 + 0.26 * len(levels)), sharey=True)
    y = np.arange(len(levels))
    for ax, col, colour, title in ((axes[0], "m", "#00703c", "m: share of true matches"),
                                   (axes[1], "u", "#d4351c", "u: share of non-matches (log)")):  # fmt: skip
        ax.barh(y, levels[col], color=colour)
        ax.set_title(title, fontsize=9)
    axes[0].invert_yaxis()  # shared: once, so the first comparison is on top
    axes[1].set_xscale("log")
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].set_xlim(0, 1)
    fig.suptitle("Linkage model: m and u probabilities by comparison level", fontsize=10)
    _save(fig, out_dir / name)
    weights = np.log2(levels["m"] / levels["u"])
    return _chart(
        name,
        f"Bar charts of the trained linkage model's m and u probabilities for {len(levels)} "
        f"comparison levels across {levels['comparison'].nunique()} compared fields; match "
        f"weights range from {weights.min():.1f} to {weights.max():.1f}.",
        "Linkage m and u probabilities",
        ["comparison", "level", "m", "u", "match weight"],
        [
            [r.comparison, r.level, f"{r.m:.4f}", f"{r.u:.6f}", f"{w:.2f}"]
            for r, w in zip(levels.itertuples(), weights, strict=True)
        ],
    )


def match_weight_histogram_chart(
    histogram: pd.DataFrame,
    threshold: float,
    out_dir: Path,
    name: str = "chart_linkage_match_weights.png",
) -> dict:
    """Scored pairs per unit of match weight, the candidate-link threshold marked."""
    weight = math.log2(threshold / (1 - threshold))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.bar(histogram["bin_lower"], histogram["pairs"], width=1.0, align="edge", color="#1d70b8")
    ax.axvline(weight, color="#d4351c", linestyle="--", label=f"threshold (weight {weight:.1f})")
    ax.set_yscale("log")
    ax.set_xlabel("match weight")
    ax.set_ylabel("scored pairs (log)")
    ax.set_title("Match weights of all scored pairs")
    ax.legend(fontsize=8)
    _save(fig, out_dir / name)
    above = int(histogram.loc[histogram["bin_lower"] >= math.floor(weight), "pairs"].sum())
    return _chart(
        name,
        f"Histogram of the match weight of all {int(histogram['pairs'].sum()):,} scored pairs, "
        f"log scale, with the candidate-link threshold at weight {weight:.1f}; about "
        f"{above:,} pairs lie in the bins at or above it.",
        "Match-weight histogram",
        ["match weight from", "to", "pairs"],
        [
            [f"{r.bin_lower:g}", f"{r.bin_upper:g}", f"{int(r.pairs):,}"]
            for r in histogram.itertuples()
        ],
    )


def cluster_size_chart(
    distribution: pd.DataFrame, out_dir: Path, name: str = "chart_linkage_cluster_sizes.png"
) -> dict:
    """How many people were formed from 1, 2, 3, ... records."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.bar(distribution["cluster_size"], distribution["clusters"], color="#1d70b8")
    ax.set_yscale("log")
    ax.set_xlabel("records per person")
    ax.set_ylabel("people (log)")
    ax.set_title("Cluster sizes")
    _save(fig, out_dir / name)
    return _chart(
        name,
        f"Histogram of records per linked person: {int(distribution['clusters'].sum()):,} "
        f"people, the largest formed from {int(distribution['cluster_size'].max())} records.",
        "Cluster sizes",
        ["records per person", "people", "records"],
        [
            [str(int(r.cluster_size)), f"{int(r.clusters):,}", f"{int(r.records):,}"]
            for r in distribution.itertuples()
        ],
    )


def _chart_data(chart: Any) -> pd.DataFrame:
    """The records behind a chart Splink returned (Splink 5 ``SplinkChart.chart_dict``; an
    altair chart's inline data otherwise)."""
    spec = chart.chart_dict if hasattr(chart, "chart_dict") else chart.to_dict()
    datasets = spec.get("datasets") or {}
    if datasets:
        return pd.DataFrame(next(iter(datasets.values())))
    return pd.DataFrame(spec.get("data", {}).get("values", []))


def unlinkables_chart(
    linker: Any, out_dir: Path, name: str = "chart_linkage_unlinkables.png"
) -> dict:
    """Splink's unlinkables: the share of records that could not be linked even to an exact
    copy of themselves, by the match weight they would get."""
    data = _chart_data(linker.evaluation.unlinkables_chart()).sort_values("match_weight")
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(data["match_weight"], data["cum_prop"], color="#1d70b8")
    ax.set_xlabel("match weight of a record compared with itself")
    ax.set_ylabel("cumulative share of records")
    ax.set_title("Unlinkable records")
    _save(fig, out_dir / name)
    low = data.loc[data["match_weight"] <= 6, "cum_prop"]
    share = float(low.iloc[-1]) if len(low) else 0.0
    step = max(1, len(data) // 25)
    return _chart(
        name,
        "Cumulative share of records by the match weight they would get against an exact copy "
        f"of themselves; {share:.1%} score 6 or less, too little information to be linked "
        "with confidence.",
        "Unlinkable records",
        ["match weight", "match probability", "cumulative share"],
        [
            [f"{r.match_weight:.2f}", f"{r.match_probability:.4f}", f"{r.cum_prop:.4f}"]
            for r in data.iloc[::step].itertuples()
        ],
    )


def parameter_estimates_chart(
    estimates: pd.DataFrame, out_dir: Path, name: str = "chart_linkage_parameter_estimates.png"
) -> dict:
    """Splink's parameter-estimate comparison: each m estimate from every EM training
    session (one per blocking rule), side by side.

    ``estimates`` is the chart's data captured when the model was trained
    (:func:`safeguard.linkage.model.session_estimates`): the linker that scores may be a fresh one
    without the sessions.
    """
    data = estimates.rename(columns={"estimated_probability": "probability"})
    if data.empty or "m_or_u" not in data.columns:
        raise ValueError("no training session's estimates (scored with the shipped model)")
    data = data.loc[data["m_or_u"] == "m"].copy()
    # a level no match in a session's sample fell in has no estimate there (Splink says so in
    # words); it is left out of that session's points
    data["probability"] = pd.to_numeric(data["probability"], errors="coerce")
    data = data.dropna(subset=["probability"])
    data["label"] = data["comparison_name"] + ": " + data["comparison_level_label"]
    labels = sorted(data["label"].unique())
    ypos = {label: i for i, label in enumerate(labels)}
    sessions = sorted(data["estimate_description"].unique())
    fig, ax = plt.subplots(figsize=(7.2, 1.0 + 0.26 * len(labels)))
    markers = "osD^v<>ph*"
    for i, session in enumerate(sessions):
        part = data.loc[data["estimate_description"] == session]
        ax.scatter(part["probability"], [ypos[v] for v in part["label"]], s=18,
                   marker=markers[i % len(markers)], label=str(session)[:60])  # fmt: skip
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("m probability")
    ax.set_title("m estimates by training session", fontsize=10)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.6 / (1 + 0.26 * len(labels))))
    _save(fig, out_dir / name)
    return _chart(
        name,
        f"Scatter of the m probability of {len(labels)} comparison levels as estimated by each "
        f"of {len(sessions)} training sessions; estimates that agree across sessions support "
        "the final model.",
        "Parameter estimates across training sessions",
        ["comparison level", "session", "m"],
        [[r.label, str(r.estimate_description), f"{r.probability:.4f}"] for r in data.itertuples()],
    )


def draw_linkage_charts(
    out_dir: Path,
    *,
    model: dict[str, Any] | None,
    histogram: pd.DataFrame | None,
    threshold: float,
    distribution: pd.DataFrame | None,
    linker: Any | None = None,
    estimates: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Draw every linkage chart it has the numbers for into ``out_dir`` with ``charts.json``.

    A chart that cannot be drawn (too little data, a Splink chart without data) is left out
    and logged; charts never stop a linkage run. Returns the files written, by name.
    """
    out_dir = Path(out_dir)
    jobs: list[tuple[str, Callable[[], dict]]] = []
    if model:
        jobs.append(("m_u_chart", lambda: m_u_chart(model, out_dir)))
    if histogram is not None and len(histogram):
        jobs.append(
            (
                "match_weight_histogram",
                lambda: match_weight_histogram_chart(histogram, threshold, out_dir),
            )
        )
    if distribution is not None and len(distribution):
        jobs.append(("cluster_size_chart", lambda: cluster_size_chart(distribution, out_dir)))
    if linker is not None:
        jobs.append(("unlinkables_chart", lambda: unlinkables_chart(linker, out_dir)))
    if estimates is not None and len(estimates):
        jobs.append(
            ("parameter_estimates_chart", lambda: parameter_estimates_chart(estimates, out_dir))
        )
    charts, written = [], {}
    for key, job in jobs:
        try:
            chart = job()
        except Exception as exc:  # a chart is a view of the run, never a reason to fail it
            plt.close("all")
            log.warning("linkage chart %s not drawn: %s: %s", key, type(exc).__name__, exc)
            continue
        charts.append(chart)
        written[key] = out_dir / chart["file"]
    if charts:
        (out_dir / INDEX).write_text(json.dumps(charts, indent=1), encoding="utf-8")
        written["charts_index"] = out_dir / INDEX
    return written
