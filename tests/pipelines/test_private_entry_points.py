"""Every entry point makes the data directory owner-only: Dagster definitions, CLI, portal."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _loose_data_dir(root: Path) -> Path:
    data_dir = root / "data"
    (data_dir / "artefacts" / "case_packs").mkdir(parents=True)
    (data_dir / "artefacts" / "case_packs" / "W01.html").write_text("<p>case pack</p>")
    (data_dir / "warehouse.duckdb.wal").write_bytes(b"wal")
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return data_dir


def _loose(data_dir: Path) -> list[str]:
    return [
        f"{p.relative_to(data_dir.parent)} {oct(stat.S_IMODE(p.stat().st_mode))}"
        for p in [data_dir, *data_dir.rglob("*")]
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    ]


def _run(code: str, data_dir: Path, *args: str) -> None:
    """Python in a child process started with umask 022, as a shell would start it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SAFEGUARD_DATA_DIR": str(data_dir)}
    # A script file, not `python -c`: pyspark exits on import when __main__ has no __file__.
    script = data_dir.parent / "entry_point.py"
    script.write_text(code.replace("; ", "\n"))
    subprocess.run(
        [sys.executable, str(script), *args], env=env, cwd=REPO, umask=0o022,
        capture_output=True, check=True,
    )  # fmt: skip


def test_loading_the_dagster_definitions_tightens_and_sets_the_umask(tmp_path: Path) -> None:
    data_dir = _loose_data_dir(tmp_path)
    umask_file = tmp_path / "umask.txt"
    _run(
        "import os, sys, safeguard.pipelines.definitions; mask = os.umask(0); "
        "open(sys.argv[1], 'w').write(oct(mask))",
        data_dir,
        str(umask_file),
    )
    assert umask_file.read_text() == "0o77" and _loose(data_dir) == []


def test_the_portal_tightens_its_data_dir(tmp_path: Path) -> None:
    data_dir = _loose_data_dir(tmp_path)
    _run(
        "import sys; from safeguard.portal import create_app; create_app(sys.argv[1])",
        data_dir,
        str(data_dir),
    )
    assert _loose(data_dir) == []
    assert stat.S_IMODE((data_dir / "portal.sqlite").stat().st_mode) == 0o600


def test_the_cli_tightens_the_data_dir_it_is_given(tmp_path: Path) -> None:
    data_dir = _loose_data_dir(tmp_path)
    _run(
        "import sys; from safeguard.cli import app; "
        "app(['purge', '--data-dir', sys.argv[1]], standalone_mode=False)",
        data_dir,
        str(data_dir),
    )
    assert _loose(data_dir) == []
