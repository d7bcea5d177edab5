"""Owner-only files: everything under a data directory is personal data or leads to it.

Every entry point (the CLI, the Dagster definitions, the portal) calls :func:`secure_data_dir`
before it writes: the process umask becomes 077, so files that DuckDB, Dagster, SQLite or our
own code create later (WAL files included) are 0600 and directories 0700, and files left
world-readable by an older version or a copy are tightened on the spot.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "PRIVATE_UMASK", "make_private", "restrict_umask",
           "secure_data_dir"]  # fmt: skip

PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def restrict_umask() -> int:
    """Make files this process creates from now on owner-only; returns the previous umask.

    The umask is only ever tightened: bits an administrator already masks stay masked.
    """
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)
    return previous


def _private_mode(mode: int) -> int:
    if stat.S_ISDIR(mode):
        return PRIVATE_DIR_MODE
    # A file keeps its owner-execute bit (a script someone put there), never group/other bits.
    return PRIVATE_FILE_MODE | (mode & stat.S_IXUSR)


def make_private(root: Path) -> int:
    """Tighten ``root`` and everything under it to 0700 (directories) / 0600 (files).

    Symbolic links are neither followed nor changed (their target may lie outside).
    Returns how many paths had group or other permissions and were tightened.
    """
    root = Path(root)
    if not root.exists():
        return 0
    tightened = _tighten(root)
    # Top-down: a directory is tightened (and so made listable by its owner) before the walk
    # enters it.
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in (*dirnames, *filenames):
            tightened += _tighten(Path(directory) / name)
    return tightened


def _tighten(path: Path) -> int:
    try:
        info = path.lstat()
    except FileNotFoundError:  # removed meanwhile by its writer (e.g. a checkpointed WAL)
        return 0
    if stat.S_ISLNK(info.st_mode):
        return 0
    wanted = _private_mode(info.st_mode)
    if stat.S_IMODE(info.st_mode) == wanted:
        return 0
    os.chmod(path, wanted)
    return int(bool(info.st_mode & 0o077))


def secure_data_dir(data_dir: Path, *, create: bool = False) -> int:
    """Restrict the umask, then make ``data_dir`` owner-only (created 0700 when ``create``).

    Returns the number of paths that had to be tightened (0 on a clean directory).
    """
    restrict_umask()
    path = Path(data_dir)
    if create:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return make_private(path)
