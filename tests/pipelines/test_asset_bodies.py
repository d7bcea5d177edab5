"""Asset bodies stay thin (issue 15): read declared inputs, call one domain function, write
outputs. What an asset reports (metadata, check results) is built by functions beside it, and
the domain work lives in the domain packages or pipelines' foundation modules."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# "about 30 lines at most" (issue 15); the longest today is train_and_gate_model (33)
MAX_BODY_LINES = 35


def body_lines(function: ast.FunctionDef) -> int:
    """Lines of a function's body, its docstring left out."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def asset_bodies(source: str) -> dict[str, int]:
    """Body length of every function decorated as an asset, multi-asset or asset check."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(
            "asset" in ast.unparse(d) for d in node.decorator_list
        ):
            found[node.name] = body_lines(node)
    return found


def test_every_asset_body_is_short() -> None:
    lengths = {
        f"{path.name}:{name}": n
        for path in sorted((REPO / "pipelines").rglob("*.py"))
        for name, n in asset_bodies(path.read_text(encoding="utf-8")).items()
    }
    assert len(lengths) >= 15  # the scan sees the code location's assets
    too_long = {k: n for k, n in lengths.items() if n > MAX_BODY_LINES}
    assert too_long == {}, "build results in a helper beside the asset, domain work below"


def test_the_scan_measures_a_long_asset() -> None:
    lines = "\n".join(f"    x{i} = {i}" for i in range(MAX_BODY_LINES + 1))
    source = f'@dg.asset\ndef long():\n    """doc"""\n{lines}\n\ndef helper():\n{lines}\n'
    assert asset_bodies(source) == {"long": MAX_BODY_LINES + 1}
