"""A SHAP waterfall drawn as plain SVG: one per flagged family, in its case pack.

The chart follows ``shap.plots.waterfall``'s grammar (a row per reason, largest first, each an
arrow from the running total, red where it raises the indicator and blue where it lowers it,
from the typical family's value E[f(X)] at the bottom to this family's f(x) at the top) on the
calibrated scale the reasons use (percentage points). It is written directly as SVG rather than
through matplotlib because a case pack holds one per flag: ``shap.plots.waterfall`` plus an SVG
save costs 0.1-0.4 CPU seconds a figure (text layout and mathtext parsing), which at five-council
scale (2,455 flags) was 540 of a 930-second run; this costs about a millisecond and gives the
same bytes for the same numbers. The global summary still comes from ``shap.plots.beeswarm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# shap's own colours for positive and negative contributions
RAISE, LOWER = "#ff0051", "#008bfb"
_WIDTH, _LABEL_W, _ROW, _TOP, _AXIS = 720, 300, 26, 34, 44


def _fmt(value: float) -> str:
    """Signed points with a true minus sign, as shap labels them."""
    return f"{value:+.2f}".replace("-", "\u2212")


def waterfall_svg(names: Sequence[str], points: Sequence[float], base: float, *, alt: str) -> str:
    """SVG of a waterfall from ``base`` through each ``points`` step (percentage points).

    ``names[i]`` labels step ``i``; steps are drawn in the order given, the first at the top.
    The axis spans every running total with a margin, so no bar is clipped.
    """
    if len(names) != len(points):
        raise ValueError(f"{len(names)} names for {len(points)} steps")
    n = len(points)
    # running totals, bottom (base) to top: the last step listed is applied first, as shap does
    starts, total = [0.0] * n, base
    for i in range(n - 1, -1, -1):
        starts[i] = total
        total += points[i]
    final = total
    lo = min([base, final, *starts, *(s + p for s, p in zip(starts, points, strict=True))])
    hi = max([base, final, *starts, *(s + p for s, p in zip(starts, points, strict=True))])
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.2 * span, hi + 0.2 * span
    plot_w = _WIDTH - _LABEL_W - 20

    def x(value: float) -> float:
        return round(_LABEL_W + (value - lo) / (hi - lo) * plot_w, 2)

    def anchor(at: float) -> str:
        """Keep a centred label inside the picture near either edge."""
        return "end" if at > _WIDTH - 130 else "start" if at < _LABEL_W + 60 else "middle"

    height = _TOP + n * _ROW + _AXIS
    parts = [
        f'<svg role="img" aria-label="{escape(alt)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{x(final)}" y="16" text-anchor="{anchor(x(final))}" fill="#333">'
        f"f(x) = {final:.1f}% this family</text>",
        f'<line x1="{x(final)}" y1="20" x2="{x(final)}" y2="{_TOP + n * _ROW}" '
        'stroke="#bbb" stroke-dasharray="3,3"/>',
    ]
    for i, (name, step, start) in enumerate(zip(names, points, starts, strict=True)):
        y = _TOP + i * _ROW
        a, b = x(start), x(start + step)
        left, right = min(a, b), max(a, b)
        colour = RAISE if step >= 0 else LOWER
        tip = min(6.0, right - left)
        if step >= 0:
            shape = f"{left},{y + 4} {right - tip},{y + 4} {right},{y + 13} {right - tip},{y + 22} {left},{y + 22}"
        else:
            shape = f"{right},{y + 4} {left + tip},{y + 4} {left},{y + 13} {left + tip},{y + 22} {right},{y + 22}"
        label_x, side = (right + 4, "start") if step >= 0 else (left - 4, "end")
        parts += [
            f'<text x="{_LABEL_W - 8}" y="{y + 17}" text-anchor="end" fill="#333">{escape(name)}</text>',
            f'<polygon points="{shape}" fill="{colour}"><title>{escape(name)}: {_fmt(step)} points</title></polygon>',
            f'<text x="{round(label_x, 2)}" y="{y + 17}" text-anchor="{side}" fill="{colour}">{_fmt(step)}</text>',
        ]
    axis_y = _TOP + n * _ROW + 6
    parts += [
        f'<line x1="{_LABEL_W}" y1="{axis_y}" x2="{_LABEL_W + plot_w}" y2="{axis_y}" stroke="#333"/>',
        f'<line x1="{x(base)}" y1="{_TOP}" x2="{x(base)}" y2="{axis_y}" stroke="#bbb" stroke-dasharray="3,3"/>',
        f'<text x="{x(base)}" y="{axis_y + 16}" text-anchor="{anchor(x(base))}" fill="#333">'
        f"E[f(X)] = {base:.1f}% typical family</text>",
        f'<text x="{_LABEL_W + plot_w}" y="{axis_y + 32}" text-anchor="end" fill="#666">'
        "percentage points, calibrated scale</text>",
        "</svg>",
    ]
    return "\n".join(parts)
