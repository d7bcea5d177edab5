"""Owner-only data directories: new files 0600 through the umask, old ones tightened on start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb

from safeguard.dpia.private_files import make_private, secure_data_dir

REPO = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _loose_tree(root: Path) -> list[Path]:
    (root / "artefacts" / "case_packs").mkdir(parents=True)
    files = [root / "warehouse.duckdb", root / "artefacts" / "case_packs" / "W01.html"]
    for path in files:
        path.write_text("personal")
    for path in [root, root / "artefacts", root / "artefacts" / "case_packs", *files]:
        os.chmod(path, 0o777 if path.is_dir() else 0o644)
    return files


def test_existing_world_readable_files_are_tightened(tmp_path: Path) -> None:
    root = tmp_path / "data"
    files = _loose_tree(root)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    (root / "link").symlink_to(outside)
    assert make_private(root) == 5
    assert all(_mode(p) == 0o600 for p in files)
    assert all(_mode(p) == 0o700 for p in (root, root / "artefacts"))
    assert _mode(outside) == 0o644  # a link's target outside the data dir is left alone
    assert make_private(root) == 0


def test_secure_data_dir_makes_new_files_and_duckdb_wal_owner_only(tmp_path: Path) -> None:
    # A child process, so the test runner's own umask is not changed.
    script = (
        "import sys, duckdb; from pathlib import Path; from safeguard.dpia.private_files import secure_data_dir;"
        "root = Path(sys.argv[1]); secure_data_dir(root, create=True);"
        "(root / 'reports').mkdir(); (root / 'reports' / 'pack.html').write_text('x');"
        "con = duckdb.connect(str(root / 'warehouse.duckdb'));"
        "con.execute('CREATE TABLE t AS SELECT 1 AS a'); con.execute('INSERT INTO t VALUES (2)');"
        "import shutil; shutil.copy(root / 'warehouse.duckdb.wal', root / 'wal-copy')"
    )
    root = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-c", script, str(root)], check=True, env=env, umask=0o022, cwd=REPO
    )
    made = [p for p in root.rglob("*")] + [root]
    assert {p.name for p in made} >= {"warehouse.duckdb", "wal-copy", "pack.html", "reports"}
    loose = {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in made if _mode(p) & 0o077}
    assert not loose


def test_secure_data_dir_tightens_what_an_older_version_left(tmp_path: Path) -> None:
    root = tmp_path / "data"
    files = _loose_tree(root)
    previous = os.umask(0o022)
    try:
        assert secure_data_dir(root) == 5
        duckdb.connect(str(root / "new.duckdb")).close()
    finally:
        os.umask(previous)
    assert _mode(root / "new.duckdb") == 0o600
    assert all(_mode(p) == 0o600 for p in files)
