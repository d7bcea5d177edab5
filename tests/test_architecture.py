"""Layout rules from ARCHITECTURE.md: every package resolves here under the one ``safeguard`` name;
only pipelines imports dagster."""

from __future__ import annotations

import ast
import importlib
import tomllib
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
def test_every_package_resolves_to_this_repo_under_safeguard(name: str) -> None:
    module = importlib.import_module(name if name == "safeguard" else f"safeguard.{name}")
    assert Path(module.__file__).resolve().is_relative_to(REPO / name), module.__file__


def test_the_distribution_maps_every_package_into_safeguard() -> None:
    """pyproject.toml lists every folder with an __init__.py (tools/namespace.py writes it)."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = sorted(
        p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name != "safeguard"
    )
    assert setuptools["package-dir"] == {f"safeguard.{f}": f for f in folders}
    found = {  # as find_namespace would: data folders (portal/templates) are packages too
        ".".join(("safeguard", *folder.relative_to(REPO / top).parts))
        if top == "safeguard"
        else ".".join(("safeguard", *folder.relative_to(REPO).parts))
        for top in ("safeguard", *folders)
        for folder in [REPO / top, *(REPO / top).rglob("*")]
        if folder.is_dir() and "__pycache__" not in folder.parts
    }
    assert sorted(setuptools["packages"]) == sorted(found)


def _root(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "safeguard" and parts[1:2] and parts[1] in PACKAGES else parts[0]


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {_root(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(_root(node.module))
            if node.module == "safeguard":  # from safeguard import linkage
                roots |= {alias.name for alias in node.names if alias.name in PACKAGES}
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
    probe.write_text("from dagster import asset\nimport os\nfrom safeguard import pipelines\n")
    assert {"dagster", "pipelines"} <= _imported_roots(probe)
