"""Layout rules from ARCHITECTURE.md: generic package names resolve here; only pipelines imports dagster."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = [
    "safeguard", "dpia", "contracts", "ingest", "linkage", "features", "expectations",
    "models", "flags", "portal", "synth", "pipelines", "governance", "monitoring",
]  # fmt: skip
FRAMEWORK_FREE = [
    "dpia",
    "contracts",
    "ingest",
    "linkage",
    "features",
    "expectations",
    "models",
    "flags",
    "synth",
    "portal",
    "governance",
    "monitoring",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_generic_package_names_resolve_to_this_repo(name: str) -> None:
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(REPO / name), module.__file__


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", FRAMEWORK_FREE)
def test_domain_packages_never_import_dagster(package: str) -> None:
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / package).rglob("*.py")
        if _imported_roots(p) & {"dagster", "dagster_duckdb", "dagster_webserver", "pipelines"}
    ]
    assert not offenders, f"only pipelines/ may import dagster: {offenders}"


def test_synth_imports_nothing_of_ours() -> None:
    ours = set(PACKAGES)
    offenders = {
        str(p.relative_to(REPO)): sorted(_imported_roots(p) & ours - {"synth"})
        for p in (REPO / "synth").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}, "synth must be an independent producer"


def test_scan_detects_a_dagster_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from dagster import asset\nimport os\n")
    assert "dagster" in _imported_roots(probe)
