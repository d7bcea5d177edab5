"""The serving snapshot: what the portal shows, published by the pipeline, never the live warehouse.

At the end of every run the pipeline calls :func:`publish_serving_snapshot`: the tables the portal
reads are copied from ``warehouse.duckdb`` into a new, owner-only file
``DIR/serving/snapshot-<time>-<id>.duckdb``, and the one-line pointer ``DIR/serving/CURRENT`` is
swapped to name it (``os.replace``: a reader sees the old snapshot or the new one, never half of
one). The portal opens only the snapshot the pointer names, so the pipeline's next write to the
warehouse never waits for, or fails on, a portal holding it open.

A run whose gate failed publishes too: the warehouse keeps the last good flags (and records
withdrawals), and the snapshot must follow it. Older snapshots are removed, keeping the previous
one for a portal request still reading it.

A retention purge and a key rotation change the warehouse outside a run: they call
:func:`republish_serving_snapshot`, which publishes afresh and removes *every* older snapshot, so
purged families vanish from the portal at once (and from the bytes under ``serving/``) and the
portal's pseudonyms match the re-keyed warehouse and portal database.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from safeguard.contracts.layout import SERVING_DIR, WAREHOUSE_FILE
from safeguard.portal.db import DataUnavailableError, ManagedDatabase

POINTER = "CURRENT"
#: Table -> rows the portal needs (None: the whole table). Everything here is pseudonymous.
SERVED_TABLES: dict[str, str | None] = {
    "flags": None,
    "flag_explanations": None,
    "flag_withdrawals": None,
    "workers": None,
    "families": "valid_to IS NULL",  # current membership only: the family page shows no history
}


def serving_dir(data_dir: Path) -> Path:
    return Path(data_dir) / SERVING_DIR


def current_snapshot(data_dir: Path) -> Path | None:
    """The published snapshot the pointer names, or None when nothing was published yet."""
    folder = serving_dir(data_dir)
    try:
        name = (folder / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name or "/" in name or not name.endswith(".duckdb"):
        raise DataUnavailableError(f"{folder / POINTER} does not name a snapshot file: {name!r}")
    return folder / name


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_serving_snapshot(data_dir: Path, *, keep_previous: bool = True) -> Path | None:
    """Copy what the portal reads out of the warehouse and point the portal at the copy.

    Parameters
    ----------
    data_dir
        The data directory holding ``warehouse.duckdb``. The caller (the pipeline's runner)
        has closed its own connections to the warehouse.
    keep_previous
        Keep the snapshot the pointer named before, for a portal request still reading it.
        False after a purge or key rotation: what it holds must not outlive the change.

    Returns
    -------
    The new snapshot's path, or None when there is no warehouse yet (nothing to serve).
    """
    data_dir = Path(data_dir)
    warehouse = data_dir / WAREHOUSE_FILE
    if not warehouse.exists():
        return None
    folder = serving_dir(data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"snapshot-{stamp}-{uuid.uuid4().hex[:8]}.duckdb"
    staging = folder / f".staging-{name}"
    # Owner-only before any row is written (the snapshot holds pseudonymous case data).
    os.close(os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    staging.unlink()
    try:
        con = duckdb.connect(str(staging))
        os.chmod(staging, 0o600)
        try:
            con.execute("ATTACH ? AS live (READ_ONLY)", [str(warehouse)])
            present = {
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'live'"
                ).fetchall()
            }
            for table, where in SERVED_TABLES.items():
                if table in present:
                    condition = f" WHERE {where}" if where else ""
                    con.execute(
                        f'CREATE TABLE "{table}" AS SELECT * FROM live."{table}"{condition}'
                    )
            con.execute("DETACH live")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with open(staging, "rb+") as handle:
            os.fsync(handle.fileno())
        snapshot = folder / name
        os.replace(staging, snapshot)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        with contextlib.suppress(FileNotFoundError):
            Path(str(staging) + ".wal").unlink()
    previous = current_snapshot(data_dir)
    pointer_tmp = folder / f".{POINTER}-{uuid.uuid4().hex[:8]}"
    with open(pointer_tmp, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, folder / POINTER)
    _fsync_dir(folder)
    keep = {name, previous.name if previous and keep_previous else ""}
    for old in folder.glob("snapshot-*.duckdb*"):
        if old.name.removesuffix(".wal") not in keep:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
    return snapshot


def republish_serving_snapshot(data_dir: Path) -> Path | None:
    """Publish afresh after the warehouse changed outside a run (purge, key rotation).

    Every older snapshot is removed. Nothing happens where no snapshot was ever published
    (no portal is served from this data directory yet).
    """
    folder = serving_dir(data_dir)
    if not folder.is_dir():
        return None
    return publish_serving_snapshot(data_dir, keep_previous=False)


class ServingSnapshot(ManagedDatabase):
    """The published snapshot, opened read-only; a newly published one is picked up between
    requests (the pointer is part of the stamp that every cached read checks)."""

    def __init__(self, data_dir: Path, *, idle_release_s: float = 5.0) -> None:
        self.data_dir = Path(data_dir)
        super().__init__(
            serving_dir(data_dir) / POINTER, read_only=True, idle_release_s=idle_release_s
        )

    @property  # type: ignore[override]
    def path(self) -> Path:
        snapshot = current_snapshot(self.data_dir)
        if snapshot is None:
            raise DataUnavailableError(
                f"no serving snapshot has been published in {serving_dir(self.data_dir)}: run "
                "the pipeline (safeguard run --data-dir ...); each run publishes what the "
                "portal shows"
            )
        return snapshot

    @path.setter
    def path(self, _: Path) -> None:  # set by ManagedDatabase.__init__; the pointer decides
        pass

    def exists(self) -> bool:
        snapshot = current_snapshot(self.data_dir)
        return snapshot is not None and snapshot.exists()

    def stamp(self) -> tuple[int, ...]:
        try:
            name = (serving_dir(self.data_dir) / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return (0,)
        return (hash(name),)
