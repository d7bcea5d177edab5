"""Crash-consistent writes across the warehouse, the identity vault and artefact files.

A step that writes several things (ingest: records to the warehouse, identities to the vault;
flags: scores, flags, explanations, caseloads and the case-pack files) must leave either all
of them or none of them changed, whatever stops it: a failed gate, an exception, SIGKILL, a
full disk. DuckDB makes one transaction atomic, but only in one file, and the vault is a
second file. So every write is staged first and published in a fixed order, with the
warehouse as the single commit point:

1. **stage**: each table is written under a staging name (``_staged_<batch>_<table>``) in its
   own file, and each artefact into ``DIR/.staging/<batch>/``; nothing a reader sees changes.
   A journal row (``_safeguard_staged``) in the same transaction names the batch.
2. **commit** (one warehouse transaction): the staged warehouse tables replace the live ones
   and a row is added to ``_safeguard_commits``. This is the only moment that decides.
3. **publish**: the vault's staged tables replace the live ones (one vault transaction), then
   the staged artefacts are renamed into place.

:func:`recover` runs before every staged write and at the start of every run. A batch that
reached step 2 is rolled forward (its vault tables and files are published); any other staged
batch is rolled back (dropped). So after a crash the next run repairs the data directory
itself. Between a crash after step 2 and that recovery, the vault still holds the previous
generation beside a new warehouse; readers that need both should treat a pending vault
publication (a row in the vault's ``_safeguard_staged``) as "being updated".

Nothing here imports dagster; :class:`safeguard.pipelines.resources.Warehouse` is the entry point.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import duckdb
import pandas as pd

from safeguard.contracts.layout import STAGING_DIR, VAULT_FILE, WAREHOUSE_FILE, DataDir

JOURNAL = "_safeguard_staged"
COMMITS = "_safeguard_commits"
STAGED_PREFIX = "_staged_"
INTERNAL_PREFIXES = (JOURNAL, COMMITS, STAGED_PREFIX)
MANIFEST = "MANIFEST.json"

_JOURNAL_DDL = (
    f"CREATE TABLE IF NOT EXISTS {JOURNAL} (batch_id VARCHAR, stage VARCHAR, "
    "table_name VARCHAR, staged_name VARCHAR, staged_at TIMESTAMP)"
)
_COMMITS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {COMMITS} (batch_id VARCHAR, stage VARCHAR, "
    "committed_at TIMESTAMP, warehouse_tables VARCHAR, vault_tables VARCHAR, artefacts VARCHAR)"
)

Connect = Callable[..., AbstractContextManager[duckdb.DuckDBPyConnection]]
#: ``fault(stage, phase, data_dir=...)``: the fault-injection hook (``safeguard.warehouse.faults``),
#: given by the Warehouse resource so that this module imports nothing of the pipeline's
FaultPoint = Callable[..., None]


def _no_fault(stage: str, phase: str, *, data_dir: Path) -> None:
    return None


def database_path(root: Path, *, vault: bool) -> Path:
    """The warehouse (or vault) file under ``root``; a missing vault is created owner-only."""
    path = root / (VAULT_FILE if vault else WAREHOUSE_FILE)
    if vault and not path.exists():
        # Create the vault file owner-only before DuckDB writes anything into it.
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.remove(path.with_suffix(".tmp"))
        con = duckdb.connect(str(path))
        con.close()
        os.chmod(path, 0o600)
    return path


@contextlib.contextmanager
def connect_database(
    root: Path, *, vault: bool = False, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse (or vault) under ``root``, closed on leaving."""
    path = database_path(root, vault=vault)
    con = duckdb.connect(str(path), read_only=read_only and path.exists())
    try:
        yield con
    finally:
        con.close()


class StorageRecoveryError(RuntimeError):
    """The data directory cannot be brought back to a consistent state automatically."""


def is_internal_table(name: str) -> bool:
    """Journal and staging tables: bookkeeping of this module, not assets."""
    return name.startswith(INTERNAL_PREFIXES)


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``path`` so that readers see the old content or the new, never a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # After a failed COMMIT (disk full) DuckDB may have ended the transaction already.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def _swap_in(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]]) -> None:
    for name, staged in pairs:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.execute(f'ALTER TABLE "{staged}" RENAME TO "{name}"')


@dataclass
class RecoveryReport:
    """What :func:`recover` did: batches rolled forward or back, as ``stage (batch)``."""

    rolled_forward: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rolled_forward or self.rolled_back)

    def describe(self) -> str:
        parts = []
        if self.rolled_forward:
            parts.append("completed interrupted writes: " + ", ".join(self.rolled_forward))
        if self.rolled_back:
            parts.append("discarded unfinished writes: " + ", ".join(self.rolled_back))
        return "; ".join(parts) or "nothing to recover"


class StagedWrite:
    """One stage's writes, staged now and published together on :meth:`commit`.

    Use through :meth:`safeguard.pipelines.resources.Warehouse.stage` as a context manager: leaving the
    block normally commits, an exception discards everything staged.
    """

    def __init__(
        self,
        stage: str,
        *,
        connect: Connect,
        root: Path,
        artefacts: Path,
        fault: FaultPoint = _no_fault,
    ) -> None:
        self.stage = stage
        self._fault = fault
        self.batch_id = uuid.uuid4().hex
        self._connect = connect
        self._root = root
        self._artefacts = artefacts
        self._tables: dict[bool, list[tuple[str, str]]] = {False: [], True: []}
        self._items: dict[str, str] = {}
        self._done = False

    @property
    def staging_dir(self) -> Path:
        return self._root / STAGING_DIR / self.batch_id

    def _staged_name(self, name: str) -> str:
        return f"{STAGED_PREFIX}{self.batch_id[:12]}_{name}"

    def write_table(self, name: str, df: pd.DataFrame, *, vault: bool = False) -> int:
        """Stage ``df`` as the next version of table ``name``; return the row count."""
        if self._done:
            raise RuntimeError(f"stage {self.stage} is already committed or discarded")
        staged = self._staged_name(name)
        with self._connect(vault=vault) as con:
            con.register("_incoming", df)
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(_JOURNAL_DDL)
                con.execute(f'CREATE OR REPLACE TABLE "{staged}" AS SELECT * FROM _incoming')
                con.execute(
                    f"DELETE FROM {JOURNAL} WHERE batch_id = ? AND table_name = ?",
                    [self.batch_id, name],
                )
                con.execute(
                    f"INSERT INTO {JOURNAL} VALUES (?, ?, ?, ?, now())",
                    [self.batch_id, self.stage, name, staged],
                )
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            finally:
                con.unregister("_incoming")
        pairs = self._tables[vault]
        if (name, staged) not in pairs:
            pairs.append((name, staged))
        self._fault(self.stage, "staged", data_dir=self._root)
        return len(df)

    def artefact_dir(self, *parts: str) -> Path:
        """An empty folder that replaces ``artefacts/<parts>`` as a whole on commit."""
        relative = Path(*parts)
        self._items[relative.as_posix()] = "dir"
        path = self.staging_dir / relative
        path.mkdir(parents=True, exist_ok=True)
        return path

    def artefact_file(self, *parts: str) -> Path:
        """Where to write a file that replaces ``artefacts/<parts>`` atomically on commit."""
        relative = Path(*parts)
        self._items[relative.as_posix()] = "file"
        path = self.staging_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self) -> None:
        """Swap everything staged into place (see the module docstring for the order)."""
        if self._done:
            return
        try:
            self._commit_warehouse()
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._fault(self.stage, "committed", data_dir=self._root)
        if self._tables[True]:
            _publish_vault(self._connect, self.batch_id)
        if self._items:
            _publish_artefacts(self.staging_dir, self._artefacts)

    def _commit_warehouse(self) -> None:
        """The commit point: swap the warehouse tables in and record the batch, atomically."""
        if self._items:
            manifest = {"batch_id": self.batch_id, "stage": self.stage, "items": self._items}
            atomic_write_text(self.staging_dir / MANIFEST, json.dumps(manifest))
        with self._connect(vault=False) as con:
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(_JOURNAL_DDL)
                con.execute(_COMMITS_DDL)
                _swap_in(con, self._tables[False])
                con.execute(f"DELETE FROM {JOURNAL} WHERE batch_id = ?", [self.batch_id])
                con.execute(
                    f"INSERT INTO {COMMITS} VALUES (?, ?, now(), ?, ?, ?)",
                    [
                        self.batch_id,
                        self.stage,
                        ",".join(n for n, _ in self._tables[False]),
                        ",".join(n for n, _ in self._tables[True]),
                        ",".join(sorted(self._items)),
                    ],
                )
                self._fault(self.stage, "committing", data_dir=self._root)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise

    def abort(self) -> None:
        """Discard what was staged (best effort: :func:`recover` finishes what this cannot)."""
        if self._done:
            return
        self._done = True
        for vault, pairs in self._tables.items():
            if not pairs:
                continue
            with contextlib.suppress(duckdb.Error, OSError), self._connect(vault=vault) as con:
                _drop_batches(con, {self.batch_id})
        shutil.rmtree(self.staging_dir, ignore_errors=True)

    def __enter__(self) -> StagedWrite:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def _drop_batches(con: duckdb.DuckDBPyConnection, batches: set[str]) -> None:
    """Drop the staged tables of ``batches`` and their journal rows (one transaction)."""
    if JOURNAL not in _tables(con):
        return
    rows = con.execute(
        f"SELECT staged_name FROM {JOURNAL} WHERE list_contains(?::VARCHAR[], batch_id)",
        [sorted(batches)],
    ).fetchall()
    try:
        con.execute("BEGIN TRANSACTION")
        for (staged,) in rows:
            con.execute(f'DROP TABLE IF EXISTS "{staged}"')
        con.execute(
            f"DELETE FROM {JOURNAL} WHERE list_contains(?::VARCHAR[], batch_id)", [sorted(batches)]
        )
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise


def _publish_vault(connect: Connect, batch_id: str) -> None:
    """Swap a committed batch's staged vault tables into place (one vault transaction)."""
    with connect(vault=True) as con:
        if JOURNAL not in _tables(con):
            return
        pairs = [
            (name, staged)
            for name, staged in con.execute(
                f"SELECT table_name, staged_name FROM {JOURNAL} WHERE batch_id = ?", [batch_id]
            ).fetchall()
        ]
        try:
            con.execute("BEGIN TRANSACTION")
            _swap_in(con, pairs)
            con.execute(f"DELETE FROM {JOURNAL} WHERE batch_id = ?", [batch_id])
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise


def _publish_artefacts(batch_dir: Path, artefacts: Path) -> None:
    """Rename a committed batch's staged artefacts into place; safe to repeat after a crash."""
    manifest = json.loads((batch_dir / MANIFEST).read_text(encoding="utf-8"))
    retired = batch_dir / ".retired"
    for relative, kind in manifest["items"].items():
        staged, target = batch_dir / relative, artefacts / relative
        if not staged.exists():
            continue  # published before the crash
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "dir" and target.exists():
            (retired / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, retired / relative)
        os.replace(staged, target)
    shutil.rmtree(batch_dir, ignore_errors=True)


def _pending_batches(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Batch id -> stage of everything staged in one file."""
    tables = _tables(con)
    pending: dict[str, str] = {}
    if JOURNAL in tables:
        pending = dict(con.execute(f"SELECT DISTINCT batch_id, stage FROM {JOURNAL}").fetchall())
    return pending


def _stray_staged_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Staging tables the journal does not name (cannot happen by design; dropped if found)."""
    tables = _tables(con)
    named: set[str] = set()
    if JOURNAL in tables:
        named = {r[0] for r in con.execute(f"SELECT staged_name FROM {JOURNAL}").fetchall()}
    return sorted(t for t in tables if t.startswith(STAGED_PREFIX) and t not in named)


def recover(
    *, connect: Connect, root: Path, warehouse_path: Path, vault_path: Path, artefacts: Path
) -> RecoveryReport:
    """Bring the data directory back to its last committed state (see the module docstring).

    Raises
    ------
    StorageRecoveryError
        When a database cannot be opened or repaired; the message names the file and what
        to do.
    """
    report = RecoveryReport()
    try:
        committed: set[str] = set()
        if warehouse_path.exists():
            with connect(vault=False) as con:
                pending = _pending_batches(con)  # never committed: the swap clears its rows
                stray = _stray_staged_tables(con)
                if pending:
                    _drop_batches(con, set(pending))
                    report.rolled_back += [f"{s} ({b[:8]})" for b, s in sorted(pending.items())]
                for table in stray:
                    con.execute(f'DROP TABLE IF EXISTS "{table}"')
                staging = _staging_batches(root)
                vault_pending: dict[str, str] = {}
                if vault_path.exists():
                    with connect(vault=True) as vcon:
                        vault_pending = _pending_batches(vcon)
                asked = sorted(set(staging) | set(vault_pending))
                if asked and COMMITS in _tables(con):
                    committed = {
                        r[0]
                        for r in con.execute(
                            f"SELECT batch_id FROM {COMMITS} "
                            "WHERE list_contains(?::VARCHAR[], batch_id)",
                            [asked],
                        ).fetchall()
                    }
        if vault_path.exists():
            with connect(vault=True) as con:
                pending = _pending_batches(con)
                for table in _stray_staged_tables(con):
                    con.execute(f'DROP TABLE IF EXISTS "{table}"')
            back = {b: s for b, s in pending.items() if b not in committed}
            if back:
                with connect(vault=True) as con:
                    _drop_batches(con, set(back))
                report.rolled_back += [f"{s} ({b[:8]})" for b, s in sorted(back.items())]
            for batch, stage in sorted(pending.items()):
                if batch in committed:
                    _publish_vault(connect, batch)
                    report.rolled_forward.append(f"{stage} ({batch[:8]})")
        for batch, batch_dir in sorted(_staging_batches(root).items()):
            stage = _manifest_stage(batch_dir)
            if batch in committed and stage is not None:
                _publish_artefacts(batch_dir, artefacts)
                entry = f"{stage} ({batch[:8]})"
                if entry not in report.rolled_forward:
                    report.rolled_forward.append(entry)
            else:
                shutil.rmtree(batch_dir, ignore_errors=True)
                report.rolled_back.append(f"{stage or 'unfinished files'} ({batch[:8]})")
    except (duckdb.Error, OSError, ValueError) as exc:
        if "no space left on device" in str(exc).lower():
            raise StorageRecoveryError(
                f"the disk holding {root} is full, so an interrupted write cannot be completed "
                "or discarded yet (nothing was changed). Free space and run again."
            ) from exc
        raise StorageRecoveryError(
            f"the data directory {root} holds an unfinished write that could not be completed "
            f"or discarded automatically ({type(exc).__name__}: {exc}). If the disk is full, "
            "free space and run again. Otherwise move warehouse.duckdb and vault.duckdb aside "
            "and run again: every drop is a full snapshot, so the next run rebuilds both "
            "(family_scores_history would need its months re-run)."
        ) from exc
    return report


def _staging_batches(root: Path) -> dict[str, Path]:
    base = root / STAGING_DIR
    if not base.is_dir():
        return {}
    return {p.name: p for p in base.iterdir() if p.is_dir()}


def _manifest_stage(batch_dir: Path) -> str | None:
    path = batch_dir / MANIFEST
    if not path.exists():
        return None  # the batch never reached its commit: its files are discarded
    return str(json.loads(path.read_text(encoding="utf-8"))["stage"])


def recover_data_dir(root: Path, connect: Connect | None = None) -> RecoveryReport:
    """:func:`recover` for the data directory ``root`` (plain: no Dagster resource, so the
    command line's admin path, ``safeguard purge``, never imports dagster)."""
    if connect is None:

        def connect(*, vault: bool = False, read_only: bool = False):
            return connect_database(root, vault=vault, read_only=read_only)

    return recover(
        connect=connect,
        root=root,
        warehouse_path=root / WAREHOUSE_FILE,
        vault_path=root / VAULT_FILE,
        artefacts=DataDir(root).artefacts,
    )
