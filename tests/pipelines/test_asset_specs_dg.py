"""The `dg` command line works on this project: it lists the definitions, and an asset scaffolded
with `dg scaffold defs` joins the code location, refused until the DPIA register has a record."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).with_name("dg")

pytestmark = pytest.mark.skipif(not DG.exists(), reason="dagster-dg-cli is not installed")


def _run(args: list[str], cwd: Path, pythonpath: list[Path], data: Path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath),
        "SAFEGUARD_DATA_DIR": str(data),
        "DAGSTER_HOME": str(data / "dagster_home"),
    }
    (data / "dagster_home").mkdir(parents=True, exist_ok=True)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_dg_lists_the_code_location(tmp_path: Path) -> None:
    result = _run([str(DG), "list", "defs", "--json"], REPO, [REPO], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    listed = json.loads(result.stdout[result.stdout.index("{") :])
    keys = {asset["asset_key"] for asset in listed["assets"]}
    assert {"family_features", "flags", "review_pack"} <= keys


def test_a_scaffolded_asset_joins_the_location_and_needs_a_dpia_record(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        REPO / "pipelines", project / "pipelines", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", project / "pyproject.toml")
    for package in REPO.glob("*/__init__.py"):  # every other package (safeguard too) from the repo
        if package.parent.name != "pipelines":
            (project / package.parent.name).symlink_to(package.parent, target_is_directory=True)
    paths = [project]  # a checkout: safeguard.pipelines is the copy
    result = _run(
        [str(DG), "scaffold", "defs", "dagster.asset", "probe.py"], project, paths, tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (project / "pipelines" / "defs" / "probe.py").exists()
    script = tmp_path / "load.py"  # a file, not -c: a dependency exits early under -c
    script.write_text(
        "from safeguard.pipelines.definitions import build_definitions\n"
        "build_definitions(data_dir='d', landing_dir='.')\n"
    )
    loaded = _run([sys.executable, str(script)], tmp_path, paths, tmp_path)
    assert loaded.returncode != 0
    assert "asset 'probe' has no record in the DPIA register" in loaded.stderr
