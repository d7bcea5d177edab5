"""The case pack's SHAP waterfall, drawn as SVG: the arithmetic and the safety of its text."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safeguard.flags.waterfall import LOWER, RAISE, waterfall_svg

NS = {"s": "http://www.w3.org/2000/svg"}


def _bars(svg: str) -> list[tuple[float, float, str]]:
    """(left x, right x, colour) of each arrow, top row first."""
    root = ET.fromstring(svg)
    bars = []
    for polygon in root.iterfind("s:polygon", NS):
        xs = [float(p.split(",")[0]) for p in polygon.get("points", "").split()]
        bars.append((min(xs), max(xs), polygon.get("fill", "")))
    return bars


def _line_x(svg: str, label: str) -> float:
    """x of the dashed line drawn at the value the label names."""
    root = ET.fromstring(svg)
    texts = [t for t in root.iterfind("s:text", NS) if label in (t.text or "")]
    assert len(texts) == 1, label
    return float(texts[0].get("x", "nan"))


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(
        st.floats(min_value=-40, max_value=40, allow_nan=False).filter(lambda v: abs(v) > 0.01),
        min_size=1,
        max_size=8,
    ),
    base=st.floats(min_value=0.1, max_value=30),
)
def test_arrows_chain_from_the_typical_family_to_this_family(points: list[float], base: float):
    names = [f"reason {i}" for i in range(len(points))]
    svg = waterfall_svg(names, points, base, alt="SHAP waterfall")
    bars = _bars(svg)
    assert len(bars) == len(points)
    # each arrow's colour says which way it moves the indicator
    assert [c for _, _, c in bars] == [RAISE if p >= 0 else LOWER for p in points]
    # the bottom arrow starts at E[f(X)], each arrow starts where the one below it ended,
    # and the top arrow ends at f(x) = base + every step
    x_base, x_final = _line_x(svg, "E[f(X)]"), _line_x(svg, "f(x)")
    ends = [
        (left, right) if p >= 0 else (right, left)
        for (left, right, _), p in zip(bars, points, strict=True)
    ]
    assert ends[-1][0] == pytest.approx(x_base, abs=0.02)
    for (above_start, _), (_, below_end) in itertools.pairwise(ends):
        assert above_start == pytest.approx(below_end, abs=0.02)
    assert ends[0][1] == pytest.approx(x_final, abs=0.02)
    assert f"f(x) = {base + sum(points):.1f}%" in svg
    # every arrow stays inside the drawing
    width = float(ET.fromstring(svg).get("width", "0"))
    assert all(0 <= left <= right <= width for left, right, _ in bars)


def test_labels_are_signed_points_and_text_is_escaped() -> None:
    svg = waterfall_svg(["<script>alert(1)</script> & co", "All other factors"], [3.25, -1.5], 2.0,
                        alt='say "hi" <b>')  # fmt: skip
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="say &quot;hi&quot; &lt;b&gt;"' in svg
    values = re.findall(r">([+\u2212][0-9.]+)</text>", svg)
    assert values == ["+3.25", "\u22121.50"]
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_same_numbers_give_the_same_bytes_and_mismatched_inputs_are_refused() -> None:
    a = waterfall_svg(["a", "b"], [1.0, 2.0], 5.0, alt="x")
    assert a == waterfall_svg(["a", "b"], [1.0, 2.0], 5.0, alt="x")
    with pytest.raises(ValueError, match="2 names for 1 steps"):
        waterfall_svg(["a", "b"], [1.0], 5.0, alt="x")
