"""Static monitoring charts: PNG files with alt text, each beside the table of its numbers.

Drawn with matplotlib's object-oriented API on the Agg canvas (no display, no network, no
JavaScript), so the monitoring page reads the same offline, in the portal and printed. Every
chart carries a sentence of alt text saying what it shows, and the page prints the numbers it
plots in a table next to it: a chart is never the only place a figure appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from safeguard.monitoring.performance import ESTIMATED, REALISED

_LABELS = {
    "precision_at_capacity": "Precision at capacity",
    "recall_at_capacity": "Recall at capacity",
    "observed_over_expected": "Observed / expected outcomes",
}


@dataclass(frozen=True)
class Chart:
    """One chart on disk: its file, its alt text and the numbers it plots."""

    path: Path
    title: str
    alt: str
    table: pd.DataFrame


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})


def _month_axis(ax, months: list[pd.Timestamp]) -> None:
    ax.set_xticks(range(len(months)))
    step = max(1, len(months) // 12)
    ax.set_xticklabels([m.strftime("%Y-%m") if i % step == 0 else "" for i, m in enumerate(months)],
                       rotation=45, ha="right", fontsize=8)  # fmt: skip
    ax.set_xlabel("as-of month scored")


def performance_chart(performance: pd.DataFrame, metric: str, out_dir: Path) -> Chart | None:
    """Realised (points, 95% interval) and estimated (line, band) against the promise."""
    rows = performance.loc[performance["metric"] == metric]
    if rows.empty:
        return None
    months = sorted(pd.Timestamp(d) for d in rows["as_of_date"].unique())
    pos = {m: i for i, m in enumerate(months)}
    label = _LABELS.get(metric, metric)
    figure = Figure(figsize=(8, 3.6))
    ax = figure.add_subplot()
    promised = rows[["promised", "promised_lower", "promised_upper"]].dropna().head(1)
    if len(promised):
        p = promised.iloc[0]
        ax.axhspan(
            p["promised_lower"],
            p["promised_upper"],
            color="#cfe3f5",
            label="promised (95% interval)",
        )
        ax.axhline(p["promised"], color="#1f5f99", linewidth=1)
    est = rows.loc[rows["kind"] == ESTIMATED].sort_values("as_of_date")
    if len(est):
        x = [pos[pd.Timestamp(d)] for d in est["as_of_date"]]
        ax.fill_between(x, est["lower"], est["upper"], color="#f3d9b1", alpha=0.7)
        ax.plot(
            x,
            est["value"],
            color="#b35900",
            linestyle="--",
            label="estimated before outcomes (CBPE)",
        )
    real = rows.loc[rows["kind"] == REALISED].sort_values("as_of_date")
    if len(real):
        x = [pos[pd.Timestamp(d)] for d in real["as_of_date"]]
        err = np.vstack([real["value"] - real["lower"], real["upper"] - real["value"]]).clip(min=0)
        ax.errorbar(x, real["value"], yerr=err, fmt="o", color="#111111", capsize=2,
                    label="realised (95% interval)")  # fmt: skip
    _month_axis(ax, months)
    ax.set_ylabel(label)
    ax.set_title(f"{label}: realised and estimated against the model card's promise", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    path = out_dir / f"monitoring_{metric}.png"
    _save(figure, path)
    below = real.loc[real["status"] == "below promise"]
    alt = (f"{label} for {len(months)} scored months ({months[0]:%Y-%m} to {months[-1]:%Y-%m}): "
           f"{len(real)} months with complete outcomes, {len(below)} of them below the promised "
           f"interval; dashed line: the estimate from the probabilities for every month.")  # fmt: skip
    table = rows[["as_of_date", "kind", "value", "lower", "upper", "promised", "promised_lower",
                  "promised_upper", "status"]].sort_values(["as_of_date", "kind"])  # fmt: skip
    return Chart(path, f"{label} by month", alt, table)


def fairness_chart(
    fairness: pd.DataFrame, out_dir: Path, band: tuple[float, float]
) -> Chart | None:
    """Each group's recall ratio in the latest window, with its 95% interval and the band."""
    if fairness.empty:
        return None
    latest = fairness["window_end"].max()
    rows = fairness.loc[(fairness["window_end"] == latest) & (fairness["metric"] == "recall_ratio")
                        & np.isfinite(fairness["ratio"].astype(float))]  # fmt: skip
    if rows.empty:
        return None
    rows = rows.sort_values(["dimension", "group"]).reset_index(drop=True)
    labels = [f"{r.dimension} = {r.group}" for r in rows.itertuples()]
    figure = Figure(figsize=(8, 0.3 * len(rows) + 1.2))
    ax = figure.add_subplot()
    ax.axvspan(band[0], band[1], color="#d8eed8", label=f"band {band[0]:g}-{band[1]:g}")
    ax.axvline(1.0, color="#2b6e2b", linewidth=1)
    y = np.arange(len(rows))
    lo = (rows["ratio"] - rows["lower_95"]).clip(lower=0).fillna(0)
    hi = (rows["upper_95"] - rows["ratio"]).clip(lower=0).fillna(0)
    colours = ["#b30000" if v == "fail" else "#111111" for v in rows["verdict"]]
    ax.errorbar(rows["ratio"], y, xerr=np.vstack([lo, hi]), fmt="none", ecolor="#777777", capsize=2)
    ax.scatter(rows["ratio"], y, c=colours, zorder=3)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xscale("log")
    ticks = [
        t
        for t in (0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0)
        if t >= ax.get_xlim()[0] and t <= ax.get_xlim()[1]
    ]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("realised recall ratio to the rest (log scale)")
    ax.set_title(f"Recall ratio by group, {int(rows['n_months'].iloc[0]) if 'n_months' in rows else ''} "
                 f"complete months to {pd.Timestamp(latest):%Y-%m}", fontsize=10)  # fmt: skip
    ax.legend(fontsize=7, loc="lower right")
    path = out_dir / "monitoring_fairness_recall.png"
    _save(figure, path)
    fails = int((rows["verdict"] == "fail").sum())
    alt = (f"Realised recall ratio of {len(rows)} groups to the rest in the window ending "
           f"{pd.Timestamp(latest):%Y-%m}, with 95% intervals against the band "
           f"{band[0]:g}-{band[1]:g}; {fails} established outside it.")  # fmt: skip
    table = rows[["dimension", "group", "ratio", "lower_95", "upper_95", "verdict"]]
    return Chart(path, "Recall ratio by group (latest window)", alt, table)


def drift_chart(
    drift: pd.DataFrame, out_dir: Path, band: tuple[float, float], psi_severe: float
) -> Chart | None:
    """Recording volume per agency (ratio to the training window) and the largest PSI."""
    vol = drift.loc[drift["kind"] == "source_volume"]
    psi = drift.loc[drift["kind"].isin(["feature", "score"])]
    if vol.empty and psi.empty:
        return None
    months = sorted(pd.Timestamp(d) for d in drift["as_of_date"].unique())
    pos = {m: i for i, m in enumerate(months)}
    figure = Figure(figsize=(8, 5.2))
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.axhspan(band[0], band[1], color="#eeeeee", label=f"band {band[0]:g}-{band[1]:g}")
    for source, part in vol.groupby("name"):
        part = part.sort_values("as_of_date")
        top.plot(
            [pos[pd.Timestamp(d)] for d in part["as_of_date"]],
            part["drift"],
            marker=".",
            label=str(source),
        )
    top.set_ylabel("events / training window")
    top.set_title(
        "Recording volume per agency and distribution shift against the training window",
        fontsize=10,
    )
    top.legend(fontsize=7, ncol=3)
    summary = psi.groupby(["as_of_date", "kind"])["drift"].max().unstack("kind").sort_index()
    for kind, style in (("feature", "-"), ("score", "--")):
        if kind in summary:
            bottom.plot([pos[pd.Timestamp(d)] for d in summary.index], summary[kind], style, marker=".",
                        label="largest feature PSI" if kind == "feature" else "score PSI")  # fmt: skip
    bottom.axhline(psi_severe, color="#b30000", linewidth=1, label=f"severe ({psi_severe:g})")
    bottom.set_ylabel("PSI")
    bottom.legend(fontsize=7)
    _month_axis(bottom, months)
    path = out_dir / "monitoring_drift.png"
    _save(figure, path)
    severe_months = sorted(
        {pd.Timestamp(d) for d in drift.loc[drift["severity"] == "severe", "as_of_date"]}
    )
    alt = (f"Recording volume of each agency relative to the training window, and the largest "
           f"feature PSI and the score PSI, for {len(months)} months; severe drift in "
           f"{len(severe_months)} of them.")  # fmt: skip
    table = vol.pivot_table(index="as_of_date", columns="name", values="drift").round(2)
    if len(summary):
        table = table.join(summary.round(3).rename(columns=lambda c: f"max {c} PSI"), how="outer")
    return Chart(path, "Recording volume and drift by month", alt, table.reset_index())


def override_chart(overrides: pd.DataFrame, out_dir: Path) -> Chart | None:
    """Share of each judgement by month (stacked bars)."""
    rows = overrides.loc[overrides["view"] == "by_month"]
    if rows.empty:
        return None
    table = rows.pivot_table(
        index="month", columns="decision", values="judgements", aggfunc="sum"
    ).fillna(0)
    figure = Figure(figsize=(8, 3.2))
    ax = figure.add_subplot()
    bottom = np.zeros(len(table))
    x = np.arange(len(table))
    for decision in table.columns:
        ax.bar(x, table[decision], bottom=bottom, label=str(decision))
        bottom += table[decision].to_numpy()
    ax.set_xticks(x)
    ax.set_xticklabels(
        [pd.Timestamp(m).strftime("%Y-%m") for m in table.index],
        rotation=45,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel("judgements")
    ax.set_title("Practitioners' judgements by month", fontsize=10)
    ax.legend(fontsize=7)
    path = out_dir / "monitoring_overrides.png"
    _save(figure, path)
    alt = (f"Practitioners' judgements of flags by month over {len(table)} months, "
           f"{int(table.to_numpy().sum())} in all, stacked by decision.")  # fmt: skip
    return Chart(path, "Judgements by month", alt, table.reset_index())
