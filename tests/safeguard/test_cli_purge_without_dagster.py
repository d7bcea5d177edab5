"""``safeguard purge`` is an admin command: it must work where dagster cannot even be imported.

The command runs in a fresh interpreter whose import system refuses ``dagster`` (and every
``dagster*`` distribution), so any import of it on the purge path, however deep, fails the
command; the interpreter then reports what it loaded.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]

_RUN_PURGE = """
import importlib.abc, json, sys

class NoDagster(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith("dagster"):
            raise ImportError(f"dagster imported on the admin path: {name}")
        return None

sys.meta_path.insert(0, NoDagster())
from safeguard.cli import app
try:
    app(sys.argv[1:], prog_name="safeguard")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"exit": code, "pipelines": sorted(m for m in sys.modules if m.startswith("safeguard.pipelines"))}))
"""


def _purge(data_dir: Path, *, hook: str = _RUN_PURGE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", hook, "purge", "--data-dir", str(data_dir), "--today", "2026-12-01"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip


def _completed_run(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:  # a run that wrote its ledger
        con.execute("CREATE TABLE row_accounting (source VARCHAR, rows_in BIGINT)")
    return data


def test_purge_runs_without_importing_dagster(tmp_path: Path) -> None:
    result = _purge(_completed_run(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0, result.stdout[-2000:]
    assert "warehouse.duckdb: 0 rows deleted" in result.stdout
    assert "safeguard.pipelines.retention" in report["pipelines"]  # the purge really ran through it
    assert "safeguard.pipelines.operations" not in report["pipelines"]


def test_the_hook_catches_a_dagster_import(tmp_path: Path) -> None:
    # the same interpreter, made to import the Dagster job module first: the hook refuses it
    hook = _RUN_PURGE.replace(
        "from safeguard.cli import app",
        "import safeguard.pipelines.operations\nfrom safeguard.cli import app",
    )
    result = _purge(_completed_run(tmp_path), hook=hook)
    assert result.returncode != 0
    assert "dagster imported on the admin path: dagster" in result.stderr


def test_no_admin_command_imports_dagster() -> None:
    # every module the admin commands import (inside their functions too), in one interpreter
    # that refuses dagster: config, audit, keys, users, sar, purge and portal stay dagster-free
    tree = ast.parse((REPO / "safeguard" / "admin_commands.py").read_text(encoding="utf-8"))
    modules = sorted(
        {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    )
    assert {
        "safeguard.pipelines.retention",
        "safeguard.governance.rekey",
        "safeguard.portal",
    } <= set(modules)
    hook = _RUN_PURGE.split("from safeguard.cli import app")[0] + "".join(
        f"import {m}\n" for m in modules
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", hook], capture_output=True, text=True, env=env, cwd=REPO,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
