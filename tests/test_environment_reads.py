"""Environment variables are read through the one settings model (safeguard/settings.py).

Every ``os.environ`` / ``os.getenv`` read in the packages is found with ``ast``. The command
line (``safeguard/``) owns the settings model and the process environment. Elsewhere the reads
that remain are listed with why: the list must match exactly, so it can only shrink
(docs/DESIGN.md, "Settings").
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = (
    "dpia", "contracts", "warehouse", "ingest", "linkage", "expectations", "features", "models", "flags",
    "monitoring", "governance", "portal", "synth", "pipelines",
)  # fmt: skip
# file -> environment reads left, each with its reason
KNOWN_READS = Counter({
    # test-only fault injection, deliberately outside the settings model (OTHER_KNOWN_VARIABLES)
    "warehouse/faults.py": 1,
})  # fmt: skip


def environment_reads(path: Path) -> int:
    """How many times ``path`` reads the environment (writes such as ``os.environ[k] = v`` not)."""
    count = 0
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            count += name in {"os.getenv", "os.environ.get", "environ.get", "getenv"}
            count += name in {"dict", "os.environ.copy"} and "os.environ" in ast.unparse(node)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            count += ast.unparse(node.value) in {"os.environ", "environ"}
    return count


def test_only_the_settings_model_reads_the_environment() -> None:
    found = Counter({
        path.relative_to(REPO).as_posix(): n
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if (n := environment_reads(path))
    })  # fmt: skip
    assert found == KNOWN_READS, "read settings through safeguard/settings.py (or shrink the list)"


def test_the_scan_counts_reads_and_not_writes(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\nA = os.environ.get('X')\nB = os.getenv('Y')\nC = os.environ['Z']\n"
        "D = dict(os.environ)\nos.environ['W'] = '1'\n"
    )
    assert environment_reads(probe) == 4
