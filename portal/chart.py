"""Geometry of the SHAP bar chart, drawn as inline SVG by the family page (no JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass

from safeguard.portal.warehouse import Reason

WIDTH = 720
LABEL_EDGE = 300  # labels end here (right-aligned)
AXIS_X = 510  # zero line: raised bars go right, lowered bars go left
HALF_SPAN = 150  # pixels for the largest contribution (leaves room for its label)
ROW = 34
TOP = 30
MAX_LABEL = 42


@dataclass(frozen=True)
class Bar:
    label: str
    direction: str
    x: float
    y: float
    width: float
    value_x: float
    value_anchor: str
    value_text: str


@dataclass(frozen=True)
class ShapChart:
    width: int
    height: int
    axis_x: int
    bars: tuple[Bar, ...]
    remainder: float | None  # baseline plus smaller factors, so the total matches the probability


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


def shap_chart(probability: float | None, reasons: list[Reason]) -> ShapChart:
    """Lay out one bar per reason, scaled to the largest contribution.

    Contributions are in probability points and, with the baseline, add up to the calibrated
    probability; what the shown reasons do not cover is reported as the remainder.
    """
    largest = max((abs(r.contribution) for r in reasons), default=0.0) or 1.0
    bars = []
    for i, reason in enumerate(reasons):
        width = abs(reason.contribution) / largest * HALF_SPAN
        raised = reason.contribution >= 0
        x = AXIS_X if raised else AXIS_X - width
        sign = "+" if raised else "−"
        bars.append(
            Bar(
                label=_short(reason.label or reason.feature.replace("_", " ")),
                direction="raised" if raised else "lowered",
                x=round(x, 1),
                y=TOP + i * ROW,
                width=round(max(width, 1.0), 1),
                value_x=round(x + width + 6 if raised else x - 6, 1),
                value_anchor="start" if raised else "end",
                value_text=f"{sign}{100 * abs(reason.contribution):.1f}",
            )
        )
    remainder = None
    if probability is not None:
        remainder = probability - sum(r.contribution for r in reasons)
    return ShapChart(
        width=WIDTH,
        height=TOP + ROW * len(reasons) + 10,
        axis_x=AXIS_X,
        bars=tuple(bars),
        remainder=remainder,
    )
