"""Static charts (PNG, matplotlib) for the model card, the fairness report and the review pack.

Every chart is drawn from aggregates that the documents also print as a table beside it (so a
figure is never the only place a number appears), carries alt text saying what it shows, and
holds no identifier: bins, group names and counts only. Files are written without timestamps
so the same figures give the same bytes, and need no network to view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FormatStrFormatter, NullFormatter
from scipy.stats import beta

__all__ = [
    "Chart",
    "calibration_chart",
    "calibration_intervals",
    "fairness_charts",
    "review_chart",
    "write_index",
]

_VERDICT_COLOURS = {
    "pass": "#00703c",
    "fail": "#d4351c",
    "inconclusive": "#f47738",
    "inconclusive, signed off": "#1d70b8",
}
_METRIC_LABELS = {
    "recall_ratio": "recall at capacity, group / rest",
    "oe_ratio": "observed / expected outcomes, group / rest",
    "selection_ratio_at_equal_need": "selection at equal need, group / rest",
}


@dataclass(frozen=True)
class Chart:
    """A chart file (name relative to the document beside it), what it shows, and the numbers
    it draws as a table (``headers``, ``rows``) for any document that embeds it."""

    file: str
    alt: str
    title: str
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "alt": self.alt, "title": self.title,
                "headers": list(self.headers), "rows": [list(r) for r in self.rows]}  # fmt: skip


def write_index(charts: list[Chart], path: Path) -> None:
    """``charts.json``: every chart beside it with its alt text and table (for the review pack)."""
    path.write_text(json.dumps([c.as_dict() for c in charts], indent=1), encoding="utf-8")


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def calibration_intervals(curve: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """The calibration table with a Clopper-Pearson interval on each bin's observed rate."""
    out = curve.copy()
    n = out["n"].astype(float).to_numpy()
    k = np.round(out["observed_rate"].astype(float).to_numpy() * n)
    alpha = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        lower = np.where(k > 0, beta.ppf(alpha, k, n - k + 1), 0.0)
        upper = np.where(k < n, beta.ppf(1 - alpha, k + 1, n - k), 1.0)
    out["observed_lower"], out["observed_upper"] = lower, upper
    return out


def calibration_chart(
    curve: pd.DataFrame, out_dir: Path, *, name: str = "chart_calibration.png"
) -> Chart:
    """Observed outcome rate against mean predicted probability per bin, 95% intervals."""
    table = calibration_intervals(curve)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    x = table["mean_predicted"].to_numpy(float)
    y = table["observed_rate"].to_numpy(float)
    err = np.vstack([y - table["observed_lower"], table["observed_upper"] - y])
    top = float(max(np.nanmax(table["observed_upper"]), np.nanmax(x), 1e-3)) * 1.05
    ax.plot(
        [0, top],
        [0, top],
        color="#505a5f",
        linestyle="--",
        linewidth=1,
        label="perfect calibration",
    )
    ax.errorbar(
        x, y, yerr=err, fmt="o", color="#1d70b8", capsize=3, label="observed (95% interval)"
    )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("observed outcome rate")
    ax.set_title("Calibration on the pooled test dates")
    ax.legend(loc="upper left", fontsize=8)
    _save(fig, out_dir / name)
    worst = float(np.nanmax(np.abs(y - x))) if len(x) else float("nan")
    return Chart(
        name,
        f"Calibration curve: observed outcome rate against mean predicted probability in "
        f"{len(table)} bins, with 95% intervals and the diagonal of perfect calibration; the "
        f"largest gap between a bin's observed and predicted rate is {worst:.3f}.",
        "Calibration",
        ("bin", "family-dates", "mean predicted", "observed rate (95% interval)"),
        tuple(
            (
                str(r.bin),
                f"{int(r.n):,}",
                f"{r.mean_predicted:.4f}",
                f"{r.observed_rate:.4f} ({r.observed_lower:.4f}-{r.observed_upper:.4f})",
            )
            for r in table.itertuples()
        ),
    )


def review_chart(
    curve: pd.DataFrame, capacity: float, out_dir: Path, *, name: str = "chart_review.png"
) -> Chart:
    """Precision and recall against the number of families reviewed per run, capacity marked."""
    x = curve["families_reviewed_per_run"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    for metric, colour in (("precision", "#1d70b8"), ("recall", "#00703c")):
        ax.plot(x, curve[metric], marker="o", color=colour, label=metric)
        ax.fill_between(x, curve[f"{metric}_lower"], curve[f"{metric}_upper"], color=colour, alpha=0.18,
                        label=f"{metric} 95% interval")  # fmt: skip
    ax.axvline(
        capacity,
        color="#d4351c",
        linestyle="--",
        linewidth=1.2,
        label=f"capacity ({capacity:,.0f} a run)",
    )
    ax.set_xlabel("families reviewed per run")
    ax.set_ylabel("share")
    ax.set_ylim(0, 1)
    ax.set_title("Precision and recall by number of families reviewed")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    _save(fig, out_dir / name)
    at = curve.loc[(curve["multiple_of_capacity"] - 1.0).abs().idxmin()]
    return Chart(
        name,
        f"Precision and recall (with 95% bootstrap bands) if each run reviewed from "
        f"{x.min():,.0f} to {x.max():,.0f} families; at capacity ({capacity:,.0f} a run) "
        f"precision is {at['precision']:.3f} and recall {at['recall']:.3f}. Reviewing more "
        "families raises recall and lowers precision.",
        "Families reviewed",
        (
            "families reviewed per run",
            "x capacity",
            "precision (95% interval)",
            "recall (95% interval)",
        ),
        tuple(
            (
                f"{r.families_reviewed_per_run:,.0f}",
                f"{r.multiple_of_capacity:g}",
                f"{r.precision:.3f} ({r.precision_lower:.3f}-{r.precision_upper:.3f})",
                f"{r.recall:.3f} ({r.recall_lower:.3f}-{r.recall_upper:.3f})",
            )
            for r in curve.itertuples()
        ),
    )


def fairness_charts(
    decisions: pd.DataFrame,
    band: tuple[float, float],
    out_dir: Path,
    *,
    prefix: str = "chart_fairness",
) -> list[Chart]:
    """Per metric: each group's ratio to the rest with its 90% interval, the tolerance band
    shaded. Groups without a finite ratio (not assessable) are left out of the picture and
    stay in the table."""
    charts: list[Chart] = []
    if decisions is None or decisions.empty or "ratio" not in decisions.columns:
        return charts
    for metric, part in decisions.groupby("metric", sort=True):
        rows = part.loc[
            np.isfinite(part["ratio"].astype(float)) & (part["ratio"].astype(float) > 0)
        ]
        rows = rows.sort_values(["dimension", "group"])
        if rows.empty:
            continue
        labels = [f"{d}: {g}" for d, g in zip(rows["dimension"], rows["group"], strict=True)]
        ratio = rows["ratio"].astype(float).to_numpy()
        lower = rows["lower_90"].astype(float).fillna(pd.Series(ratio, index=rows.index)).to_numpy()
        upper = rows["upper_90"].astype(float).fillna(pd.Series(ratio, index=rows.index)).to_numpy()
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.32 * len(rows)))
        ax.axvspan(
            band[0], band[1], color="#cce2d8", label=f"tolerance band {band[0]:g}-{band[1]:g}"
        )
        ax.axvline(1.0, color="#505a5f", linewidth=1)
        ypos = np.arange(len(rows))
        colours = [_VERDICT_COLOURS.get(str(v), "#505a5f") for v in rows["verdict"]]
        ax.errorbar(ratio, ypos, xerr=np.vstack([ratio - lower, upper - ratio]), fmt="none",
                    ecolor="#505a5f", capsize=2, linewidth=1)  # fmt: skip
        ax.scatter(ratio, ypos, c=colours, zorder=3, s=22)
        ax.set_yticks(ypos, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        lo = min(band[0], float(np.nanmin(lower))) * 0.8
        hi = max(band[1], float(np.nanmax(upper))) * 1.25
        ax.set_xlim(max(lo, 0.05), min(hi, 20))
        left, right = ax.get_xlim()
        ax.set_xticks([t for t in (0.1, 0.25, 0.5, 0.8, 1, 1.25, 2, 4, 10) if left <= t <= right])
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"{_METRIC_LABELS.get(str(metric), str(metric))} (log scale, 90% interval)")
        ax.set_title(f"Fairness: {_METRIC_LABELS.get(str(metric), str(metric))}", fontsize=10)
        handles = [Patch(color="#cce2d8", label=f"tolerance band {band[0]:g}-{band[1]:g}")] + [
            Line2D([], [], marker="o", linestyle="", color=c, label=v)
            for v, c in {**_VERDICT_COLOURS, "not assessable": "#505a5f"}.items()
            if v in set(rows["verdict"].astype(str))
        ]
        ax.legend(
            handles=handles,
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.5 / (1 + 0.3 * len(rows))),
            ncol=3,
        )
        name = f"{prefix}_{metric}.png"
        _save(fig, out_dir / name)
        inside = int(((lower >= band[0]) & (upper <= band[1])).sum())
        charts.append(
            Chart(
                name,
                f"Ratio of each group to the rest for {_METRIC_LABELS.get(str(metric), str(metric))}, "
                f"{len(rows)} groups with their 90% intervals against the tolerance band "
                f"{band[0]:g}-{band[1]:g}; {inside} of them lie wholly inside the band. Verdicts "
                "by colour: green pass, red fail, orange inconclusive, blue inconclusive and "
                "signed off. The numbers are in the table below.",
                _METRIC_LABELS.get(str(metric), str(metric)),
                ("characteristic", "group", "ratio to rest", "90% interval", "verdict"),
                tuple(
                    (str(d), str(g), f"{r:.2f}", f"{lo:.2f}-{hi:.2f}", str(v))
                    for d, g, r, lo, hi, v in zip(
                        rows["dimension"],
                        rows["group"],
                        ratio,
                        lower,
                        upper,
                        rows["verdict"],
                        strict=True,
                    )
                ),
            )
        )
    return charts
