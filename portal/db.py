"""Read-only DuckDB files of the portal (snapshot, vault): opened once, released when idle.

Opening a DuckDB file costs 15-30 ms here, far too much per page, so each file is opened once and
every request takes its own cursor (DuckDB's thread-safe way to share a database instance).
The warehouse is never opened (the portal reads the published snapshot, which nobody writes);
the vault is, and a reader blocks DuckDB's writer, so files are closed again after a few idle
seconds to leave the pipeline free to write it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb

T = TypeVar("T")
MEMO_LIMIT = 20_000


class DataUnavailableError(RuntimeError):
    """A database file the page needs is missing or locked by another process."""


class ManagedDatabase:
    """One DuckDB file, opened lazily and shared by all requests of this process.

    Parameters
    ----------
    path
        The database file.
    read_only
        Open read-only (warehouse, vault). The portal's own file is opened read-write.
    idle_release_s
        Close the file after this many seconds without a cursor in use.
    """

    def __init__(self, path: Path, *, read_only: bool, idle_release_s: float = 5.0) -> None:
        self.path = path
        self.read_only = read_only
        self.idle_release_s = idle_release_s
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._in_use = 0
        self._last_used = time.monotonic()
        self._opened_stamp: tuple[int, ...] = ()

    def exists(self) -> bool:
        return self.path.exists()

    def stamp(self) -> tuple[int, ...]:
        """Identity and version of the file and its WAL: changes whenever anyone commits."""
        parts: list[int] = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                stat = path.stat()
                parts += [stat.st_ino, stat.st_mtime_ns, stat.st_size]
            except FileNotFoundError:
                parts += [0, 0, 0]
        return tuple(parts)

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.read_only and not self.path.exists():
            raise DataUnavailableError(
                f"{self.path.name} does not exist in {self.path.parent}: run the pipeline "
                "(safeguard run --data-dir ...) before starting the portal"
            )
        last_error: duckdb.Error | None = None
        # Another process (the pipeline, or `safeguard users add`) may hold the lock briefly.
        for attempt in range(8):
            try:
                return duckdb.connect(str(self.path), read_only=self.read_only)
            except duckdb.IOException as exc:
                last_error = exc
                time.sleep(0.05 * (attempt + 1))
        raise DataUnavailableError(
            f"{self.path} is locked by another process (is the pipeline writing it?): {last_error}"
        )

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Yield a cursor for one unit of work; the caller must fully fetch every result."""
        with self._lock:
            # A read-only file the pipeline replaced since we opened it: read the new one.
            stale = self.read_only and self._in_use == 0 and self.stamp() != self._opened_stamp
            if self._con is not None and stale:
                self._con.close()
                self._con = None
            if self._con is None:
                self._opened_stamp = self.stamp()
                self._con = self._open()
            self._in_use += 1
            cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()
            with self._lock:
                self._in_use -= 1
                self._last_used = time.monotonic()

    reader = cursor

    def release_if_idle(self) -> bool:
        """Close the file if no cursor is in use and it has been idle long enough."""
        with self._lock:
            idle = time.monotonic() - self._last_used >= self.idle_release_s
            if self._con is not None and self._in_use == 0 and idle:
                self._con.close()
                self._con = None
                return True
        return False

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


class Memo:
    """Query results kept in memory until the database changes.

    Pages ask for the same flags, reasons and accounts again and again, and each query costs
    about a millisecond; the database's stamp (a file's :meth:`ManagedDatabase.stamp`, the
    portal database's revision counter) says when a commit, by this process or another, makes
    the kept results stale.
    """

    def __init__(self, database: Any) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None
        self._values: dict[Hashable, Any] = {}

    def get(self, key: Hashable, load: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        stamp = self._database.stamp()
        with self._lock:
            if stamp != self._stamp or len(self._values) > MEMO_LIMIT:
                self._values, self._stamp = {}, stamp
            if key in self._values:
                return self._values[key]  # type: ignore[no-any-return]
        with self._database.reader() as cur:
            value = load(cur)
        with self._lock:
            if self._stamp == stamp:
                self._values[key] = value
        return value
