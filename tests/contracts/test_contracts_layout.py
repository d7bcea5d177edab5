"""The data-directory layout is named once (contracts/layout.py) and used everywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from safeguard.contracts import layout
from safeguard.contracts.layout import DataDir

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "dpia", "ingest", "linkage", "expectations", "features", "models", "monitoring",
    "governance", "portal", "pipelines", "safeguard", "synth",
)  # fmt: skip
# file names that only contracts/layout.py may write (dpia names its own key and audit trail)
PINNED = {
    layout.WAREHOUSE_FILE: (), layout.VAULT_FILE: (), layout.PORTAL_FILE: (), layout.LEGACY_PORTAL_FILE: (),
    layout.SERVING_DIR: (), layout.STAGING_DIR: (), "safeguard.log": (),
    "audit.jsonl": ("dpia",), layout.KEY_FILE: ("dpia",), layout.KEY_ROTATION_DIR: ("dpia",),
}  # fmt: skip


def literal_uses(path: Path) -> set[str]:
    """The pinned names written as a string literal in ``path`` (docstrings never equal one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in PINNED
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_writes_a_data_dir_file_name_itself(package: str) -> None:
    found = {
        (path.relative_to(REPO).as_posix(), name)
        for path in sorted((REPO / package).rglob("*.py"))
        for name in literal_uses(path)
        if package not in PINNED[name]
    }
    assert found == set(), "take data-directory names from safeguard.contracts.layout"


def test_the_scan_finds_a_literal(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        '"""vault.duckdb in a docstring."""\nPATH = "dir" + "/" + "warehouse.duckdb"\n'
    )
    assert literal_uses(probe) == {"warehouse.duckdb"}


def test_layout_agrees_with_the_names_dpia_uses() -> None:
    from safeguard.dpia.audit import AUDIT_RELATIVE_PATH
    from safeguard.dpia.pseudonymise import KEY_FILE_NAME, ROTATION_DIR_NAME

    assert layout.AUDIT_LOG == AUDIT_RELATIVE_PATH
    assert layout.KEY_FILE == KEY_FILE_NAME
    assert layout.KEY_ROTATION_DIR == ROTATION_DIR_NAME


def test_data_dir_paths(tmp_path: Path) -> None:
    data = DataDir(str(tmp_path))  # a string is accepted and kept as a Path
    assert data.root == tmp_path
    assert data.warehouse == tmp_path / "warehouse.duckdb"
    assert data.vault == tmp_path / "vault.duckdb"
    assert data.portal_db == tmp_path / "portal.sqlite"
    assert data.legacy_portal_db == tmp_path / "portal.duckdb"
    assert data.audit_log == tmp_path / "audit" / "audit.jsonl"
    assert data.artefact("model", "charts.json") == tmp_path / "artefacts" / "model" / "charts.json"
    assert data.linkage_model == tmp_path / "artefacts" / "linkage" / "linkage_model.json"
    assert data.run_log == tmp_path / "logs" / "safeguard.log"
    assert {data.reports, data.serving, data.dagster_home, data.data_docs, data.staging} == {
        tmp_path / n for n in ("reports", "serving", "dagster_home", "data_docs", ".staging")
    }


def test_layout_imports_nothing_of_ours() -> None:
    tree = ast.parse((REPO / "contracts" / "layout.py").read_text(encoding="utf-8"))
    roots = {
        (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0
    }
    assert roots <= {"__future__", "dataclasses", "pathlib"}, roots
